/**
 * Sentence-embedding results: the shape of embedding-evaluation.json (the evaluate-embedding
 * stage) and its section of report.html. Kept in its own file so that report/schema.ts and
 * report/html.ts each carry one line for it. Numbers follow report.html's rules: 4 decimals
 * (`formatNumber`), every key number in an element with `data-key` and `data-value`, user
 * strings escaped. Workflow-safe: zod only (and pure string building).
 */
import { z } from 'zod';
import { escapeHtml as esc } from './svg';

export const retrievalResultSchema = z
  .object({
    queries: z.number().int().positive(),
    documents: z.number().int().positive(),
    recall_at_1: z.number(),
    recall_at_5: z.number(),
    recall_at_10: z.number(),
    mrr_at_10: z.number(),
  })
  .strict();

export const embeddingModelResultSchema = z
  .object({
    name: z.string(),
    model_digest: z.string(),
    seed: z.number().int(),
    max_length: z.number().int().positive(),
    text_prefix: z.string(),
    sts: z
      .object({
        pairs: z.number().int().positive(),
        /** Spearman's correlation of cos(text, pair) with the gold score; null when undefined (a constant side). */
        spearman: z.number().nullable(),
        /** Percentile bootstrap over pairs (seeded); null when the point value is. */
        ci_low: z.number().nullable(),
        ci_high: z.number().nullable(),
      })
      .strict(),
    retrieval: retrievalResultSchema.nullable(),
  })
  .strict();

/** embedding-evaluation.json. */
export const embeddingEvaluationSchema = z
  .object({
    schema: z.literal('fairline.embedding-evaluation/1'),
    sts_dataset_digest: z.string(),
    retrieval_dataset_digest: z.string().nullable(),
    bootstrap: z.object({ samples: z.number().int(), seed: z.number().int(), confidence: z.number() }).strict(),
    candidate: z.string(),
    models: z.array(embeddingModelResultSchema).min(1),
  })
  .strict();
export type EmbeddingEvaluation = z.infer<typeof embeddingEvaluationSchema>;

const fmt = (value: number): string => {
  const text = value.toFixed(4);
  return /^-0\.0+$/.test(text) ? text.slice(1) : text;
};

function cell(key: string, value: number | null, why = 'undefined for this data'): string {
  return value === null
    ? `<td class="num" data-key="${esc(key)}" data-value="null"><span class="null">—</span> <span class="reason">(${esc(why)})</span></td>`
    : `<td class="num" data-key="${esc(key)}" data-value="${value}">${fmt(value)}</td>`;
}

/** The "Sentence embeddings" section: STS Spearman with its interval and retrieval metrics, per model. */
export function embeddingSection(evaluation: EmbeddingEvaluation | null | undefined): string {
  if (!evaluation) return '';
  const rows = evaluation.models.map((m) => {
    const k = (metric: string): string => `embedding/${m.name}/${metric}`;
    const ci =
      m.sts.ci_low === null || m.sts.ci_high === null
        ? '<td class="num">—</td>'
        : `<td class="num" data-key="${esc(k('sts_spearman_ci'))}" data-ci-low="${m.sts.ci_low}" data-ci-high="${m.sts.ci_high}">[${fmt(m.sts.ci_low)}, ${fmt(m.sts.ci_high)}]</td>`;
    const r = m.retrieval;
    const none = 'no retrieval dataset in this run';
    return (
      `<tr><th>${esc(m.name)}${m.name === evaluation.candidate ? ' (reported)' : ''}</th>` +
      cell(k('sts_spearman'), m.sts.spearman) +
      ci +
      cell(k('recall_at_1'), r?.recall_at_1 ?? null, none) +
      cell(k('recall_at_5'), r?.recall_at_5 ?? null, none) +
      cell(k('recall_at_10'), r?.recall_at_10 ?? null, none) +
      cell(k('mrr_at_10'), r?.mrr_at_10 ?? null, none) +
      `<td><code title="${esc(m.model_digest)}">${esc(m.model_digest.slice(0, 12))}</code></td></tr>`
    );
  });
  const first = evaluation.models[0]!;
  const head = [
    'model',
    'STS Spearman',
    `${Math.round(evaluation.bootstrap.confidence * 100)}% CI`,
    'R@1',
    'R@5',
    'R@10',
    'MRR@10',
    'model digest',
  ];
  return (
    `<section id="embeddings"><h2>Sentence embeddings</h2>` +
    `<p>STS: Spearman correlation of the cosine similarity of each pair with its gold score (${first.sts.pairs} pairs; interval: percentile bootstrap over pairs, ${evaluation.bootstrap.samples} resamples, seed ${evaluation.bootstrap.seed}). ` +
    (first.retrieval
      ? `Retrieval: each held-out anchor queries the ${first.retrieval.documents} held-out positives; recall@k is the share whose own positive ranks in the top k, MRR@10 the mean reciprocal rank (0 past 10).`
      : 'No retrieval dataset in this run.') +
    ` Texts carry the prefix ${first.text_prefix ? `<code>${esc(first.text_prefix)}</code>` : '(none)'}.</p>` +
    `<table><thead><tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>` +
    `</section>`
  );
}
