import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { scratchName, sweepScratch } from '../../activities';
import { tempDir } from '../helpers';

test('scratch folders of dead workers are swept; those of live workers and unowned ones stay', async () => {
  const root = await tempDir('fairline-scratch-');
  // A pid that surely belonged to a process that has exited: a child we ran to its end.
  const dead = spawnSync('true').pid;
  const folder = async (name: string, ownerFile?: number): Promise<string> => {
    await mkdir(join(root, name, 'output'), { recursive: true });
    await writeFile(join(root, name, 'output', 'metrics.jsonl'), '{}\n');
    if (ownerFile !== undefined) await writeFile(join(root, name, '.fairline-owner'), String(ownerFile));
    return name;
  };
  // Owners named by the folder (how runStage makes them) and by an owner file (folders made before).
  const killedByName = await folder(scratchName('model', dead));
  const runningByName = await folder(scratchName('model', process.pid));
  const killedByFile = await folder('model-killed', dead);
  const runningByFile = await folder('model-running', process.pid);
  const unowned = await folder('data-unowned');
  const removed = await sweepScratch(root);
  assert.deepEqual(removed.sort(), [join(root, killedByName), join(root, killedByFile)].sort());
  assert.deepEqual((await readdir(root)).sort(), [runningByName, runningByFile, unowned].sort());
});

test('a scratch folder is named after its stage and ends with its worker’s pid', () => {
  assert.match(scratchName('model', 4321), /^model-[0-9a-f-]{36}-pid4321$/);
  assert.notEqual(scratchName('model'), scratchName('model'));
});
