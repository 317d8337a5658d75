/**
 * The `mine-hard-negatives` stage: which examples of a training pool are hard negatives, by two
 * recipes (contract: contract.ts; recipes: mining/; stages/mine-hard-negatives/README.md):
 * - model-based, when `model` is given: the classifier scores the pool, and per label the
 *   negatives it is confidently wrong about and those closest to its decision boundary are mined;
 * - bm25, unless turned off: per positive example of a label, its nearest lexical neighbours
 *   (Okapi BM25 over character n-grams) that are negative for that label.
 * Finds are capped per source example, merged by row (provenance joined) and cut to `maxTotal`.
 *
 * Outputs: `dataset` (hard_negatives.jsonl: the mined pool rows as they are, each with
 * `meta.hard_negative` = its provenance; what `train` takes as `hardNegatives.dataset`), `summary`
 * (mining-summary.json, `miningSummarySchema`: counts and a few examples for the report), and
 * `mined` (the row count). No finds is a valid answer: an empty file and a warning.
 */
import { join } from 'node:path';
import { StageInputInvalid } from '../../common/errors';
import { LabelsMismatch } from './errors';
import type { Classifier } from '../../inference/engine';
import { loadClassifier } from '../../activities/stages/classifier';
import { mineLexical } from '../../mining/bm25';
import { countByReason, mergeFinds, type Mined } from '../../mining/merge';
import { mineModelBased } from '../../mining/model-based';
import { positives, readPool, writeMined, type Pool } from '../../mining/pool';
import type { Find, HardNegativeProvenance } from '../../mining/types';
import { MINING_FILES, MINING_SUMMARY_EXAMPLES, miningRecipes, type MineWith, mineContract } from './contract';
import type { Json } from '../../pipeline/run-spec';
import type { MiningSummary } from '../../report/schema';
import type { StageContext } from '../../activities/stages/context';
import { defineStage } from '../../activities/stages/define';
import { minePairsStage } from './pairs';
import { artifactName } from '../../store/materialize';

const HEARTBEAT_EVERY_MS = 1_000;
/** Characters of an example's text in the summary: the report shows a line, not a document. */
const EXAMPLE_TEXT_CHARS = 200;

/** The labels mining works with: names, task and width, from the model when there is one. */
interface LabelSpace {
  names: string[];
  task: Pool['task'];
  width: number;
}

/** Checks the pool's labels against the model's (or against `labelNames`), and names them. */
function labelSpace(pool: Pool, spec: MineWith, context: StageContext, model: Classifier | undefined): LabelSpace {
  const where = `stage "${context.stageId}"`;
  const poolLabels =
    pool.task === 'multilabel' ? `0/1 vectors of ${pool.width} labels` : `class indices up to ${pool.width - 1}`;
  if (model !== undefined) {
    if (model.task !== pool.task)
      throw new LabelsMismatch(
        `${where}: model`,
        `the model is ${model.task} but the dataset's rows are ${pool.task} (${poolLabels})`,
      );
    const fits = pool.task === 'multilabel' ? model.labels.length === pool.width : pool.width <= model.labels.length;
    if (!fits)
      throw new LabelsMismatch(
        `${where}: model`,
        `the model has ${model.labels.length} labels (${model.labels.join(', ')}) but the dataset's rows are ${poolLabels}`,
      );
    if (spec.labelNames !== undefined && spec.labelNames.join('\0') !== model.labels.join('\0')) {
      throw new LabelsMismatch(
        `${where}: labelNames`,
        `the model names its labels ${model.labels.join(', ')}, labelNames says ${spec.labelNames.join(', ')}: drop labelNames, the model's names are used`,
      );
    }
    return { names: [...model.labels], task: model.task, width: model.labels.length };
  }
  if (spec.labelNames !== undefined) {
    const fits =
      pool.task === 'multilabel' ? spec.labelNames.length === pool.width : pool.width <= spec.labelNames.length;
    if (!fits)
      throw new LabelsMismatch(
        `${where}: labelNames`,
        `labelNames has ${spec.labelNames.length} names but the dataset's rows are ${poolLabels}`,
      );
    return { names: [...spec.labelNames], task: pool.task, width: spec.labelNames.length };
  }
  // The trainer's default names, so provenance reads the same as the model trained on it.
  return { names: Array.from({ length: pool.width }, (_, i) => `LABEL_${i}`), task: pool.task, width: pool.width };
}

/** The summary for the report: counts, and the first few rows of the hardest-first order. */
function summarize(pool: Pool, mined: readonly Mined[]): MiningSummary {
  return {
    pool: pool.ids.length,
    mined: mined.length,
    by_reason: countByReason(mined),
    examples: mined.slice(0, MINING_SUMMARY_EXAMPLES).map(({ row, id, provenance }) => {
      const chars = Array.from(pool.texts[row]!);
      return {
        id,
        text: chars.length > EXAMPLE_TEXT_CHARS ? `${chars.slice(0, EXAMPLE_TEXT_CHARS).join('')}…` : chars.join(''),
        reasons: [...new Set(provenance.map((p) => p.reason))],
        label: provenance[0]!.label,
        score: provenance[0]!.score,
      };
    }),
  };
}

export const mineHardNegatives = defineStage(mineContract, async (spec, context) => {
  if (spec.pairs) return minePairsStage(spec.dataset, spec.pairs, spec.inference ?? {}, context);
  const recipes = miningRecipes(spec);
  const datasetName = artifactName(spec.dataset);
  const progress: Record<string, Json> = { phase: 'reading', done: 0, total: 0 };
  const report = (phase: string, done: number, total: number): void => {
    // A new phase goes out at once (Temporal throttles heartbeats); counts ride on the interval.
    const changed = progress.phase !== phase;
    progress.phase = phase;
    progress.done = done;
    progress.total = total;
    if (changed) context.heartbeat(progress);
  };
  const beat = setInterval(() => context.heartbeat(progress), HEARTBEAT_EVERY_MS);
  context.heartbeat(progress);
  const timings: Record<string, number> = {};
  let model: Classifier | undefined;
  let pool: Pool;
  let mined: Mined[];
  const outPath = join(context.scratchDir, MINING_FILES.dataset);
  try {
    let started = performance.now();
    pool = await readPool(await context.store.open(spec.dataset), datasetName, context.signal);
    timings.readMs = performance.now() - started;
    if (pool.ids.length === 0) throw new StageInputInvalid(context.stageId, `dataset ${datasetName} has no rows`);
    if (pool.width === 0)
      throw new StageInputInvalid(
        context.stageId,
        `the rows of ${datasetName} carry no classification labels (labels: []): nothing is negative for anything`,
      );

    if (recipes.modelBased && spec.model !== undefined)
      model = await loadClassifier(spec.model, context, spec.inference ?? {}, 'model');
    const labels = labelSpace(pool, spec, context, model);
    const wanted = (spec.labels ?? labels.names).map((name) => {
      const y = labels.names.indexOf(name);
      if (y < 0)
        throw new StageInputInvalid(
          context.stageId,
          `labels: ${JSON.stringify(name)} is not a label (the labels are ${labels.names.join(', ')})`,
        );
      return y;
    });
    const positive = positives(pool, labels.width);
    const finds: Find[] = [];

    if (recipes.modelBased && model !== undefined) {
      started = performance.now();
      report('scoring', 0, pool.ids.length);
      const scored = await model.predict(pool.texts, {
        onProgress: (done: number) => report('scoring', done, pool.ids.length),
        signal: context.signal,
      });
      timings.scoreMs = performance.now() - started;
      const probabilities = scored.map((s) => s.probabilities);
      finds.push(
        ...mineModelBased(
          { ids: pool.ids, width: labels.width, positive, probabilities },
          {
            task: labels.task,
            threshold: model.threshold,
            ...recipes.modelBased,
            labels: wanted,
            labelNames: labels.names,
          },
        ),
      );
    }
    if (recipes.bm25) {
      const lexical = await mineLexical(
        { ids: pool.ids, texts: pool.texts, width: labels.width, positive },
        {
          ...recipes.bm25,
          labels: wanted,
          labelNames: labels.names,
          signal: context.signal,
          onProgress: (done, total) => report('bm25', done, total),
        },
      );
      timings.bm25BuildMs = lexical.buildMs;
      timings.bm25QueryMs = lexical.queryMs;
      timings.bm25Queries = lexical.queries;
      finds.push(...lexical.finds);
    }

    mined = mergeFinds(finds, pool.ids, { capPerExample: spec.capPerExample, maxTotal: spec.maxTotal });
    report('writing', 0, mined.length);
    const byRow = new Map<number, HardNegativeProvenance[]>(mined.map((m) => [m.row, m.provenance]));
    await writeMined(await context.store.open(spec.dataset), datasetName, byRow, outPath);
    report('writing', mined.length, mined.length);
  } catch (error) {
    if (context.signal.aborted) throw context.signal.reason;
    throw error;
  } finally {
    clearInterval(beat);
    await model?.release();
  }

  const summary = summarize(pool, mined);
  if (mined.length === 0) {
    context.log.warn('no hard negatives mined: the output is an empty file', {
      pool: pool.ids.length,
      recipes: [recipes.modelBased ? 'model-based' : '', recipes.bm25 ? 'bm25' : ''].filter(Boolean).join(','),
    });
  }
  const dataset = await context.store.put({ path: outPath }, { kind: 'dataset', name: MINING_FILES.dataset });
  const summaryRef = await context.store.put(
    { bytes: JSON.stringify(summary, null, 2) + '\n' },
    { kind: 'mining-summary', name: MINING_FILES.summary },
  );
  context.log.info('mined hard negatives', {
    pool: pool.ids.length,
    mined: mined.length,
    ...summary.by_reason,
    ...Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, Math.round(v)])),
  });
  return { dataset, summary: summaryRef, mined: mined.length };
});
