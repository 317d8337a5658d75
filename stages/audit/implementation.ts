/**
 * The `audit` stage: how strongly each named classifier reacts to identity terms (reactivity, as
 * the bias-classifier manual defines it; DESIGN.md "The science", stages/audit/README.md), per label, per
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
import { StageInputInvalid } from '../../common/errors';
import { BiasGateFailed } from './errors';
import { loadClassifier } from '../../activities/stages/classifier';
import {
  DEFAULT_GROUPS_FILE,
  defaultGroups,
  flattenGroups,
  parseGroupsFile,
  type IdentityPair,
} from '../../audit/pairs';
import { computeReactivity, evaluateGate, scoreCases, type GateF1, type PairSubset } from '../../audit/reactivity';
import { manualReactivity, maskingSubsets } from '../../audit/manual';
import { insertSentences, sampleIndices, templateSentences, type AuditSentences } from '../../audit/sentences';
import { gatedModel, type AuditGroups, type AuditWith, auditContract } from './contract';
import {
  auditFileSchema,
  evaluationSchema,
  type AuditFile,
  type Evaluation,
  type MaskingSplit,
} from '../../report/schema';
import type { ArtifactRef } from '../../store/types';
import type { StageContext } from '../../activities/stages/context';
import { defineStage } from '../../activities/stages/define';
import { readInputJson } from '../../activities/stages/input-json';
import { readText } from '../../activities/stages/files';
import { readCanonicalRows } from '../../pipeline/rows';

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
async function buildSentences(
  spec: AuditWith,
  pairs: readonly IdentityPair[],
  context: StageContext,
): Promise<AuditSentences> {
  if (spec.templates !== undefined) return templateSentences(spec.templates, pairs);
  // The schema guarantees insert mode has a dataset; checked again so that the types say so.
  if (spec.insert === undefined || spec.dataset === undefined)
    throw new StageInputInvalid(context.stageId, 'give `templates`, or `insert` with `dataset`');
  const rows = (await readCanonicalRows(context.store, spec.dataset, 'dataset')).map((r) => r.row.text);
  if (rows.length === 0)
    throw new StageInputInvalid(context.stageId, 'dataset has no rows to insert identity terms into');
  const sample = sampleIndices(rows.length, spec.insert.maxSentences, spec.insert.seed).map((i) => rows[i]!);
  return insertSentences(sample, pairs, spec.insert.position);
}

/** The texts of every masked span of the training data (meta.masked.spans of a ner-mask output), and the row counts. */
async function maskedSpanTexts(
  ref: ArtifactRef,
  context: StageContext,
): Promise<{ texts: Set<string>; rows: number; rowsMasked: number }> {
  const texts = new Set<string>();
  let rows = 0;
  let rowsMasked = 0;
  for (const { row, where } of await readCanonicalRows(context.store, ref, 'masked')) {
    rows++;
    const masked = row.meta?.masked;
    const spans = masked !== null && typeof masked === 'object' && 'spans' in masked ? masked.spans : undefined;
    if (spans === undefined)
      throw new StageInputInvalid(
        context.stageId,
        `masked: line ${where.line} has no meta.masked.spans: give a ner-mask stage's dataset output`,
      );
    if (!Array.isArray(spans))
      throw new StageInputInvalid(context.stageId, `masked: line ${where.line}: meta.masked.spans must be a list`);
    const chars = Array.from(row.text);
    for (const span of spans as unknown[]) {
      const start = span !== null && typeof span === 'object' && 'start' in span ? span.start : undefined;
      const end = span !== null && typeof span === 'object' && 'end' in span ? span.end : undefined;
      if (typeof start !== 'number' || typeof end !== 'number')
        throw new StageInputInvalid(context.stageId, `masked: line ${where.line}: a span needs numeric start and end`);
      texts.add(chars.slice(start, end).join(''));
    }
    if (spans.length > 0) rowsMasked++;
  }
  return { texts, rows, rowsMasked };
}

/** The F1 figures gate.maxF1Drop compares, from evaluation.json, checked to be of the audited models. */
function gateF1(
  spec: AuditWith,
  evaluation: Evaluation | undefined,
  gated: string,
  gatedDigest: string,
  stageId: string,
): GateF1 | undefined {
  if (spec.gate.maxF1Drop === undefined || evaluation === undefined || spec.gate.reference === undefined)
    return undefined;
  const metric = spec.gate.f1 === 'micro' ? 'micro_f1' : 'macro_f1';
  const find = (name: string) => {
    const m = evaluation.models.find((e) => e.name === name);
    if (m === undefined)
      throw new StageInputInvalid(
        stageId,
        `gate: the evaluation has no model "${name}" (it has ${evaluation.models.map((e) => e.name).join(', ')})`,
      );
    return m;
  };
  const model = find(gated);
  if (model.model_digest !== gatedDigest) {
    throw new StageInputInvalid(
      stageId,
      `gate: the evaluation's "${gated}" is another model (sha256 ${model.model_digest.slice(0, 12)}…) than the audited one (${gatedDigest.slice(0, 12)}…)`,
    );
  }
  return {
    reference: spec.gate.reference,
    referenceF1: find(spec.gate.reference).metrics[metric],
    modelF1: model.metrics[metric],
  };
}

/** audit.json's masking block for one model: the pairs of each subset and their reactivity. */
function maskingSplit(
  pairs: readonly IdentityPair[],
  seenTerms: string[],
  counts: { rows: number; rowsMasked: number },
  subsets: readonly PairSubset[],
  slices: ReturnType<typeof computeReactivity>['subsets'],
): MaskingSplit {
  return {
    seen_terms: seenTerms,
    rows: counts.rows,
    rows_masked: counts.rowsMasked,
    slices: subsets.map((subset, i) => ({
      name: subset.name === 'unseen' ? 'unseen' : 'seen in masking',
      pairs: subset.pairs.map((p) => ({ group: pairs[p]!.group, a: pairs[p]!.a, b: pairs[p]!.b })),
      reactivity: slices[i]?.slice ?? null,
    })),
  };
}

export const audit = defineStage(
  auditContract,
  async (spec, context) => {
    const names = Object.keys(spec.models);
    const gated = gatedModel(spec);

    const pairs = flattenGroups(await loadGroups(spec, context));
    const sentences = await buildSentences(spec, pairs, context);
    context.log.info('audit sentences built', {
      method: sentences.method,
      units: sentences.units,
      pairs: pairs.length,
      texts: sentences.texts.length,
    });
    const masked = spec.masked ? await maskedSpanTexts(spec.masked, context) : undefined;
    const split = masked ? maskingSubsets(pairs, masked.texts) : undefined;
    const evaluation = spec.evaluation
      ? await readInputJson(
          spec.evaluation,
          evaluationSchema,
          'evaluation',
          "an evaluate stage's evaluation.json",
          context,
        )
      : undefined;

    const audits: AuditFile['audits'] = [];
    for (const [index, name] of names.entries()) {
      context.signal.throwIfAborted();
      const classifier = await loadClassifier(spec.models[name]!, context, spec.inference ?? {}, `models.${name}`);
      try {
        const predictions = await classifier.predict(sentences.texts, {
          signal: context.signal,
          onProgress: (done, total) =>
            context.heartbeat({ phase: 'predict', model: name, modelIndex: index, models: names.length, done, total }),
        });
        const probabilities = predictions.map((p) => p.probabilities);
        const decisions = probabilities.map((p) => classifier.decide(p));
        const { subsets, ...result } = computeReactivity(
          {
            labels: classifier.labels,
            pairs,
            units: sentences.units,
            cases: scoreCases(sentences, probabilities, decisions),
          },
          spec.bootstrap,
          (done, total) => {
            context.signal.throwIfAborted();
            context.heartbeat({
              phase: 'bootstrap',
              model: name,
              modelIndex: index,
              models: names.length,
              done,
              total,
            });
          },
          split?.subsets ?? [],
        );
        const f1 =
          name === gated ? gateF1(spec, evaluation, gated, classifier.modelDigest, context.stageId) : undefined;
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
          manual_reactivity: manualReactivity(
            result.groups,
            pairs,
            sentences.method,
            spec.insert?.position ?? null,
            sentences.units,
          ),
          masking: split && masked ? maskingSplit(pairs, split.seenTerms, masked, split.subsets, subsets) : null,
          // Only the gated model is compared with the reference: the others' verdicts judge reactivity alone.
          gate: evaluateGate(result, name === gated ? spec.gate : { ...spec.gate, maxF1Drop: undefined }, f1),
        });
        context.log.info('audited', {
          model: name,
          max_abs_reactivity: result.max_abs_reactivity,
          flip_rate: result.flip_rate,
        });
      } finally {
        await classifier.release();
      }
    }

    const file = auditFileSchema.parse({ gated_model: gated, audits });
    const ref = await context.store.put({ bytes: JSON.stringify(file, null, 1) }, { kind: 'audit', name: spec.name });
    const verdict = audits.find((a) => a.name === gated)!;
    const outputs = {
      audit: ref,
      reactivity: verdict.max_abs_reactivity,
      flipRate: verdict.flip_rate,
      gatePassed: verdict.gate.passed,
    };
    if (!verdict.gate.passed) {
      if (spec.gate.mode === 'fail') throw new BiasGateFailed(gated, verdict.gate.reasons, outputs);
      context.log.warn(
        `model "${gated}" failed the bias gate (gate.mode: warn, so the run goes on): ${verdict.gate.reasons.join('; ')}`,
        { model: gated, reasons: verdict.gate.reasons },
      );
    }
    return outputs;
  },
  // The default pairs are data the stage reads: a new default set re-runs the audits that use it.
  { data: [DEFAULT_GROUPS_FILE] },
);
