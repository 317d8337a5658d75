import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { sweepScratch } from '../../activities';
import { tempDir } from '../helpers';

test('scratch folders of dead workers are swept; those of live workers and unowned ones stay', async () => {
  const root = await tempDir('fairline-scratch-');
  // A pid that surely belonged to a process that has exited: a child we ran to its end.
  const dead = spawnSync('true').pid;
  const owned = async (name: string, pid: number | undefined): Promise<void> => {
    await mkdir(join(root, name, 'output'), { recursive: true });
    await writeFile(join(root, name, 'output', 'metrics.jsonl'), '{}\n');
    if (pid !== undefined) await writeFile(join(root, name, '.fairline-owner'), String(pid));
  };
  await owned('model-killed', dead);
  await owned('model-running', process.pid);
  await owned('data-unowned', undefined);
  const removed = await sweepScratch(root);
  assert.deepEqual(removed, [join(root, 'model-killed')]);
  assert.deepEqual((await readdir(root)).sort(), ['data-unowned', 'model-running']);
});
