/** The history's pure parts: run-time bins, percentiles from bins, a bucket as a point, the recorder's batching. */
import {
  binQuantile,
  durationBin,
  DURATION_BOUNDS_MS,
  HISTORY,
  historyPoint,
  HistoryRecorder,
} from '../../src/core/history';

test('a run time falls in the first bin whose bound is at least it; beyond the last bound, the open bin', () => {
  expect([0, 1, 1.5, 2, 100, 101, 300_000, 300_001, Infinity].map(durationBin)).toEqual([0, 0, 1, 1, 6, 7, 15, 16, 16]);
  expect(DURATION_BOUNDS_MS).toHaveLength(17);
});

test('a percentile is the bound of the bin its rank falls in', () => {
  const bins = new Array(17).fill(0);
  bins[2] = 50; // 50 jobs within 5 ms
  bins[6] = 45; // 45 within 100 ms
  bins[9] = 5; // 5 within 1 s
  expect([
    binQuantile(bins, 0.5),
    binQuantile(bins, 0.51),
    binQuantile(bins, 0.95),
    binQuantile(bins, 0.96),
    binQuantile(bins, 0.99),
  ]).toEqual([5, 100, 100, 1000, 1000]);
  expect(binQuantile(new Array(17).fill(0), 0.5)).toBeNull();
  const open = new Array(17).fill(0);
  open[16] = 1;
  expect(binQuantile(open, 0.5)).toBe(300_000); // the open bin answers its floor
});

test('a bucket as GET /metrics/history answers it: counts default to 0, samples to null', () => {
  expect(
    historyPoint({ at: Date.UTC(2026, 0, 1), fields: { done: '4', d0: '3', d5: '1', sum: '12345678901234567890' } }),
  ).toEqual({
    at: '2026-01-01T00:00:00.000Z',
    done: 4,
    failed: 0,
    p50_ms: 1,
    p95_ms: 50,
    p99_ms: 50,
    waiting: null,
    active: null,
    delayed: null,
    sum: '12345678901234567890',
  });
});

test('the recorder sends its counts in one call, and keeps them for the next when the store is away', async () => {
  const calls: Record<string, number>[] = [];
  let away = true;
  const r = new HistoryRecorder({
    async record(bucketMs, keepMs, add) {
      expect([bucketMs, keepMs]).toEqual([HISTORY.bucketMs, HISTORY.keepMs]);
      if (away) throw new Error('store away');
      calls.push(add);
    },
  });
  r.done(3);
  r.done(40);
  r.failed();
  await r.flush();
  expect(calls).toEqual([]);
  away = false;
  r.done(3);
  await r.flush();
  await r.flush(); // nothing new: no call
  expect(calls).toEqual([{ done: 3, d2: 2, d5: 1, failed: 1 }]);
});
