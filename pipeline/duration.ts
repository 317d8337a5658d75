/**
 * Durations as people write them in pipeline YAML: `500ms`, `10s`, `2m`, `6h`, `1d`, and
 * combinations such as `1h30m` or `1m500ms`. Pure (no Node built-ins), so any layer may use it.
 */

const UNIT_MS = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1_000, ms: 1 } as const;

/**
 * Units must appear largest first and at most once, integers only. `30m1h` or `1.5h` are
 * rejected rather than guessed at: a typo in a timeout should fail validation, not run for a day.
 * `(?!s)` keeps the minutes group from swallowing the `m` of `ms`.
 */
const DURATION = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?$/;

/**
 * Parses a duration into milliseconds; `undefined` when the text is not a well-formed duration
 * (empty, unknown unit, units out of order or repeated, fractions, or too large to be exact).
 * `0s` is well-formed and yields 0; whether zero is acceptable is the caller's decision.
 */
export function parseDuration(text: string): number | undefined {
  const match = DURATION.exec(text);
  if (!match || text.length === 0) return undefined;
  const [, d, h, m, s, ms] = match;
  let total = 0;
  for (const [digits, unit] of [
    [d, UNIT_MS.d],
    [h, UNIT_MS.h],
    [m, UNIT_MS.m],
    [s, UNIT_MS.s],
    [ms, UNIT_MS.ms],
  ] as const) {
    if (digits !== undefined) total += Number(digits) * unit;
  }
  return Number.isSafeInteger(total) ? total : undefined;
}

/** Formats milliseconds the way parseDuration reads them, for messages: 90000 → `1m30s`. */
export function formatDuration(ms: number): string {
  if (!Number.isSafeInteger(ms) || ms < 0) return `${ms}ms`;
  if (ms === 0) return '0s';
  let rest = ms;
  let out = '';
  for (const unit of ['d', 'h', 'm', 's', 'ms'] as const) {
    const n = Math.floor(rest / UNIT_MS[unit]);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * UNIT_MS[unit];
  }
  return out;
}
