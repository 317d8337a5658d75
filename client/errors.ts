/**
 * What can go wrong when the client looks for a run or reads its records; in the style of
 * common/errors.ts (one class per condition).
 */
import { condition } from '../common/errors';

/** Temporal refused a list filter (`fairline runs --where`): bad syntax, or an unknown search attribute. */
export class ListFilterInvalid extends condition('ListFilterInvalid', false) {
  constructor(
    readonly filter: string,
    readonly detail: string,
  ) {
    super(`Temporal refused the list filter ${JSON.stringify(filter)}: ${detail}`);
  }
}

/** No pipeline run has this id in the namespace. */
export class RunNotFound extends condition('RunNotFound', false) {
  constructor(
    readonly run: string,
    readonly namespace: string,
  ) {
    super(`no pipeline run ${JSON.stringify(run)} in namespace ${namespace}`);
  }
}

/** A bare run id names runs of several pipelines: the pipeline must be named too. */
export class RunAmbiguous extends condition('RunAmbiguous', false) {
  constructor(
    readonly run: string,
    readonly candidates: readonly string[],
  ) {
    super(
      `run id ${JSON.stringify(run)} names ${candidates.length} runs: ${candidates.join(', ')}; name one with --pipeline NAME or as NAME/${run}`,
    );
  }
}

/** A run has no report.json to compare (still running, failed before its report stage, or its pipeline writes none). */
export class RunReportMissing extends condition('RunReportMissing', false) {
  constructor(
    readonly workflowId: string,
    readonly reason: string,
  ) {
    super(`run ${workflowId} has no report: ${reason}`);
  }
}

/**
 * A run's report.json or manifest.json does not have the shape fairline writes (report/schema.ts, report/compare.ts).
 */
export class RunRecordInvalid extends condition('RunRecordInvalid', false) {
  constructor(
    readonly uri: string,
    readonly detail: string,
  ) {
    super(`${uri} is not a readable run record: ${detail}`);
  }
}
