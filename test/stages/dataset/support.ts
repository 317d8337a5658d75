/** The dataset stage called directly (no Temporal), the way runStage calls it, for the tests of this folder. */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { StageContext } from '../../../activities/stages/context';
import type { Json } from '../../../pipeline/run-spec';
import { dataset } from '../../../stages/dataset/implementation';
import { FsArtifactStore } from '../../../store/fs-store';
import { loadConfig } from '../../../temporal.config';
import { tempDir, TEST_READ_ROOTS } from '../../helpers';

/**
 * A temp folder with a store and the tests' read roots; `run` calls the stage with a fresh
 * scratch folder each time, as each attempt gets one.
 */
export async function directDatasetStage(prefix = 'fairline-dataset-stage-'): Promise<{
  dir: string;
  store: FsArtifactStore;
  run: (input: Parameters<typeof dataset>[0]) => Promise<Record<string, Json>>;
}> {
  const dir = await tempDir(prefix);
  const store = new FsArtifactStore(join(dir, 'store'));
  const config = loadConfig(
    { store: { uri: pathToFileURL(join(dir, 'store')).href }, readRoots: [...TEST_READ_ROOTS] },
    {},
  );
  let attempt = 0;
  const run = async (input: Parameters<typeof dataset>[0]): Promise<Record<string, Json>> => {
    const scratchDir = join(dir, `scratch-${attempt++}`);
    await mkdir(scratchDir);
    const context: StageContext = {
      stageId: 'data',
      store,
      config,
      log: { info() {}, warn() {} },
      heartbeat() {},
      signal: new AbortController().signal,
      scratchDir,
    };
    return dataset(input, context);
  };
  return { dir, store, run };
}
