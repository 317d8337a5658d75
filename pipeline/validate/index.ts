/**
 * `fairline validate`: a pipeline YAML file in, a validated and resolved RunSpec out, or every
 * problem in the file reported as FILE:LINE:COL. Runs in the client (Node); the workflow only ever
 * sees the RunSpec (pipeline/run-spec.ts), never YAML.
 *
 * The checks run in three layers, and each problem kind belongs to exactly one of them so that a
 * mistake is reported once, not echoed by every later layer:
 *  1. YAML: syntax errors, duplicate keys, unresolvable tags (from the `yaml` parser);
 *  2. shape: pipeline/spec.ts's strict zod schemas (types, unknown keys, ids, durations, queues);
 *  3. meaning, on a lenient reading of the same data: `uses` registered, stage ids unique, `needs`
 *     known and acyclic (graph.ts), `${{ }}` references sound (references.ts), `--set` values typed
 *     (params.ts), each `with` accepted by its stage type's schema (run-spec.ts), the schedule as
 *     Temporal reads it (schedule.ts).
 * Zod issues carry paths into the parsed data; positions.ts maps them back to YAML nodes, so every
 * problem points at the key or value it is about, worded by wording.ts.
 */
import { readFile } from 'node:fs/promises';
import { LineCounter, parseDocument } from 'yaml';
import type { Problem } from '../errors';
import type { RunSpec } from '../run-spec';
import { pipelineFileSchema, type ScheduleSpec } from '../spec';
import { STAGE_TYPES } from '../../stages';
import { aliasExpansionProblem } from '../yaml-aliases';
import { StageGraph, type StageTypeRegistry } from './graph';
import { resolveParams } from './params';
import { isRecord, ProblemList } from './positions';
import { References } from './references';
import { assembleRunSpec, StageResolver } from './run-spec';
import { checkSchedule } from './schedule';
import { Reporter, syntaxErrorsWorthReporting, yamlErrorMessage } from './wording';

export { formatProblem, type Problem } from '../errors';
export type { StageTypeRegistry } from './graph';

export interface ValidateOptions {
  /** `params.NAME=VALUE` overrides, as given on the command line; later entries win. */
  readonly set?: readonly string[];
  /** Defaults to STAGE_TYPES. */
  readonly stageTypes?: StageTypeRegistry;
}

/**
 * A valid file gives the RunSpec and a one-line summary (and the `schedule:` block, kept for the
 * scheduling feature: it is not part of what runs, so not part of the RunSpec); an invalid one
 * gives every problem found, in file order.
 */
export type ValidationResult =
  { ok: true; spec: RunSpec; summary: string; schedule?: ScheduleSpec } | { ok: false; problems: Problem[] };

/** Reads and validates a pipeline file; an unreadable file is a single problem at 1:1. */
export async function validatePipelineFile(path: string, options: ValidateOptions = {}): Promise<ValidationResult> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    return {
      ok: false,
      problems: [{ file: path, line: 1, col: 1, message: `cannot read the pipeline file: ${reason}` }],
    };
  }
  return validatePipelineText(text, path, options);
}

/**
 * Validates pipeline YAML `text` (named `file` in problems and in the spec's `sourceFile`) and
 * resolves it into a RunSpec: params substituted, `--set` applied, output references left as
 * OutputRefs, queues/retries/timeouts merged over the stage types' defaults.
 */
export function validatePipelineText(text: string, file: string, options: ValidateOptions = {}): ValidationResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { uniqueKeys: true, lineCounter, prettyErrors: false });
  const problems = new ProblemList(file, lineCounter);

  for (const error of syntaxErrorsWorthReporting(doc.errors, lineCounter)) {
    problems.at(error.pos[0], yamlErrorMessage(error, doc, text, lineCounter));
  }
  // Unresolved tags (`!env FOO`) are only warnings to the parser, but the value silently becomes a
  // plain string: the author meant something fairline would not do, so it is a problem here.
  for (const warning of doc.warnings) problems.at(warning.pos[0], `YAML: ${warning.message}`);
  // After a syntax error the parser's recovered tree can be far from what the author meant
  // (an unclosed quote swallows the following lines); checking it would only add noise.
  if (doc.errors.some((e) => e.code !== 'DUPLICATE_KEY')) return { ok: false, problems: problems.sorted() };

  // Bounded before anything expands: toJS shares aliased nodes, but every check after it (and the
  // RunSpec) copies them, so a small file of reused anchors could take minutes and gigabytes.
  const bomb = aliasExpansionProblem(doc, lineCounter);
  if (bomb) {
    problems.at(bomb.offset, bomb.message);
    return { ok: false, problems: problems.sorted() };
  }
  let data: unknown;
  try {
    // The expansion bound above replaces the parser's alias count (which cannot say where).
    data = doc.toJS({ maxAliasCount: -1 });
  } catch (err) {
    problems.at(0, `YAML: ${err instanceof Error ? err.message : String(err)}`);
    return { ok: false, problems: problems.sorted() };
  }

  const root = isRecord(data) ? data : {};
  const reporter = new Reporter(doc, problems, data);
  const fileParse = pipelineFileSchema.safeParse(data);
  if (!fileParse.success) reporter.reportIssues(fileParse.error.issues, [], pipelineFileSchema);
  const params = resolveParams(root, options.set ?? [], reporter);
  const rawStages = Array.isArray(root.stages) ? root.stages : [];
  const graph = StageGraph.read(rawStages, options.stageTypes ?? STAGE_TYPES, reporter);
  graph.check();
  const stages = new StageResolver(graph, new References(graph, reporter), reporter, root, file).resolveAll(
    params,
    rawStages.length,
  );
  checkSchedule(root, reporter);

  if (problems.size > 0 || !fileParse.success || stages === undefined)
    return { ok: false, problems: problems.sorted() };

  const pipeline = fileParse.data;
  const { spec, summary } = assembleRunSpec(pipeline, params, stages, file);
  return { ok: true, spec, summary, ...(pipeline.schedule !== undefined ? { schedule: pipeline.schedule } : {}) };
}
