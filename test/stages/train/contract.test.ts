/**
 * The train stage's `with` against the trainer it feeds: every option key (the adapter's
 * included) is a key trainer/config.py knows, so a key the stage accepts never fails in the
 * trainer as unknown; and the adapter's own rules.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { z } from 'zod';
import { PROJECT_ROOT, trainerVenvPython } from '../../../common/paths';
import { adapterSchema, trainWithSchema } from '../../../stages/train/contract';

/** The camelCase keys of TrainConfig and of Adapter, as the trainer itself spells them. */
function trainerKeys(): { config: string[]; adapter: string[] } {
  const script = [
    'import dataclasses, json',
    'from trainer.config import Adapter, TrainConfig, snake_to_camel',
    'keys = lambda c: [snake_to_camel(f.name) for f in dataclasses.fields(c)]',
    'print(json.dumps({"config": keys(TrainConfig), "adapter": keys(Adapter)}))',
  ].join('\n');
  const out = execFileSync(trainerVenvPython(), ['-c', script], { cwd: PROJECT_ROOT, encoding: 'utf8' });
  return z.object({ config: z.array(z.string()), adapter: z.array(z.string()) }).parse(JSON.parse(out));
}

/** Keys the stage turns into something else before the trainer sees them (implementation.ts trainerConfig). */
const STAGE_KEYS = new Set(['dataset', 'validation', 'hardNegatives']);

describe('the train stage contract', () => {
  test('every option is a trainer config key, and every adapter option an adapter key', () => {
    const known = trainerKeys();
    for (const key of Object.keys(trainWithSchema.shape).filter((k) => !STAGE_KEYS.has(k)))
      assert.ok(known.config.includes(key), `trainer/config.py has no key ${key}`);
    for (const key of Object.keys(adapterSchema.shape))
      assert.ok(known.adapter.includes(key), `trainer/config.py Adapter has no key ${key}`);
  });

  for (const [adapter, ok] of [
    [{ type: 'lora' }, true],
    [{ type: 'lora', r: 8, alpha: 16, dropout: 0.1, targetModules: ['query', 'value'] }, true],
    [{ r: 8 }, false],
    [{ type: 'prefix' }, false],
    [{ type: 'lora', r: 0 }, false],
    [{ type: 'lora', dropout: 1 }, false],
    [{ type: 'lora', targetModules: [] }, false],
    [{ type: 'lora', rank: 8 }, false],
  ] as const)
    test(`adapter ${JSON.stringify(adapter)} is ${ok ? 'accepted' : 'refused'}`, () => {
      assert.equal(adapterSchema.safeParse(adapter).success, ok);
    });
});
