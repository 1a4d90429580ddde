/** Schedules' timing (core/schedule.ts): the slots due at a time, for every_ms and cron with a time zone, and what is refused. */
import { checkTiming, dueSlots, nextSlot, Schedule, slotKey } from '../../src/core/schedule';

const base: Schedule = {
  name: 's',
  type: 'sim',
  params: {},
  everyMs: null,
  cron: null,
  tz: null,
  size: 1,
  queue: 'bots',
  builtin: false,
  createdAt: 0,
};
const t = (s: string) => Date.parse(s);
const isoOf = (ms: number[]) => ms.map((m) => new Date(m).toISOString());

test('every_ms: the slots in the catch-up window, none from before the schedule was made', () => {
  const s = { ...base, everyMs: 10_000 };
  expect(isoOf(dueSlots(s, t('2026-03-10T12:00:35.500Z'), 25_000))).toEqual([
    '2026-03-10T12:00:20.000Z',
    '2026-03-10T12:00:30.000Z',
  ]);
  expect(
    isoOf(dueSlots({ ...s, createdAt: t('2026-03-10T12:00:25.000Z') }, t('2026-03-10T12:00:35.500Z'), 25_000)),
  ).toEqual(['2026-03-10T12:00:30.000Z']);
  expect(dueSlots({ ...s, createdAt: t('2026-03-10T12:00:31.000Z') }, t('2026-03-10T12:00:35.500Z'), 25_000)).toEqual(
    [],
  ); // its first slot is 12:00:40
  expect(isoOf(dueSlots(s, t('2026-03-10T12:00:35.500Z'), 1_000))).toEqual([]); // 12:00:30 is past the window
});

test("seed 004's batch: its current slot whenever it is seen, and only that one", () => {
  const seed = { ...base, everyMs: 600_000, builtin: true, createdAt: t('2026-03-10T12:09:00.000Z') };
  expect(isoOf(dueSlots(seed, t('2026-03-10T12:09:59.000Z'), 25_000))).toEqual(['2026-03-10T12:00:00.000Z']);
});

test('cron: the occurrences in the window, in its time zone (seconds field too)', () => {
  const daily = { ...base, cron: '0 9 * * *', tz: 'America/New_York' };
  // 09:00 in New York on 10 March 2026 (after the DST change of 8 March) is 13:00 UTC
  expect(isoOf(dueSlots(daily, t('2026-03-10T13:00:05.000Z'), 10_000))).toEqual(['2026-03-10T13:00:00.000Z']);
  expect(dueSlots(daily, t('2026-03-10T13:00:15.000Z'), 10_000)).toEqual([]);
  expect(new Date(nextSlot(daily, t('2026-03-10T13:00:15.000Z'))!).toISOString()).toBe('2026-03-11T13:00:00.000Z');
  const twoSeconds = { ...base, cron: '*/2 * * * * *' };
  expect(isoOf(dueSlots(twoSeconds, t('2026-03-10T12:00:05.100Z'), 5_000))).toEqual([
    '2026-03-10T12:00:02.000Z',
    '2026-03-10T12:00:04.000Z',
  ]);
  expect(isoOf(dueSlots(twoSeconds, t('2026-03-10T12:00:04.000Z'), 1_000))).toEqual(['2026-03-10T12:00:04.000Z']);
});

test("each slot has its own once-key; seed 004's batch keeps the key it had", () => {
  expect(slotKey({ ...base, name: 'n', everyMs: 1000 }, 5000)).toBe('schedule:n:5000');
  expect(slotKey({ ...base, name: 'seed-batch', everyMs: 1000, builtin: true }, 5000)).toBe('batch:1000:5');
});

test.each([
  [{}, 'every_ms', 'give exactly one of every_ms and cron'],
  [{ every_ms: 1000, cron: '* * * * *' }, 'every_ms', 'give exactly one of every_ms and cron'],
  [{ every_ms: 1000, tz: 'UTC' }, 'tz', 'tz goes with cron only'],
  [
    { cron: '* * * * *', tz: 'Mars/Olympus' },
    'tz',
    "tz must be an IANA time zone (e.g. Europe/Paris), got 'Mars/Olympus'",
  ],
  [{ cron: '61 * * * *' }, 'cron', /^cron is not a cron expression: /],
])('timing %j is refused naming %s', (timing, field, message) => {
  let err: { message: string; details: { field: string }[] } | undefined;
  try {
    checkTiming(timing);
  } catch (e) {
    err = e as typeof err;
  }
  expect(err?.details[0].field).toBe(field);
  expect(err?.message).toMatch(message);
});
