/**
 * The canonical dataset every stage after `download` reads: JSON Lines, one row per line, in
 * this shape. Source formats (csv, tsv, json, jsonl, named adapters) are mapped onto it by the
 * download stage; the row schema is checked on every row.
 */
import { z } from 'zod';

/** A character span `[start, end)` of a text, with its entity type (PS, LC, OG, gender, …). */
export const entitySpanSchema = z
  .object({
    start: z.number().int().nonnegative(),
    end: z.number().int().positive(),
    type: z.string().min(1),
  })
  .strict()
  .refine((s) => s.end > s.start, { message: 'end must be greater than start' });
export type EntitySpan = z.infer<typeof entitySpanSchema>;

/** A second text (relation extraction, retrieval), with optional subject/object spans. */
export const pairSchema = z
  .object({
    text: z.string(),
    subject: entitySpanSchema.optional(),
    object: entitySpanSchema.optional(),
  })
  .strict();

export const canonicalRowSchema = z
  .object({
    id: z.string().min(1),
    text: z.string().min(1),
    /** Multi-label: a 0/1 vector, one entry per label. Single-label: the class index. */
    labels: z.union([z.array(z.union([z.literal(0), z.literal(1)])), z.number().int().nonnegative()]),
    entities: z.array(entitySpanSchema).optional(),
    pair: pairSchema.optional(),
    meta: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();
export type CanonicalRow = z.infer<typeof canonicalRowSchema>;

/** `multilabel`: labels is a 0/1 vector; `multiclass`: a class index (binary is multiclass with 2). */
export const taskSchema = z.enum(['multilabel', 'multiclass']);
export type Task = z.infer<typeof taskSchema>;
