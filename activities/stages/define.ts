/**
 * `defineStage`: a stage implementation tied to its contract (stages/<name>/contract.ts). The
 * implementation receives its `with` block already parsed by the contract's schema (typed, or
 * StageInputInvalid naming each bad key), and its result is checked twice against the declared
 * outputs: by the compiler (the return type is the output schemas' input type) and at run time
 * (the result is parsed by the output schema before it leaves the worker; StageOutputInvalid
 * names the stage and the key otherwise), so no stage can hand the workflow an output that the
 * validator and the downstream stages were not promised.
 */
import type { z } from 'zod';
import { StageOutputInvalid } from '../../common/errors';
import { describeIssues } from '../../pipeline/errors';
import type { Json } from '../../pipeline/run-spec';
import type { OutputShape, StageContract } from '../../stages/define';
import type { FairlineConfig } from '../../temporal.config';
import type { StageContext, StageImplementation } from './context';
import { parseWith } from './parse-with';

/**
 * What the cache key must see beyond `with` and the code: the content behind a path or name in
 * `with` (a model folder's digest). Undefined when `with` holds only artifacts and values.
 */
export type ContentKey = (input: Record<string, Json>, config: FairlineConfig) => Promise<Json | undefined>;

/** What a stage's code is beyond its implementation module's imports (see fingerprint.ts). */
export interface StageExtras {
  /** Files the code reads at run time, relative to the project root (part of the fingerprint). */
  readonly data?: readonly string[];
  /** Python modules the stage launches with `python -m` (their sources count too). */
  readonly python?: readonly string[];
  readonly contentKey?: ContentKey;
}

/** The outputs an implementation of contract `O` must return: every declared output, each of its schema's type. */
export type StageOutputs<O extends OutputShape> = z.input<
  z.ZodObject<{ -readonly [K in keyof O]: O[K] }, z.core.$strict>
> &
  Record<string, Json>;

/** The outputs an implementation of contract `C` must return (for helpers that build them). */
export type OutputsOf<C> =
  C extends StageContract<z.ZodType<Record<string, unknown>>, infer O> ? StageOutputs<O> : never;

/** A stage implementation as runStage calls it, carrying its contract and what its fingerprint needs. */
export type DefinedStage = StageImplementation & {
  readonly contract: StageContract<z.ZodType<Record<string, unknown>>, OutputShape>;
  readonly extras: StageExtras;
};

export function defineStage<W extends z.ZodType<Record<string, unknown>>, O extends OutputShape>(
  contract: StageContract<W, O>,
  run: (spec: z.output<W>, context: StageContext) => Promise<StageOutputs<O>>,
  extras: StageExtras = {},
): DefinedStage {
  const implementation: StageImplementation = async (input, context) => {
    const spec = parseWith(contract.with, input, context.stageId, contract.withIssuePath);
    const outputs = await run(spec, context);
    const checked = contract.outputSchema.safeParse(outputs);
    if (!checked.success)
      throw new StageOutputInvalid(contract.name, context.stageId, describeIssues(checked.error.issues, '(outputs)'));
    // The result as the implementation made it (checked, not rebuilt): its key order is what the
    // cache entries and histories recorded before the check existed.
    return outputs;
  };
  return Object.assign(implementation, { contract, extras });
}
