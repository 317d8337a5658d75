/**
 * The `audit` stage: how strongly each named classifier reacts to identity terms (reactivity, as
 * the bias-classifier manual defines it; DESIGN.md "The science", docs/audit.md), per label, per
 * pair and per group, signed and absolute, with bootstrap confidence intervals; a CheckList-style
 * flip rate; and a gate that passes or fails the gated model.
 *
 * Sentences are built once (templates with `<group>`, or identity terms joined to the dataset's
 * test sentences) and every model predicts the same texts. audit.json (report/schema.ts
 * auditFileSchema) holds one audit per model; every audit shows its own gate verdict, and the
 * gated model's decides the stage: with `gate.mode: fail` a failed gate stores audit.json first
 * and then throws BiasGateFailed carrying the outputs (so a report stage can still run); with
 * `warn` it logs a warning and returns gatePassed false.
 */
import { BiasGateFailed, StageInputInvalid } from '../../common/errors';
import { Classifier } from '../../inference/engine';
import { defaultGroups, flattenGroups, parseGroupsFile, type IdentityPair } from '../../audit/pairs';
import { computeReactivity, evaluateGate, scoreCases } from '../../audit/reactivity';
import { insertSentences, sampleIndices, templateSentences, type AuditSentences } from '../../audit/sentences';
import { auditWithSchema, gatedModel, type AuditGroups, type AuditWith } from '../../pipeline/audit-stage';
import type { Json } from '../../pipeline/run-spec';
import { auditFileSchema, type AuditFile } from '../../report/schema';
import type { StageContext, StageImplementation } from './context';
import { readText } from './ner-mask/files';
import { readCanonicalRows } from './rows';
import { parseWith } from './parse-with';

/** The groups: inline, from groupsFile, or the default set derived from KoSBi. */
async function loadGroups(spec: AuditWith, context: StageContext): Promise<AuditGroups> {
  if (spec.groups !== undefined) return spec.groups;
  if (spec.groupsFile !== undefined) {
    const { text, name } = await readText(spec.groupsFile, context);
    return parseGroupsFile(text, name);
  }
  return defaultGroups();
}

/** The sentences every model predicts. */
async function buildSentences(spec: AuditWith, pairs: readonly IdentityPair[], context: StageContext): Promise<AuditSentences> {
  if (spec.templates !== undefined) return templateSentences(spec.templates, pairs);
  // The schema guarantees insert mode has a dataset; checked again so that the types say so.
  if (spec.insert === undefined || spec.dataset === undefined) throw new StageInputInvalid(context.stageId, 'give `templates`, or `insert` with `dataset`');
  const rows = (await readCanonicalRows(spec.dataset, context, 'dataset')).map((r) => r.row.text);
  if (rows.length === 0) throw new StageInputInvalid(context.stageId, 'dataset has no rows to insert identity terms into');
  const sample = sampleIndices(rows.length, spec.insert.maxSentences, spec.insert.seed).map((i) => rows[i]!);
  return insertSentences(sample, pairs, spec.insert.position);
}

export const audit: StageImplementation = async (input, context) => {
  const spec = parseWith(auditWithSchema, input, context.stageId, '(with)');
  const names = Object.keys(spec.models);
  const gated = gatedModel(spec);

  const pairs = flattenGroups(await loadGroups(spec, context));
  const sentences = await buildSentences(spec, pairs, context);
  context.log.info('audit sentences built', { method: sentences.method, units: sentences.units, pairs: pairs.length, texts: sentences.texts.length });

  const audits: AuditFile['audits'] = [];
  for (const [index, name] of names.entries()) {
    context.signal.throwIfAborted();
    const classifier = await Classifier.load(spec.models[name]!, context, spec.inference ?? {}, `models.${name}`);
    try {
      const predictions = await classifier.predict(sentences.texts, {
        signal: context.signal,
        onProgress: (done, total) => context.heartbeat({ phase: 'predict', model: name, modelIndex: index, models: names.length, done, total }),
      });
      const probabilities = predictions.map((p) => p.probabilities);
      const decisions = probabilities.map((p) => classifier.decide(p));
      const result = computeReactivity({ labels: classifier.labels, pairs, units: sentences.units, cases: scoreCases(sentences, probabilities, decisions) }, spec.bootstrap, (done, total) => {
        context.signal.throwIfAborted();
        context.heartbeat({ phase: 'bootstrap', model: name, modelIndex: index, models: names.length, done, total });
      });
      audits.push({
        name,
        model_digest: classifier.modelDigest,
        task: classifier.task,
        labels: [...classifier.labels],
        // Multiclass decisions are the argmax: no threshold is involved.
        threshold: classifier.task === 'multilabel' ? classifier.threshold : null,
        method: sentences.method,
        sentences: sentences.units,
        bootstrap: spec.bootstrap,
        ...result,
        gate: evaluateGate(result, spec.gate),
      });
      context.log.info('audited', { model: name, max_abs_reactivity: result.max_abs_reactivity, flip_rate: result.flip_rate });
    } finally {
      await classifier.release();
    }
  }

  const file = auditFileSchema.parse({ gated_model: gated, audits });
  const ref = await context.store.put({ bytes: JSON.stringify(file, null, 1) }, { kind: 'audit', name: spec.name });
  const verdict = audits.find((a) => a.name === gated)!;
  const outputs: Record<string, Json> = {
    audit: ref,
    reactivity: verdict.max_abs_reactivity,
    flipRate: verdict.flip_rate,
    gatePassed: verdict.gate.passed,
  };
  if (!verdict.gate.passed) {
    if (spec.gate.mode === 'fail') throw new BiasGateFailed(gated, verdict.gate.reasons, outputs);
    context.log.warn(`model "${gated}" failed the bias gate (gate.mode: warn, so the run goes on): ${verdict.gate.reasons.join('; ')}`, { model: gated, reasons: verdict.gate.reasons });
  }
  return outputs;
};
