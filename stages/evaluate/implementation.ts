/**
 * The `evaluate` stage: scores each named classifier on one labelled split with the TS
 * inference engine, computes the metrics `fairline metrics` prints (eval/metrics.ts), and writes
 * evaluation.json (report/schema.ts evaluationSchema) plus one predictions JSONL per model.
 * Deltas compare every model with the reference (other − reference; higher is better for all).
 * The candidate model's macro/micro F1 and model digest become the run's search attributes.
 */
import { StageInputInvalid } from '../../common/errors';
import { scorePredictions } from '../../eval/metrics';
import { prepareInput, type PreparedInput } from '../../eval/input';
import { f1Intervals } from '../../eval/intervals';
import type { Classifier } from '../../inference/engine';
import { loadClassifier } from '../../activities/stages/classifier';
import { evaluateContract } from './contract';
import type { CanonicalRow } from '../../pipeline/dataset';
import { evaluationSchema, type Evaluation, type LabelCurves, type Metrics } from '../../report/schema';
import { configDifferences, trainingOf, type Training } from '../../report/training';
import { classifierBundleSchema } from '../../pipeline/classifier';
import type { ArtifactRef } from '../../store/types';
import type { StageContext } from '../../activities/stages/context';
import { defineStage } from '../../activities/stages/define';
import { readCanonicalRows } from '../../pipeline/rows';

/** The F1 intervals' bootstrap: 1000 row resamples, seeded, 95%, as the audit's. */
const F1_BOOTSTRAP = { samples: 1000, seed: 42, confidence: 0.95 } as const;

/** Curves keep at most this many points in evaluation.json: enough to draw, small enough to ship. */
export const MAX_CURVE_POINTS = 256;

export const evaluate = defineStage(evaluateContract, async (spec, context) => {
  const names = Object.keys(spec.models);
  const reference = spec.reference ?? names[0]!;
  const candidate = spec.candidate ?? names[names.length - 1]!;

  const rows = (await readCanonicalRows(context.store, spec.dataset, 'dataset')).map((r) => r.row);
  if (rows.length === 0) throw new StageInputInvalid(context.stageId, 'dataset has no rows to evaluate on');
  const texts = rows.map((r) => r.text);

  const models: Evaluation['models'] = [];
  const prepared: PreparedInput[] = [];
  for (const [index, name] of names.entries()) {
    const key = `models.${name}`;
    const classifier = await loadClassifier(spec.models[name]!, context, spec.inference ?? {}, key);
    try {
      const yTrue = truthOf(rows, classifier, key, context.stageId);
      const predictions = await classifier.predict(texts, {
        signal: context.signal,
        onProgress: (done, total) =>
          context.heartbeat({
            phase: `scoring ${name}`,
            model: name,
            done,
            total,
            models: names.length,
            modelIndex: index,
          }),
      });
      const yScore = predictions.map((p) => p.probabilities);
      const metricsInput = {
        task: classifier.task,
        yTrue,
        yScore,
        labels: classifier.labels,
        ...(spec.exclude !== undefined ? { exclude: spec.exclude } : {}),
        ...(classifier.task === 'multilabel' ? { threshold: spec.threshold ?? classifier.threshold } : {}),
      };
      const scored = scorePredictions(metricsInput);
      prepared.push(prepareInput(metricsInput));
      const metrics = scored.metrics;
      const curves = scored.curves.map(thinCurves);
      const predictionsRef = await storePredictions(context, name, rows, yTrue, yScore);
      const training = await trainingOfBundle(spec.models[name]!, context);
      models.push({
        name,
        model_digest: classifier.modelDigest,
        mode: classifier.mode ?? 'unknown',
        ...(classifier.seed !== undefined ? { seed: classifier.seed } : {}),
        metrics,
        curves,
        predictions: predictionsRef,
        ...(training ? { training } : {}),
      });
      context.log.info('evaluated', { model: name, macro_f1: metrics.macro_f1, micro_f1: metrics.micro_f1 });
    } finally {
      await classifier.release();
    }
  }

  // F1 intervals, the reference first so that each delta's interval is paired against it.
  const order = [names.indexOf(reference), ...names.flatMap((_, i) => (names[i] === reference ? [] : [i]))];
  const intervals = f1Intervals(
    order.map((i) => prepared[i]!),
    F1_BOOTSTRAP,
  );
  // The intervals' point estimates must be the metrics' own; where a task defines F1 otherwise
  // (binary's positive-class F1, an excluded label), no interval is reported rather than a wrong one.
  const agrees = order.every((i, k) => {
    const m = models[i]!.metrics;
    const f = intervals.models[k]!;
    return Math.abs(f.macro_f1.value - m.macro_f1) < 1e-9 && Math.abs(f.micro_f1.value - m.micro_f1) < 1e-9;
  });
  if (agrees) order.forEach((i, k) => (models[i]!.intervals = intervals.models[k]!));
  const deltaIntervals = new Map(agrees ? order.slice(1).map((i, k) => [names[i]!, intervals.deltas[k]!]) : []);
  const referenceModel = models.find((m) => m.name === reference)!;
  const evaluation: Evaluation = evaluationSchema.parse({
    dataset_digest: spec.dataset.sha256,
    models,
    deltas: models
      .filter((m) => m.name !== reference)
      .map((m) => ({
        ...deltaOf(referenceModel.name, referenceModel.metrics, m.name, m.metrics),
        ...(deltaIntervals.has(m.name) ? { intervals: deltaIntervals.get(m.name)! } : {}),
      })),
    config_differences: configDifferences(models),
  });
  for (const d of evaluation.config_differences ?? [])
    context.log.info('training differs between compared models', { key: d.key, values: JSON.stringify(d.values) });
  const ref = await context.store.put(
    { bytes: JSON.stringify(evaluation, null, 1) },
    { kind: 'evaluation', name: 'evaluation.json' },
  );
  const headline = models.find((m) => m.name === candidate)!;
  return {
    evaluation: ref,
    macroF1: headline.metrics.macro_f1,
    microF1: headline.metrics.micro_f1,
    positiveF1: positiveF1(headline.metrics),
    positiveF1Bp: basisPoints(positiveF1(headline.metrics)),
    modelDigest: headline.model_digest,
  };
});

/**
 * The training configuration of a classifier bundle (its `config`, the trainer's train_config.json),
 * or undefined when the bundle is not one the train stage wrote (the engine has validated it already).
 */
async function trainingOfBundle(ref: ArtifactRef, context: StageContext): Promise<Training | undefined> {
  const bundle = classifierBundleSchema.safeParse(JSON.parse((await context.store.read(ref)).toString('utf8')));
  if (!bundle.success) return undefined;
  try {
    return trainingOf(JSON.parse((await context.store.read(bundle.data.config)).toString('utf8')));
  } catch (error) {
    if (error instanceof SyntaxError) return undefined;
    throw error;
  }
}

/** Gold labels in the shape the metrics take; a row that does not fit the model's labels names itself. */
function truthOf(
  rows: readonly CanonicalRow[],
  classifier: Classifier,
  key: string,
  stageId: string,
): (number | number[])[] {
  const width = classifier.labels.length;
  return rows.map((row, i) => {
    const labels = row.labels;
    if (classifier.task === 'multilabel') {
      if (!Array.isArray(labels) || labels.length !== width) {
        throw new StageInputInvalid(
          stageId,
          `dataset row ${i + 1} (id "${row.id}") has labels ${JSON.stringify(labels)}, but ${key} is a multilabel model over ${width} labels (${classifier.labels.join(', ')})`,
        );
      }
      return [...labels];
    }
    if (typeof labels !== 'number' || labels >= width) {
      throw new StageInputInvalid(
        stageId,
        `dataset row ${i + 1} (id "${row.id}") has labels ${JSON.stringify(labels)}, but ${key} is a multiclass model over ${width} classes (${classifier.labels.join(', ')})`,
      );
    }
    return labels;
  });
}

/** predictions-<model>.jsonl: {id, y_true, y_score} per row, the input `fairline metrics` reads. */
async function storePredictions(
  context: StageContext,
  name: string,
  rows: readonly CanonicalRow[],
  yTrue: readonly (number | number[])[],
  yScore: readonly number[][],
): Promise<ArtifactRef> {
  const lines = rows.map((row, i) => JSON.stringify({ id: row.id, y_true: yTrue[i], y_score: yScore[i] }));
  return context.store.put(
    { bytes: lines.join('\n') + '\n' },
    { kind: 'predictions', name: `predictions-${name}.jsonl` },
  );
}

function deltaOf(from: string, a: Metrics, to: string, b: Metrics): Evaluation['deltas'][number] {
  const byLabel = new Map(a.per_label.map((l) => [l.label, l]));
  return {
    from,
    to,
    macro_f1: b.macro_f1 - a.macro_f1,
    micro_f1: b.micro_f1 - a.micro_f1,
    weighted_f1: b.weighted_f1 - a.weighted_f1,
    per_label: b.per_label
      .filter((l) => byLabel.has(l.label))
      .map((l) => {
        const base = byLabel.get(l.label)!;
        return {
          label: l.label,
          f1: l.f1 - base.f1,
          precision: l.precision - base.precision,
          recall: l.recall - base.recall,
        };
      }),
  };
}

/** At most MAX_CURVE_POINTS points per curve, evenly spaced by index, both ends kept. */
function thinCurves(curves: LabelCurves): LabelCurves {
  const pick = (n: number): number[] => {
    if (n <= MAX_CURVE_POINTS) return [...Array(n).keys()];
    const step = (n - 1) / (MAX_CURVE_POINTS - 1);
    return [...new Set([...Array(MAX_CURVE_POINTS).keys()].map((k) => Math.round(k * step)))];
  };
  const roc = curves.roc && pick(curves.roc.fpr.length);
  const pr = curves.pr && pick(curves.pr.precision.length);
  return {
    label: curves.label,
    roc:
      curves.roc && roc ? { fpr: roc.map((i) => curves.roc!.fpr[i]!), tpr: roc.map((i) => curves.roc!.tpr[i]!) } : null,
    pr:
      curves.pr && pr
        ? { precision: pr.map((i) => curves.pr!.precision[i]!), recall: pr.map((i) => curves.pr!.recall[i]!) }
        : null,
  };
}

/**
 * F1 of class 1 when the task has exactly two classes (binary, or a two-class multiclass head such
 * as ETHOS's not_hate / hate): the binary F1 a two-class benchmark reports. Null otherwise.
 */
export function positiveF1(metrics: Metrics): number | null {
  if (metrics.task === 'multilabel' || metrics.per_label.length !== 2) return null;
  return metrics.per_label[1]!.f1;
}

/** A share in [0, 1] as an integer number of basis points (× 10,000, rounded); null stays null. */
export function basisPoints(share: number | null): number | null {
  return share === null ? null : Math.round(share * 10_000);
}
