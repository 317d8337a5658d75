import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, test } from 'node:test';
import { z } from 'zod';
import { createActivities } from '../../../activities';
import { PROJECT_ROOT } from '../../../common/paths';
import { BUILTIN_MODEL_NAMES } from '../../../models/names';
import { classifyModel } from '../../../pipeline/model-ref';
import { STAGE_TYPES } from '../../../stages';
import { validatePipelineText } from '../../../pipeline/validate';
import { FsArtifactStore } from '../../../store/fs-store';
import type { ArtifactRef } from '../../../store/types';
import { loadConfig } from '../../../temporal.config';
import { tempDir } from '../../helpers';

const dataset: ArtifactRef = { uri: 'file:///nowhere/train.jsonl', sha256: 'a'.repeat(64), bytes: 10, kind: 'dataset' };

async function activities() {
  const dir = await tempDir('fairline-model-key-');
  const config = loadConfig({ store: { uri: pathToFileURL(join(dir, 'store')).href } }, {});
  return createActivities({ store: new FsArtifactStore(join(dir, 'store')), config, log: { info() {}, warn() {} } });
}

/** The train stage's cache key for a `with` naming `model`, computed by the real activity. */
async function keyFor(acts: Awaited<ReturnType<typeof activities>>, model: string | ArtifactRef): Promise<string> {
  const result = await acts.cacheLookup({
    stage: { id: 'train', uses: 'train', version: STAGE_TYPES.train!.version, with: { dataset, model, epochs: 1 } },
  });
  return result.key;
}

describe('the train stage’s cache key sees the model’s weights', () => {
  test('new weights in the same local folder change the key; the old bytes bring the old key back', async () => {
    const acts = await activities();
    const folder = join(await tempDir('fairline-model-'), 'encoder');
    await mkdir(folder);
    await writeFile(join(folder, 'config.json'), '{"model_type": "bert"}');
    await writeFile(join(folder, 'model.safetensors'), Buffer.alloc(4096, 1));
    const before = await keyFor(acts, folder);
    assert.equal(await keyFor(acts, folder), before, 'the same weights give the same key');

    await writeFile(join(folder, 'model.safetensors'), Buffer.alloc(4096, 2)); // same size, new bytes
    const after = await keyFor(acts, folder);
    assert.notEqual(after, before, 'new weights at the same path must not hit the old entry');

    await writeFile(join(folder, 'tokenizer.json'), '{}');
    assert.notEqual(await keyFor(acts, folder), after, 'an added file changes the key too');

    await writeFile(join(folder, 'model.safetensors'), Buffer.alloc(4096, 1));
    await rm(join(folder, 'tokenizer.json'));
    assert.equal(await keyFor(acts, folder), before, 'the key follows the content, not the file times');
    assert.equal(await keyFor(acts, pathToFileURL(folder).href), await keyFor(acts, pathToFileURL(folder).href));
  });

  test('a model artifact keys on its digest, a built-in name on its converter and pins', async () => {
    const acts = await activities();
    const a: ArtifactRef = {
      uri: 'file:///store/objects/x/hf-model.json',
      sha256: 'b'.repeat(64),
      bytes: 100,
      kind: 'hf-model',
    };
    const b: ArtifactRef = { ...a, sha256: 'c'.repeat(64) };
    assert.notEqual(await keyFor(acts, a), await keyFor(acts, b));
    assert.equal(
      await keyFor(acts, a),
      await keyFor(acts, { ...a, uri: 'file:///elsewhere/hf-model.json' }),
      'the same bytes elsewhere hit',
    );
    const e5 = await keyFor(acts, 'multilingual-e5-small');
    assert.equal(await keyFor(acts, 'multilingual-e5-small'), e5);
    assert.notEqual(await keyFor(acts, 'all-minilm-l6-v2'), e5);
  });

  test('a hub id is never served from the cache (its weights can move unseen); every other kind may be', () => {
    const cacheable = STAGE_TYPES.train!.cacheable!;
    const cases: [string | ArtifactRef | undefined, boolean][] = [
      ['klue/roberta-base', false],
      ['scratch', true],
      [undefined, true],
      ['multilingual-e5-small', true],
      ['/models/encoder', true],
      ['file:///models/encoder', true],
      ['s3://bucket/models/encoder/', true],
      [dataset, true],
    ];
    for (const [model, expected] of cases)
      assert.equal(cacheable(model === undefined ? { dataset } : { dataset, model }), expected, String(model));
  });
});

describe('model references', () => {
  test('each kind is told apart by its form', () => {
    const cases: [string | undefined, string][] = [
      [undefined, 'scratch'],
      ['scratch', 'scratch'],
      ['multilingual-e5-small', 'builtin'],
      ['all-minilm-l6-v2', 'builtin'],
      ['/abs/folder', 'folder'],
      ['file:///abs/folder%20x', 'folder'],
      ['s3://bucket/prefix/', 's3'],
      ['intfloat/multilingual-e5-small', 'hub'],
      ['bert-base-uncased', 'hub'],
    ];
    for (const [model, kind] of cases) assert.equal(classifyModel(model).kind, kind, String(model));
    assert.deepEqual(classifyModel('file:///abs/folder%20x'), { kind: 'folder', path: '/abs/folder x' });
  });

  test('the built-in names are the converter’s (trainer/pretrained.json)', () => {
    const pins = z
      .object({ models: z.record(z.string(), z.unknown()) })
      .parse(JSON.parse(readFileSync(join(PROJECT_ROOT, 'trainer', 'pretrained.json'), 'utf8')));
    assert.deepEqual([...BUILTIN_MODEL_NAMES].sort(), Object.keys(pins.models).sort());
  });

  test('a relative model folder in a pipeline becomes an absolute file:// URL', () => {
    const yaml = `
name: relative-model
stages:
  - id: train
    uses: train
    with: { dataset: { uri: "${dataset.uri}", sha256: "${dataset.sha256}", bytes: 10, kind: dataset }, model: ./encoders/mine }
`;
    const result = validatePipelineText(yaml, join(PROJECT_ROOT, 'pipelines', 'x.yaml'), { set: [] });
    assert.ok(result.ok, result.ok ? '' : JSON.stringify(result.problems));
    assert.equal(
      result.spec.stages[0]!.with.model,
      pathToFileURL(join(PROJECT_ROOT, 'pipelines', 'encoders', 'mine')).href,
    );
  });
});
