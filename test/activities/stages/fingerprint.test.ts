import assert from 'node:assert/strict';
import { appendFileSync, cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BUILTIN_STAGE_CODE, builtinStages } from '../../../stages/implementations';
import { codeFingerprints, fingerprintOf, sourcesOf, type StageCode } from '../../../activities/stages/fingerprint';
import { PROJECT_ROOT } from '../../../common/paths';

const code = (stage: string): StageCode => BUILTIN_STAGE_CODE[stage]!.code;
/** A stage's code fingerprint computed afresh (no per-process memo), in the tree at `root`. */
const fresh = (stage: string, root: string): string => fingerprintOf(sourcesOf(code(stage), root), root);

describe('stage code fingerprints', () => {
  test('each stage names the module that exports its implementation', async () => {
    for (const [name, stage] of Object.entries(BUILTIN_STAGE_CODE)) {
      const module: Record<string, unknown> = await import(join(PROJECT_ROOT, stage.code.entry));
      assert.ok(
        Object.values(module).includes(stage.implementation),
        `${name}: ${stage.code.entry} does not export its implementation`,
      );
    }
  });

  // The files the old hand-kept lists left out: editing any of them served stale cached results.
  const reached: [stage: string, file: string][] = [
    ['audit', 'report/schema.ts'],
    ['audit', 'activities/stages/files.ts'],
    ['audit', 'pipeline/classifier.ts'],
    ['audit', 'pipeline/inference.ts'],
    ['audit', 'audit/default-groups.json'],
    // Reached only through activities/stages/classifier.ts (loadClassifier) and the engine.
    ['evaluate', 'store/materialize.ts'],
    ['evaluate', 'pipeline/classifier.ts'],
    ['dataset', 'stages/dataset/csv.ts'],
    ['ner-mask', 'trainer/morph.py'],
    ['ner-mask', 'trainer/lifeline.py'],
    ['ner-mask', 'trainer/requirements.txt'],
    ['train', 'trainer/losses.py'],
    ['train', 'trainer/requirements.txt'],
  ];
  for (const [stage, file] of reached) {
    test(`the ${stage} stage's fingerprint covers ${file}`, () => {
      assert.ok(sourcesOf(code(stage)).includes(file));
    });
  }

  test('a stage does not depend on files it never imports, nor on the trainer tests or node_modules', () => {
    const report = sourcesOf(code('report'));
    for (const file of ['inference/engine.ts', 'trainer/train.py', 'stages/train/implementation.ts'])
      assert.ok(!report.includes(file), file);
    assert.ok(!sourcesOf(code('train')).some((f) => f.startsWith('trainer/tests/') || f.includes('node_modules')));
    assert.ok(!sourcesOf(code('ner-mask')).includes('trainer/train.py'), 'the analyzer does not run the trainer');
  });

  test('the worker’s registry carries exactly the fingerprint of each stage’s sources', () => {
    const stages = builtinStages();
    for (const name of Object.keys(BUILTIN_STAGE_CODE))
      assert.equal(stages[name]!.fingerprint, fresh(name, PROJECT_ROOT), name);
  });
});

describe('stage code fingerprints in a copy of the tree being edited', () => {
  let root: string;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'fairline-fingerprint-'));
    for (const entry of [
      'activities',
      'stages',
      'audit',
      'common',
      'eval',
      'inference',
      'infra',
      'mining',
      'models',
      'pipeline',
      'report',
      'store',
      'trainer',
      'temporal.config.ts',
      'tsconfig.json',
      'package.json',
    ]) {
      cpSync(join(PROJECT_ROOT, entry), join(root, entry), {
        recursive: true,
        filter: (src) => !src.includes('__pycache__') && !src.endsWith('/trainer/tests'),
      });
    }
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  test('the same files give the same fingerprint wherever the tree lies', () => {
    assert.equal(fresh('audit', root), fresh('audit', PROJECT_ROOT));
  });

  test('a new import in a helper the audit uses only indirectly changes its key, and so does every later edit of the imported file', () => {
    const before = { audit: fresh('audit', root), evaluate: fresh('evaluate', root), report: fresh('report', root) };
    // inference/onnx-model.ts is reached only through inference/engine.ts.
    writeFileSync(
      join(root, 'common', 'clamp.ts'),
      'export const clamp = (x: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, x));\n',
    );
    appendFileSync(
      join(root, 'inference', 'onnx-model.ts'),
      "\nimport { clamp } from '../common/clamp';\nexport const clampScore = (x: number): number => clamp(x, 0, 1);\n",
    );
    const edited = { audit: fresh('audit', root), evaluate: fresh('evaluate', root), report: fresh('report', root) };
    assert.ok(sourcesOf(code('audit'), root).includes('common/clamp.ts'));
    assert.notEqual(edited.audit, before.audit);
    assert.notEqual(edited.evaluate, before.evaluate);
    assert.equal(edited.report, before.report, 'the report stage does not run inference');

    appendFileSync(join(root, 'common', 'clamp.ts'), 'export const EPSILON = 1e-9;\n');
    assert.notEqual(fresh('audit', root), edited.audit);
  });

  test('a new import in a Python module the analyzer runs is followed', () => {
    writeFileSync(join(root, 'trainer', 'signals.py'), 'TERM = 15\n');
    appendFileSync(join(root, 'trainer', 'lifeline.py'), '\nfrom .signals import TERM\n');
    assert.ok(sourcesOf(code('ner-mask'), root).includes('trainer/signals.py'));
  });

  test('a process computes each fingerprint once: later edits reach a fresh worker, not a running one', () => {
    const first = codeFingerprints({ report: code('report') }, root).report;
    appendFileSync(join(root, 'report', 'svg.ts'), '\n// edited\n');
    assert.equal(codeFingerprints({ report: code('report') }, root).report, first);
    assert.notEqual(fresh('report', root), first);
  });
});
