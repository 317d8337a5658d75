/**
 * The `report` stage: gathers the run's findings into report.json (report/schema.ts: every
 * number) and renders report.html (report/html.ts: self-contained, inline SVG, no fetches).
 * Provenance comes from the run itself (pipeline, run id, git commit, spec digest, trigger), so
 * the stage never serves a cached report: each run gets its own. It always runs, even after a
 * failed bias gate, whose audit is exactly what the report must show.
 */
import { reportContract } from './contract';
import { renderReportHtml } from '../../report/html';
import { auditFileSchema, evaluationSchema, miningSummarySchema, reportSchema, type Report } from '../../report/schema';
import { defineStage } from '../../activities/stages/define';
import { readInputJson } from '../../activities/stages/input-json';
import { embeddingEvaluationSchema } from '../../report/embedding';

export const report = defineStage(reportContract, async (spec, context) => {
  const evaluation = spec.evaluation
    ? await readInputJson(
        spec.evaluation,
        evaluationSchema,
        'evaluation',
        "an evaluate stage's evaluation.json",
        context,
      )
    : null;
  const audit = spec.audit
    ? await readInputJson(spec.audit, auditFileSchema, 'audit', "an audit stage's audit.json", context)
    : null;
  const hardNegatives = spec.hardNegatives
    ? await readInputJson(
        spec.hardNegatives,
        miningSummarySchema,
        'hardNegatives',
        "a mine-hard-negatives stage's summary",
        context,
      )
    : null;

  const embedding = spec.embedding
    ? await readInputJson(
        spec.embedding,
        embeddingEvaluationSchema,
        'embedding',
        "an evaluate-embedding stage's evaluation",
        context,
      )
    : null;

  const run = context.run;
  const modelDigests: Record<string, string> = {};
  const seeds: Record<string, number> = {};
  for (const m of evaluation?.models ?? []) {
    modelDigests[m.name] = m.model_digest;
    if (m.seed !== undefined) seeds[m.name] = m.seed;
  }
  for (const a of audit?.audits ?? []) modelDigests[a.name] ??= a.model_digest;

  // The headline is the model the gate judged, else the last one evaluated: the run's candidate.
  const headlineModel = audit?.gated_model ?? evaluation?.models[evaluation.models.length - 1]?.name ?? null;
  const evaluated = evaluation?.models.find((m) => m.name === headlineModel);
  const audited = audit?.audits.find((a) => a.name === headlineModel);

  const body: Report = reportSchema.parse({
    version: 1,
    provenance: {
      pipeline: run?.pipeline ?? 'unknown',
      run_id: run?.runId ?? 'unknown',
      workflow_id: run?.workflowId ?? 'unknown',
      git_commit: run?.gitCommit ?? null,
      spec_digest: run?.specDigest ?? 'unknown',
      trigger: run?.trigger ?? 'unknown',
      created_at: new Date().toISOString(),
      dataset_digest: evaluation?.dataset_digest ?? null,
      model_digests: modelDigests,
      seeds,
      params: run?.params ?? {},
    },
    evaluation,
    audits: audit?.audits ?? [],
    hard_negatives: hardNegatives,
    ...(embedding ? { embedding } : {}),
    headline: {
      model: headlineModel,
      macro_f1: evaluated?.metrics.macro_f1 ?? null,
      micro_f1: evaluated?.metrics.micro_f1 ?? null,
      reactivity: audited?.max_abs_reactivity ?? null,
      gate_passed: audited?.gate.passed ?? null,
    },
  });
  context.heartbeat({ phase: 'rendering' });
  const json = await context.store.put(
    { bytes: JSON.stringify(body, null, 1) },
    { kind: 'report', name: 'report.json' },
  );
  const html = await context.store.put({ bytes: renderReportHtml(body) }, { kind: 'report-html', name: 'report.html' });
  context.log.info('report written', { report: json.uri, html: html.uri });
  return { report: json, html };
});
