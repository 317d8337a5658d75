/**
 * The shape of a stage type's contract and `defineContract`, which every `stages/<name>/contract.ts`
 * calls. A contract is what the client (validation), the workflow (traits in the RunSpec) and the
 * worker (runStage) agree on: the zod schema of `with`, the zod schemas of the outputs, the
 * defaults, and the traits the scheduler and the CLI read. Workflow-safe: zod and constants only.
 * The Node half, `defineStage` (activities/stages/define.ts), ties a contract to its implementation.
 */
import { z } from 'zod';
import type { SearchAttributeName, TaskQueue } from '../common/constants';
import type { ResolvedRetry, ResolvedTimeouts } from '../pipeline/run-spec';
import { artifactRefSchema } from '../store/types';

/** The schema of an output that is an artifact (an ArtifactRef); every other output is a scalar. */
export const artifactOutput = artifactRefSchema;

/** What a stage's outputs are: one zod schema per output name. */
export type OutputShape = Readonly<Record<string, z.ZodTypeAny>>;

export interface StageType {
  readonly name: string;
  readonly version: string;
  readonly description: string;
  /** Schema of `with` after params are substituted and other stages' outputs are resolved. */
  readonly with: z.ZodType<Record<string, unknown>>;
  /** Output names and what they hold: an ArtifactRef, or a small JSON scalar. */
  readonly outputs: Readonly<Record<string, 'artifact' | 'scalar'>>;
  readonly defaults: { queue: TaskQueue; retry: ResolvedRetry; timeout: ResolvedTimeouts };
  /**
   * Whether a result may be served from the cache for these inputs. A stage whose output depends
   * on something outside its inputs (an unpinned remote file) says no: it always runs, and the
   * stages downstream, keyed on its output's digest, stay cached when the bytes did not change.
   */
  readonly cacheable?: (input: Record<string, unknown>) => boolean;
  /**
   * `with` keys that may be paths relative to the pipeline file (`./data.csv`); the client makes
   * them file:// URLs. Dotted for nested keys, `*` for every key of a mapping: `sources.*.url`.
   */
  readonly relativePaths?: readonly string[];
  /** What the run shows of this stage's outputs once it ends (see StagePublish). */
  readonly publish?: StagePublish;
  /**
   * Runs once its needs have ended even if one failed, as long as each produced outputs: a
   * report still gets written when the audit's bias gate failed (the audit hands over its
   * findings with the failure). Every other stage downstream of a failure is skipped.
   */
  readonly alwaysRuns?: boolean;
  /**
   * Its outputs are the run's data: a `skipIfUnchanged` run runs the source stages first and ends
   * as `skipped` when their outputs' digests match those of a successful run of the same spec.
   */
  readonly source?: boolean;
  /** The output that holds the run's HTML report, which `fairline run` prints a link to. */
  readonly report?: string;
  /**
   * What an issue about the `with` block as a whole is reported under (`with`, `(with)`); empty
   * by default. Kept per stage so that error messages read as they always have.
   */
  readonly withIssuePath?: string;
}

/**
 * Outputs a run makes visible outside the artifact store: `searchAttributes` maps an output name
 * to a search attribute (numbers to Double attributes, booleans to Bool, strings and artifact
 * digests to Keyword), so the Temporal UI can filter runs by them; `memo` maps an output to a memo
 * key that gets the artifact's URI.
 */
export interface StagePublish {
  readonly searchAttributes?: Readonly<Record<string, SearchAttributeName>>;
  readonly memo?: Readonly<Record<string, string>>;
}

/** A contract whose `with` and output types are known to the compiler (what defineStage is generic over). */
export interface StageContract<W extends z.ZodType<Record<string, unknown>>, O extends OutputShape> extends StageType {
  readonly with: W;
  /** Every output's schema: what defineStage checks the implementation's result against before it leaves the worker. */
  readonly outputSchema: z.ZodObject<{ -readonly [K in keyof O]: O[K] }, z.core.$strict>;
}

/** What a contract file states: the StageType without what is derived from the output schemas. */
export type ContractSpec<W extends z.ZodType<Record<string, unknown>>, O extends OutputShape> = Omit<
  StageType,
  'with' | 'outputs' | 'report'
> & {
  readonly with: W;
  readonly outputs: O;
  /** One of the outputs, checked by the compiler. */
  readonly report?: keyof O & string;
};

/**
 * A stage type's contract from its `with` schema and its outputs' schemas. Output kinds
 * (artifact or scalar) follow from the schemas: `artifactOutput` is an artifact, anything else a
 * scalar. The output schema is strict: an implementation that returns an undeclared output is
 * refused as surely as one that leaves a declared output out.
 */
export function defineContract<W extends z.ZodType<Record<string, unknown>>, O extends OutputShape>(
  spec: ContractSpec<W, O>,
): StageContract<W, O> {
  const outputs = Object.fromEntries(
    Object.entries(spec.outputs).map(
      ([name, schema]) => [name, schema === artifactOutput ? 'artifact' : 'scalar'] as const,
    ),
  );
  const shape: { -readonly [K in keyof O]: O[K] } = { ...spec.outputs };
  return { ...spec, outputs, outputSchema: z.strictObject(shape) };
}

/** A registry of contracts by stage type name, from a list (a name given twice is a programming error). */
export function registryOf(contracts: readonly StageType[]): Readonly<Record<string, StageType>> {
  const registry: Record<string, StageType> = {};
  for (const contract of contracts) {
    if (contract.name in registry) throw new Error(`stage type "${contract.name}" is registered twice`);
    registry[contract.name] = contract;
  }
  return registry;
}

/** The placeholder an output reference stands for while validating `with` in the client. */
export function placeholderFor(kind: 'artifact' | 'scalar'): unknown {
  return kind === 'artifact'
    ? artifactRefSchema.parse({ uri: 'file:///placeholder', sha256: '0'.repeat(64), bytes: 0, kind: 'placeholder' })
    : 'placeholder';
}

/** Stages that fetch from outside: a source that blinks deserves a few more tries. */
export const FETCH_RETRY: ResolvedRetry = {
  maximumAttempts: 5,
  initialIntervalMs: 1_000,
  backoffCoefficient: 2,
  maximumIntervalMs: 60_000,
};
/** Deterministic computation: a retry helps only with a lost worker or a store hiccup. */
export const COMPUTE_RETRY: ResolvedRetry = {
  maximumAttempts: 3,
  initialIntervalMs: 1_000,
  backoffCoefficient: 2,
  maximumIntervalMs: 60_000,
};
