/**
 * The `schedule:` block as Temporal will check it at `fairline schedule apply`
 * (pipeline/schedule-checks.ts: cron fields and ranges, time zones, overlap policies), each
 * problem placed at the part of the value it is about.
 */
import { checkCron, checkOverlap, checkTimeZone } from '../schedule-checks';
import { isRecord } from './positions';
import type { Reporter } from './wording';

/**
 * Reports what Temporal would refuse in `root.schedule`; the shape check has already reported values of the wrong type.
 */
export function checkSchedule(root: Record<string, unknown>, reporter: Reporter): void {
  const schedule = root.schedule;
  if (!isRecord(schedule)) return;
  let cronZone: string | undefined;
  if (typeof schedule.cron === 'string') {
    const { problem, timeZone } = checkCron(schedule.cron);
    if (problem) reporter.reportInString(['schedule', 'cron'], problem.at, `schedule.cron: ${problem.message}`);
    if (timeZone) {
      cronZone = timeZone.name;
      const zoneProblem = checkTimeZone(timeZone.name);
      if (zoneProblem)
        reporter.reportInString(['schedule', 'cron'], timeZone.at, `schedule.cron: ${zoneProblem.message}`);
    }
  }
  if (typeof schedule.timezone === 'string') {
    const zoneProblem = checkTimeZone(schedule.timezone);
    if (zoneProblem) reporter.reportBare(['schedule', 'timezone'], `schedule.timezone: ${zoneProblem.message}`);
    else if (cronZone !== undefined && cronZone !== schedule.timezone) {
      reporter.reportBare(
        ['schedule', 'timezone'],
        `schedule.timezone: ${schedule.timezone} conflicts with the cron's own zone ${cronZone}; Temporal refuses two zones, so give one`,
      );
    }
  }
  if (typeof schedule.overlap === 'string') {
    const overlapProblem = checkOverlap(schedule.overlap);
    if (overlapProblem) reporter.reportBare(['schedule', 'overlap'], `schedule.overlap: ${overlapProblem.message}`);
  }
}
