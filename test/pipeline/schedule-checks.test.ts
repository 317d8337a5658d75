/**
 * The schedule checks against Temporal's own rules (service/worker/scheduler/calendar.go in the
 * server; the cron grammar documented on the TypeScript SDK's ScheduleSpec.cronExpressions).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ScheduleOverlapPolicy } from '@temporalio/client';
import { checkCron, checkOverlap, checkTimeZone, OVERLAP_POLICIES } from '../../pipeline/schedule-checks';

describe('cron strings as Temporal reads them', () => {
  const accepted = [
    '0 3 * * *',
    '*/15 * * * *',
    '0 12 * * MON-WED,FRI',
    '0 0 1 jan,jul *',
    '30 4 1-15/2 * su',
    '0 3 * * 7',
    '0 3 * * * 2030',
    '15 0 3 * * * 2000-2100',
    '@daily',
    '@annually',
    '@every 12h',
    '@every 1d/3h',
    '0 3 * * * # nightly retrain',
    'CRON_TZ=Asia/Seoul 0 3 * * *',
    'TZ=UTC @hourly',
  ];
  for (const cron of accepted) {
    test(`"${cron}" is accepted`, () => {
      assert.equal(checkCron(cron).problem, undefined);
    });
  }

  const refused: [cron: string, message: string, at: number][] = [
    ['0 25 * * *', 'hour 25 is out of range: hour takes 0-23 (field 2 of 5', 2],
    ['60 * * * *', 'minute 60 is out of range: minute takes 0-59', 0],
    ['0 0 0 * *', 'day-of-month 0 is out of range: day-of-month takes 1-31', 4],
    ['0 0 1 13 *', 'month 13 is out of range: month takes 1-12 or month names', 6],
    ['0 0 * * 8', 'day-of-week 8 is out of range: day-of-week takes 0-7 or day names', 8],
    ['0 0 * * * 1999', 'year 1999 is out of range: year takes 2000-2100 (field 6 of 6', 10],
    ['0 0 * ma *', 'month "ma" is not a number or a name', 6],
    ['*/0 * * * *', 'minute step "0" must be a whole number of at least 1', 0],
    ['0 5-3 * * *', 'hour range "5-3" ends before it starts', 2],
    ['0 1-2-3 * * *', 'hour range "1-2-3" is malformed', 2],
    ['0 3 * *', 'has 4 fields: Temporal takes 5 fields', 0],
    ['0 0 3 * * * * *', 'has 8 fields', 0],
    ['@fortnightly', 'unknown shorthand "@fortnightly"', 0],
    ['@every soon', '@every takes an interval and an optional phase', 0],
    ['CRON_TZ=Asia/Seoul', 'CRON_TZ=<zone> must be followed by the schedule', 0],
  ];
  for (const [cron, message, at] of refused) {
    test(`"${cron}" is refused: ${message}`, () => {
      const { problem } = checkCron(cron);
      assert.ok(problem?.message.includes(message), problem?.message);
      assert.equal(problem?.at, at);
    });
  }

  test('a CRON_TZ= prefix hands its zone, and where it stands, to the time zone check', () => {
    assert.deepEqual(checkCron('CRON_TZ=Asia/Seoul 0 3 * * *').timeZone, { name: 'Asia/Seoul', at: 8 });
  });
});

describe('time zones as the server loads them', () => {
  for (const zone of ['Asia/Seoul', 'UTC', 'America/Los_Angeles', 'US/Pacific', 'Etc/GMT+9', 'Europe/Berlin']) {
    test(`${zone} is accepted`, () => assert.equal(checkTimeZone(zone), undefined));
  }
  const refused: [zone: string, suggestion: string][] = [
    ['Asia/Seul', '(did you mean Asia/Seoul?)'],
    ['Seoul', '(did you mean Asia/Seoul?)'],
    ['asia/seoul', '(did you mean Asia/Seoul?)'],
    ['Asia/Tokio', 'Asia/Tokyo'],
    ['+09:00', 'unknown time zone "+09:00"'],
    ['Mars/Olympus_Mons', 'give an IANA name such as Asia/Seoul or UTC'],
  ];
  for (const [zone, fragment] of refused) {
    test(`${zone} is refused: ${fragment}`, () => {
      const problem = checkTimeZone(zone);
      assert.ok(problem?.message.includes(fragment), problem?.message);
    });
  }
});

describe('overlap policies', () => {
  test('every Temporal ScheduleOverlapPolicy has exactly one name in a pipeline file', () => {
    const policies = Object.values(ScheduleOverlapPolicy).filter((p) => p !== undefined);
    assert.deepEqual(Object.values(OVERLAP_POLICIES).sort(), [...policies].sort());
    assert.deepEqual(Object.keys(OVERLAP_POLICIES), [
      'skip',
      'buffer-one',
      'buffer-all',
      'cancel-other',
      'terminate-other',
      'allow-all',
    ]);
    for (const name of Object.keys(OVERLAP_POLICIES)) assert.equal(checkOverlap(name), undefined);
  });

  test('a policy spelled the server’s way is pointed to its pipeline name', () => {
    assert.match(
      checkOverlap('BUFFER_ONE')?.message ?? '',
      /unknown overlap policy "BUFFER_ONE" \(did you mean "buffer-one"\?\)/,
    );
  });
});
