/**
 * Bad `audit` stage input is refused when the pipeline is validated, at the key, with a message
 * that says what to do: a template without `<group>`, an empty pair list, a pair of equal terms,
 * gate.model that is not a model, and the combinations of keys that cannot work together.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { auditWithSchema, gatedModel } from '../../../stages/audit/contract';
import { formatProblem } from '../../../pipeline/errors';
import { validatePipelineText } from '../../../pipeline/validate';

/** A pipeline whose audit stage has `withBlock` (YAML lines, indented 6) after its models. */
function pipeline(withBlock: string, models = 'baseline: "${{ stages.model.outputs.dataset }}"'): string {
  return `name: audit-check
stages:
  - { id: model, uses: download, with: { url: "file:///tmp/classifier.json" } }
  - id: audit
    uses: audit
    needs: [model]
    with:
      models: { ${models} }
${withBlock}
`;
}

function problems(withBlock: string, models?: string): string[] {
  const result = validatePipelineText(pipeline(withBlock, models), 'p.yaml');
  return result.ok ? [] : result.problems.map(formatProblem);
}

describe('the audit stage’s with block', () => {
  test('accepts templates with <group>, groups, a gate and the inference options, filling in the defaults', () => {
    const result = validatePipelineText(
      pipeline(`      templates: ["<group>은/는 성실하다."]
      groups: { gender: [[남학생, 여학생], [아들, 딸]] }
      gate: { maxAbsReactivity: 0.07, maxFlipRate: 0.05 }
      inference: { batchSize: 32 }`),
      'p.yaml',
    );
    assert.ok(result.ok, result.ok ? '' : result.problems.map(formatProblem).join('\n'));
  });

  const bad: [string, string, string | undefined, RegExp][] = [
    [
      'a template without <group>',
      '      templates: ["남학생은 성실하다."]',
      undefined,
      /^p\.yaml:9:\d+: .*a template needs the <group> placeholder/,
    ],
    [
      'an empty pair list',
      '      templates: ["<group>"]\n      groups: { gender: [] }',
      undefined,
      /^p\.yaml:10:\d+: .*a group needs at least one \[a, b\] pair/,
    ],
    [
      'no group at all',
      '      templates: ["<group>"]\n      groups: {}',
      undefined,
      /^p\.yaml:10:\d+: .*name at least one group/,
    ],
    [
      'a pair naming one term twice',
      '      templates: ["<group>"]\n      groups: { gender: [[남자, 남자]] }',
      undefined,
      /^p\.yaml:10:\d+: .*the two terms of a pair must differ/,
    ],
    [
      'a pair of one term',
      '      templates: ["<group>"]\n      groups: { gender: [[남자]] }',
      undefined,
      /^p\.yaml:10:\d+: /,
    ],
    [
      'gate.model that is not a model',
      '      templates: ["<group>"]\n      gate: { model: debiased }',
      undefined,
      /^p\.yaml:10:\d+: .*gate\.model "debiased" is not among models \(baseline\)/,
    ],
    [
      'several models without gate.model',
      '      templates: ["<group>"]',
      'baseline: "${{ stages.model.outputs.dataset }}", debiased: "${{ stages.model.outputs.dataset }}"',
      /several models are audited: name the one the gate judges \(one of baseline, debiased\)/,
    ],
    [
      'neither templates nor insert',
      '      groups: { gender: [[남자, 여자]] }',
      undefined,
      /give `templates` .* or `insert`/,
    ],
    [
      'both templates and insert',
      '      templates: ["<group>"]\n      insert: { position: prefix }\n      dataset: "${{ stages.model.outputs.dataset }}"',
      undefined,
      /^p\.yaml:10:\d+: .*not both/,
    ],
    [
      'insert without a dataset',
      '      insert: { position: prefix }',
      undefined,
      /`insert` joins identity terms to test sentences: give `dataset`/,
    ],
    [
      'groups and groupsFile together',
      '      templates: ["<group>"]\n      groups: { g: [[a, b]] }\n      groupsFile: ./groups.yaml',
      undefined,
      /give `groups` or `groupsFile`, not both/,
    ],
    [
      'gate.maxF1Drop without an evaluation',
      '      templates: ["<group>"]\n      gate: { maxF1Drop: 0.02, reference: other }',
      undefined,
      /gate\.maxF1Drop compares F1 figures: give `evaluation`/,
    ],
    [
      'gate.maxF1Drop without a reference',
      '      templates: ["<group>"]\n      evaluation: "${{ stages.model.outputs.dataset }}"\n      gate: { maxF1Drop: 0.02 }',
      undefined,
      /gate\.maxF1Drop needs gate\.reference/,
    ],
    [
      'a reference that is the gated model',
      '      templates: ["<group>"]\n      evaluation: "${{ stages.model.outputs.dataset }}"\n      gate: { maxF1Drop: 0.02, reference: baseline }',
      undefined,
      /gate\.reference must be another model than the one the gate judges/,
    ],
    [
      'an unknown aggregate',
      '      templates: ["<group>"]\n      gate: { aggregate: median }',
      undefined,
      /^p\.yaml:10:\d+: /,
    ],
  ];
  for (const [what, block, models, expected] of bad) {
    test(`refuses ${what}`, () => {
      const found = problems(block, models);
      assert.ok(
        found.some((p) => expected.test(p)),
        `no problem matches ${expected}:\n${found.join('\n')}`,
      );
    });
  }

  test('a groupsFile path is made absolute relative to the pipeline file', () => {
    const result = validatePipelineText(
      pipeline('      templates: ["<group>"]\n      groupsFile: ./groups.yaml'),
      '/work/pipelines/p.yaml',
    );
    assert.ok(result.ok);
    const stage = result.spec.stages.find((s) => s.id === 'audit');
    assert.equal(stage?.with.groupsFile, 'file:///work/pipelines/groups.yaml');
  });

  test('the gated model is gate.model, or the only model', () => {
    const ref = { uri: 'file:///x', sha256: '0'.repeat(64), bytes: 1, kind: 'classifier' };
    assert.equal(gatedModel(auditWithSchema.parse({ models: { only: ref }, templates: ['<group>'] })), 'only');
    assert.equal(
      gatedModel(auditWithSchema.parse({ models: { a: ref, b: ref }, templates: ['<group>'], gate: { model: 'b' } })),
      'b',
    );
  });
});
