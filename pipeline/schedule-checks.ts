/**
 * Checks of a pipeline's `schedule:` block as Temporal will make them when `fairline schedule
 * apply` creates the schedule, so that `fairline validate` refuses what the server would refuse
 * later (one of those refusals used to surface as a stack trace). The cron grammar and ranges
 * follow the Temporal server's parser (service/worker/scheduler/calendar.go: parseCronString,
 * makeRange, parseValue); time zones are the IANA names the server loads.
 */
import { ScheduleOverlapPolicy } from '@temporalio/client';
import { editDistance } from './validate/wording';

/** A problem in one schedule value; `at` is the offset of the offending part inside the string, when there is one. */
export interface ScheduleValueProblem {
  readonly message: string;
  readonly at?: number;
}

/**
 * `overlap:` values: Temporal's ScheduleOverlapPolicy names, written in lower case with dashes
 * (`BUFFER_ONE` → `buffer-one`), each mapped to the policy it stands for.
 */
export const OVERLAP_POLICIES: Readonly<Record<string, ScheduleOverlapPolicy>> = Object.fromEntries(
  Object.entries(ScheduleOverlapPolicy)
    .filter((entry): entry is [string, ScheduleOverlapPolicy] => entry[1] !== undefined)
    .map(([name, policy]) => [name.toLowerCase().replace(/_/g, '-'), policy]),
);

/** The problem with an `overlap:` value, if any. */
export function checkOverlap(value: string): ScheduleValueProblem | undefined {
  if (Object.hasOwn(OVERLAP_POLICIES, value)) return undefined;
  const normalized = value.toLowerCase().replace(/[_\s]+/g, '-');
  const hint = Object.hasOwn(OVERLAP_POLICIES, normalized) ? ` (did you mean "${normalized}"?)` : '';
  return {
    message: `unknown overlap policy ${JSON.stringify(value)}${hint}: Temporal's policies are ${Object.keys(OVERLAP_POLICIES).join(', ')}`,
  };
}

/**
 * Every IANA zone name this Node knows, canonical ones only (aliases such as US/Pacific are accepted but not listed).
 */
let zoneNames: readonly string[] | undefined;
const knownZones = (): readonly string[] => (zoneNames ??= [...Intl.supportedValuesOf('timeZone'), 'UTC']);

/**
 * The problem with a time zone name, if any. The server loads zones by exact name (IANA names,
 * aliases included, case-sensitive); Intl knows the same database, so a name Intl cannot load, or
 * loads only by ignoring case, is refused, with the nearest known names as suggestions.
 */
export function checkTimeZone(name: string): ScheduleValueProblem | undefined {
  let resolved: string | undefined;
  try {
    // Offsets (+09:00) load in Intl but are not zone names to the server.
    if (/^[A-Za-z]/.test(name)) resolved = new Intl.DateTimeFormat('en', { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    resolved = undefined;
  }
  if (resolved !== undefined && !(resolved !== name && resolved.toLowerCase() === name.toLowerCase())) return undefined;
  const suggestions = resolved !== undefined ? [resolved] : nearestZones(name);
  const hint = suggestions.length > 0 ? ` (did you mean ${suggestions.join(' or ')}?)` : '';
  return { message: `unknown time zone ${JSON.stringify(name)}${hint}: give an IANA name such as Asia/Seoul or UTC` };
}

/** Known zones whose city matches `name`'s, or that are a couple of edits away from it. */
function nearestZones(name: string): string[] {
  const lower = name.toLowerCase();
  const city = (zone: string): string => zone.slice(zone.lastIndexOf('/') + 1).toLowerCase();
  const wanted = city(lower).replace(/[\s-]+/g, '_');
  const sameCity = knownZones().filter((z) => city(z) === wanted);
  if (sameCity.length > 0) return sameCity.slice(0, 3);
  const scored = knownZones()
    .map((zone) => ({ zone, distance: editDistance(lower, zone.toLowerCase()) }))
    .filter((s) => s.distance <= Math.max(2, Math.floor(name.length / 4)))
    .sort((a, b) => a.distance - b.distance || a.zone.localeCompare(b.zone));
  return scored.slice(0, 3).map((s) => s.zone);
}

/** A cron field: its name and the values Temporal takes in it. */
interface CronField {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  /** Names accepted as values: month names (3+ letters) or day names (2+ letters), by prefix. */
  readonly names?: { readonly list: readonly string[]; readonly minLength: number; readonly first: number };
}

const SECOND: CronField = { name: 'second', min: 0, max: 59 };
const MINUTE: CronField = { name: 'minute', min: 0, max: 59 };
const HOUR: CronField = { name: 'hour', min: 0, max: 23 };
const DAY_OF_MONTH: CronField = { name: 'day-of-month', min: 1, max: 31 };
const MONTH: CronField = {
  name: 'month',
  min: 1,
  max: 12,
  names: {
    list: [
      'january',
      'february',
      'march',
      'april',
      'may',
      'june',
      'july',
      'august',
      'september',
      'october',
      'november',
      'december',
    ],
    minLength: 3,
    first: 1,
  },
};
const DAY_OF_WEEK: CronField = {
  name: 'day-of-week',
  min: 0,
  max: 7,
  names: {
    list: ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'],
    minLength: 2,
    first: 0,
  },
};
/** The server recognizes calendar years 2000 to 2100. */
const YEAR: CronField = { name: 'year', min: 2000, max: 2100 };

/** The field layouts by field count. */
const LAYOUTS: Readonly<Record<number, readonly CronField[]>> = {
  5: [MINUTE, HOUR, DAY_OF_MONTH, MONTH, DAY_OF_WEEK],
  6: [MINUTE, HOUR, DAY_OF_MONTH, MONTH, DAY_OF_WEEK, YEAR],
  7: [SECOND, MINUTE, HOUR, DAY_OF_MONTH, MONTH, DAY_OF_WEEK, YEAR],
};
const SHORTHANDS = ['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly'];
/** Temporal's durations: Go's units plus `d`. */
const TEMPORAL_DURATION = /^[+-]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h|d))+$|^0$/;

const describeLayouts =
  'Temporal takes 5 fields (minute hour day-of-month month day-of-week), 6 (… year) or 7 (second … year)';

/**
 * The problem with a cron string, if any, and the time zone it names with a `TZ=`/`CRON_TZ=`
 * prefix (to be checked like `timezone:`).
 */
export function checkCron(cron: string): { problem?: ScheduleValueProblem; timeZone?: { name: string; at: number } } {
  // A trailing `# comment` is Temporal's, not part of the expression.
  const hash = cron.indexOf('#');
  let text = hash >= 0 ? cron.slice(0, hash) : cron;
  let base = 0;
  let timeZone: { name: string; at: number } | undefined;
  const prefix = /^\s*(CRON_TZ=|TZ=)/.exec(text);
  if (prefix) {
    const space = text.indexOf(' ', prefix[0].length);
    if (space < 0)
      return {
        problem: {
          message: `cron ${JSON.stringify(cron)}: ${prefix[1]}<zone> must be followed by the schedule`,
          at: 0,
        },
      };
    timeZone = { name: text.slice(prefix[0].length, space), at: prefix[0].length };
    base = space + 1;
    text = text.slice(base);
  }
  const trimmed = text.trim();
  const at = (offset: number): number => base + offset;
  const withZone = (problem: ScheduleValueProblem | undefined) => ({
    ...(problem ? { problem } : {}),
    ...(timeZone ? { timeZone } : {}),
  });

  if (trimmed.startsWith('@every')) {
    const rest = /^(\s*@every)(?:\s+(\S+))?\s*$/.exec(text);
    const [interval, phase, extra] = (rest?.[2] ?? '').split('/');
    const bad = [interval, phase].find((d) => d !== undefined && !TEMPORAL_DURATION.test(d));
    if (!rest || rest[2] === undefined || bad !== undefined || extra !== undefined) {
      return withZone({
        message: `cron ${JSON.stringify(cron)}: @every takes an interval and an optional phase, such as "@every 12h" or "@every 1d/3h" (units ns, us, ms, s, m, h, d)`,
        at: at(text.indexOf('@every')),
      });
    }
    return withZone(undefined);
  }
  if (trimmed.startsWith('@')) {
    if (SHORTHANDS.includes(trimmed)) return withZone(undefined);
    return withZone({
      message: `cron ${JSON.stringify(cron)}: unknown shorthand ${JSON.stringify(trimmed)}; Temporal takes ${SHORTHANDS.join(', ')} and @every <interval>`,
      at: at(text.indexOf('@')),
    });
  }

  const fields = [...text.matchAll(/\S+/g)].map((m) => ({ text: m[0], at: at(m.index) }));
  const layout = LAYOUTS[fields.length];
  if (layout === undefined)
    return withZone({
      message: `cron ${JSON.stringify(cron)} has ${fields.length} field${fields.length === 1 ? '' : 's'}: ${describeLayouts}`,
      at: fields[0]?.at ?? 0,
    });
  for (const [i, field] of fields.entries()) {
    const spec = layout[i]!;
    const message = checkCronField(field.text, spec);
    if (message !== undefined) {
      return withZone({
        message: `cron ${JSON.stringify(cron)}: ${message} (field ${i + 1} of ${fields.length}: ${layout.map((f) => f.name).join(' ')})`,
        at: field.at,
      });
    }
  }
  return withZone(undefined);
}

/**
 * What is wrong with one field (`*`, `5`, `1-5`, `*\/15`, `MON-FRI`, lists of those), as Temporal's makeRange reads it.
 */
function checkCronField(text: string, field: CronField): string | undefined {
  const takes = `${field.name} takes ${field.min}-${field.max}${field.names ? ` or ${field.name === 'month' ? 'month' : 'day'} names` : ''}`;
  for (const part of text.split(',')) {
    let body = part;
    if (part.includes('/')) {
      const pieces = part.split('/');
      if (pieces.length !== 2) return `${field.name} ${JSON.stringify(part)} is malformed: one "/" per part`;
      body = pieces[0]!;
      const step = Number(pieces[1]);
      if (!/^[+-]?\d+$/.test(pieces[1]!) || step < 1)
        return `${field.name} step ${JSON.stringify(pieces[1])} must be a whole number of at least 1`;
    }
    if (body === '*') continue;
    if (body.includes('-')) {
      const ends = body.split('-');
      if (ends.length !== 2) return `${field.name} range ${JSON.stringify(body)} is malformed: a range is start-end`;
      const start = valueOf(ends[0]!, field);
      if (typeof start === 'string') return `${start}: ${takes}`;
      const end = valueOf(ends[1]!, field);
      if (typeof end === 'string') return `${end}: ${takes}`;
      if (end < start) return `${field.name} range ${JSON.stringify(body)} ends before it starts`;
      continue;
    }
    const value = valueOf(body, field);
    if (typeof value === 'string') return `${value}: ${takes}`;
  }
  return undefined;
}

/** The number a field value stands for, or what is wrong with it. */
function valueOf(text: string, field: CronField): number | string {
  if (field.names && text.length >= field.names.minLength) {
    const lower = text.toLowerCase();
    const index = field.names.list.findIndex((name) => name.startsWith(lower));
    if (index >= 0) return index + field.names.first;
  }
  if (!/^[+-]?\d+$/.test(text))
    return `${field.name} ${JSON.stringify(text)} is not a number${field.names ? ' or a name' : ''}`;
  const n = Number(text);
  return n < field.min || n > field.max ? `${field.name} ${n} is out of range` : n;
}
