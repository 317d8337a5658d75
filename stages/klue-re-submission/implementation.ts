/**
 * The `klue-re-submission` stage: KLUE-RE's submission file for one evaluated model.
 *
 * submission.csv has the header `id,pred_label,probs` and one line per evaluated row, in the
 * dataset's order: the row id (the KLUE guid), the predicted relation's name (the argmax, ties to
 * the lower index as everywhere in fairline), and the 30 class probabilities as a list in
 * relation_list.json's order, `"[p0, p1, …]"` (quoted: the list holds commas). The probabilities
 * are the ones evaluate scored, from its predictions file, so the file and the metrics agree.
 *
 * The model must have been evaluated as KLUE-RE: a multiclass model over exactly KLUE-RE's 30
 * relations in their order, scored with `exclude: no_relation` (so its metrics hold
 * klue_re_micro_f1 and klue_re_auprc). Anything else is a non-retryable StageInputInvalid that
 * says what differs.
 */
import { z } from 'zod';
import { StageInputInvalid } from '../../common/errors';
import { KLUE_RE_RELATIONS } from '../../eval/klue-re';
import { evaluationSchema } from '../../report/schema';
import { defineStage } from '../../activities/stages/define';
import { readInputJson } from '../../activities/stages/input-json';
import { klueReSubmissionContract } from './contract';

const predictionRowSchema = z.object({ id: z.string().min(1), y_score: z.array(z.number()) });

/** A CSV field, quoted when it holds a comma, a quote or a line break (RFC 4180). */
function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** The index of the largest score, the first one on ties (numpy's argmax). */
function argmax(scores: readonly number[]): number {
  let best = 0;
  for (let j = 1; j < scores.length; j++) if (scores[j]! > scores[best]!) best = j;
  return best;
}

/** submission.csv's text: the header, then `id,pred_label,"[p0, p1, …]"` per row. */
export function submissionCsv(
  rows: readonly { id: string; probs: readonly number[] }[],
  labels: readonly string[],
): string {
  const lines = rows.map(
    ({ id, probs }) => `${csvField(id)},${csvField(labels[argmax(probs)]!)},${csvField(`[${probs.join(', ')}]`)}`,
  );
  return ['id,pred_label,probs', ...lines].join('\n') + '\n';
}

export const klueReSubmission = defineStage(klueReSubmissionContract, async (spec, context) => {
  const invalid = (detail: string): StageInputInvalid => new StageInputInvalid(context.stageId, detail);
  const evaluation = await readInputJson(
    spec.evaluation,
    evaluationSchema,
    'evaluation',
    "an evaluate stage's evaluation.json",
    context,
  );
  const names = evaluation.models.map((m) => m.name);
  const model =
    spec.model === undefined
      ? evaluation.models[evaluation.models.length - 1]
      : evaluation.models.find((m) => m.name === spec.model);
  if (model === undefined)
    throw invalid(`model: ${JSON.stringify(spec.model)} is not one of the evaluated models (${names.join(', ')})`);
  const { metrics } = model;
  const difference = KLUE_RE_RELATIONS.findIndex((name, j) => metrics.labels[j] !== name);
  if (metrics.task !== 'multiclass' || metrics.labels.length !== KLUE_RE_RELATIONS.length || difference >= 0)
    throw invalid(
      `model ${JSON.stringify(model.name)} is a ${metrics.task} model over ${metrics.labels.length} labels` +
        (difference >= 0
          ? `, label ${difference} is ${JSON.stringify(metrics.labels[difference] ?? null)} where KLUE-RE has ${JSON.stringify(KLUE_RE_RELATIONS[difference])}`
          : '') +
        `: a KLUE-RE submission needs a multiclass model over KLUE-RE's 30 relations in relation_list.json's order (train with task: multiclass and those labelNames)`,
    );
  if (metrics.klue_re_micro_f1 === undefined || metrics.klue_re_auprc === undefined)
    throw invalid(
      `model ${JSON.stringify(model.name)} was evaluated without exclude: no_relation, so it has no klue_re_micro_f1 or klue_re_auprc (set exclude: no_relation on the evaluate stage)`,
    );

  const rows: { id: string; probs: number[] }[] = [];
  const text = (await context.store.read(model.predictions)).toString('utf8');
  for (const [i, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw invalid(`predictions-${model.name}.jsonl:${i + 1}: not JSON`);
    }
    const parsed = predictionRowSchema.safeParse(value);
    if (!parsed.success || parsed.data.y_score.length !== KLUE_RE_RELATIONS.length)
      throw invalid(`predictions-${model.name}.jsonl:${i + 1}: expected {id, y_score: 30 probabilities}`);
    rows.push({ id: parsed.data.id, probs: parsed.data.y_score });
  }
  if (rows.length !== metrics.n)
    throw invalid(`predictions-${model.name}.jsonl has ${rows.length} rows, the evaluation scored ${metrics.n}`);
  const submission = await context.store.put(
    { bytes: submissionCsv(rows, KLUE_RE_RELATIONS) },
    { kind: 'submission', name: 'submission.csv' },
  );
  context.log.info('KLUE-RE submission written', {
    model: model.name,
    rows: rows.length,
    klue_re_micro_f1: metrics.klue_re_micro_f1,
    klue_re_auprc: metrics.klue_re_auprc,
  });
  return {
    submission,
    microF1: metrics.klue_re_micro_f1,
    auprc: metrics.klue_re_auprc,
    microF1Bp: Math.round(metrics.klue_re_micro_f1 * 100),
  };
});
