import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { report } from '../../../stages/report/implementation';
import { StageInputInvalid } from '../../../common/errors';
import { PROJECT_ROOT } from '../../../common/paths';
import { reportSchema, type Report } from '../../../report/schema';
import { artifactRefSchema, type ArtifactRef } from '../../../store/types';
import { directContext, type DirectContext } from '../../classifier';

/** The findings of a finished run, taken apart from the report fixture into the three stage artifacts. */
describe('the report stage', () => {
  let direct: DirectContext;
  let fixture: Report;
  let inputs: { evaluation: ArtifactRef; audit: ArtifactRef; hardNegatives: ArtifactRef };
  const run = {
    pipeline: 'kold-debias',
    runId: 'r-7',
    workflowId: 'pipeline/kold-debias/r-7',
    specDigest: 'ab'.repeat(32),
    trigger: 'schedule',
    params: { epochs: 3 },
    gitCommit: 'c0ffee',
  };

  before(async () => {
    direct = await directContext('report');
    fixture = reportSchema.parse(
      JSON.parse(await readFile(join(PROJECT_ROOT, 'test', 'fixtures', 'report', 'report.json'), 'utf8')),
    );
    const put = (value: unknown, name: string): Promise<ArtifactRef> =>
      direct.store.put({ bytes: JSON.stringify(value) }, { kind: 'json', name });
    inputs = {
      evaluation: await put(fixture.evaluation, 'evaluation.json'),
      audit: await put({ gated_model: 'debiased', audits: fixture.audits }, 'audit.json'),
      hardNegatives: await put(fixture.hard_negatives, 'summary.json'),
    };
  });

  test('gathers evaluation, audits and hard negatives into report.json with the run’s provenance, and renders report.html', async () => {
    const outputs = await report(inputs, { ...direct.context, run });
    const written = reportSchema.parse(
      JSON.parse((await direct.store.read(artifactRefSchema.parse(outputs.report))).toString()),
    );
    assert.deepEqual(written.evaluation, fixture.evaluation);
    assert.deepEqual(written.audits, fixture.audits);
    assert.deepEqual(written.hard_negatives, fixture.hard_negatives);
    assert.equal(written.provenance.run_id, 'r-7');
    assert.equal(written.provenance.workflow_id, 'pipeline/kold-debias/r-7');
    assert.equal(written.provenance.git_commit, 'c0ffee');
    assert.equal(written.provenance.trigger, 'schedule');
    assert.equal(written.provenance.dataset_digest, fixture.evaluation!.dataset_digest);
    assert.deepEqual(written.provenance.params, { epochs: 3 });
    const debiased = fixture.evaluation!.models.find((m) => m.name === 'debiased')!;
    const audited = fixture.audits.find((a) => a.name === 'debiased')!;
    assert.equal(written.provenance.model_digests.debiased, debiased.model_digest);
    assert.deepEqual(written.headline, {
      model: 'debiased',
      macro_f1: debiased.metrics.macro_f1,
      micro_f1: debiased.metrics.micro_f1,
      reactivity: audited.max_abs_reactivity,
      gate_passed: audited.gate.passed,
    });
    const html = (await direct.store.read(artifactRefSchema.parse(outputs.html))).toString();
    assert.match(html, /^<!DOCTYPE html>/i);
    assert.ok(html.includes('r-7') && html.includes(debiased.metrics.macro_f1.toFixed(4)));
  });

  test('each run writes its own report: the same findings from another run name that run', async () => {
    const a = await report(inputs, { ...direct.context, run });
    const b = await report(inputs, {
      ...direct.context,
      run: { ...run, runId: 'r-8', workflowId: 'pipeline/kold-debias/r-8' },
    });
    assert.notEqual(artifactRefSchema.parse(a.report).sha256, artifactRefSchema.parse(b.report).sha256);
  });

  test('an input that is not what its key says is refused, naming the key', async () => {
    await assert.rejects(report({ evaluation: inputs.audit }, direct.context), (error: unknown) => {
      assert.ok(error instanceof StageInputInvalid);
      assert.equal(error.retryable, false);
      assert.match(error.message, /evaluation \(file:.*\) is not an evaluate stage's evaluation\.json/);
      return true;
    });
    await assert.rejects(report({}, direct.context), /give at least one of evaluation, audit, hardNegatives/);
  });
});
