/**
 * The cluster's recent history, for the dashboard's charts: fixed-size buckets of HISTORY.bucketMs
 * (10 s) in the store, each kept HISTORY.keepMs (a little over an hour) and then gone, so nothing
 * grows without bound and every API node and browser reads the same lines.
 *
 * A bucket is a set of fields:
 * - counts, added by the process that saw the event (HINCRBY): `done` (jobs a worker or bot
 *   finished with a result: a prime count's chunks, not the count they finish), `failed`
 *   (attempts a worker or bot reported as an error: retried, failed or dead; not lapsed leases),
 *   and `d0`..`d16`, how many of the done jobs ran within each of DURATION_BOUNDS_MS;
 * - samples, set by one API node about every 5 s (the last one in the bucket stays): `waiting`,
 *   `active`, `delayed` (every queue together) and `sum` (the abacus).
 * The processes gather their counts and send them once a second (HistoryRecorder), never on a
 * job's own path.
 */

export const HISTORY = {
  bucketMs: 10_000,
  /** a bucket is kept this long after it was last written: the longest window and a bucket more */
  keepMs: 60 * 60 * 1000 + 20_000,
  /** how often a process sends what it counted */
  flushMs: 1_000,
  /** how often the API nodes sample queue depth and the sum (one of them, by a lock) */
  sampleMs: 5_000,
} as const;

/** the windows GET /metrics/history answers for */
export const HISTORY_WINDOWS = { '5m': 5 * 60_000, '15m': 15 * 60_000, '1h': 60 * 60_000 } as const;
export type HistoryWindow = keyof typeof HISTORY_WINDOWS;

/** run-time bins: a done job that ran `ms` is counted in the first bin whose bound is >= ms */
export const DURATION_BOUNDS_MS = [
  1,
  2,
  5,
  10,
  25,
  50,
  100,
  250,
  500,
  1000,
  2500,
  5000,
  10_000,
  30_000,
  60_000,
  300_000,
  Infinity,
] as const;

export const durationBin = (ms: number): number => {
  let i = 0;
  while (ms > DURATION_BOUNDS_MS[i]) i++;
  return i;
};

/** each bin's field in a bucket: d0, d1, ... */
const DURATION_FIELDS = DURATION_BOUNDS_MS.map((_b, i) => `d${i}`);

/** one bucket as the store keeps it: its start and its fields (numbers as the store wrote them) */
export interface HistoryBucket {
  at: number;
  fields: Record<string, string>;
}

/** one bucket as GET /metrics/history answers it */
export interface HistoryPoint {
  at: string;
  done: number;
  failed: number;
  /** run-time percentiles of the done jobs: the upper bound of the bin the rank falls in (ms) */
  p50_ms: number | null;
  p95_ms: number | null;
  p99_ms: number | null;
  /** the last sample in the bucket, or null when none was taken in it */
  waiting: number | null;
  active: number | null;
  delayed: number | null;
  /** the abacus sum, a decimal string (it may exceed 2^53) */
  sum: string | null;
}

/** the q-quantile of binned counts, as the bound of its bin (the last finite bound for the open bin) */
export function binQuantile(bins: number[], q: number): number | null {
  const total = bins.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (let i = 0; i < bins.length; i++) {
    seen += bins[i];
    if (seen >= rank) return Number.isFinite(DURATION_BOUNDS_MS[i]) ? DURATION_BOUNDS_MS[i] : DURATION_BOUNDS_MS[i - 1];
  }
  return null;
}

export function historyPoint({ at, fields }: HistoryBucket): HistoryPoint {
  const int = (k: string) => (fields[k] === undefined ? 0 : Number(fields[k]));
  const sample = (k: string) => (fields[k] === undefined ? null : Number(fields[k]));
  const bins = DURATION_FIELDS.map(int);
  return {
    at: new Date(at).toISOString(),
    done: int('done'),
    failed: int('failed'),
    p50_ms: binQuantile(bins, 0.5),
    p95_ms: binQuantile(bins, 0.95),
    p99_ms: binQuantile(bins, 0.99),
    waiting: sample('waiting'),
    active: sample('active'),
    delayed: sample('delayed'),
    sum: fields.sum ?? null,
  };
}

/** what a store needs to write history (its history part, store.history): the one method, so the recorder works with either store */
export interface HistoryWriter {
  record(bucketMs: number, keepMs: number, add: Record<string, number>, set?: Record<string, string>): Promise<void>;
}

/**
 * Counts a process's finished jobs in memory and sends them to the current bucket every
 * HISTORY.flushMs in one store call. What a send could not deliver (the store is away) is kept
 * and sent with the next one; the fields are few and fixed, so it stays small.
 */
export class HistoryRecorder {
  private pending: Record<string, number> = {};
  private timer: NodeJS.Timeout | null = null;
  private sending: Promise<void> | null = null;

  constructor(
    private readonly store: HistoryWriter,
    private readonly flushMs: number = HISTORY.flushMs,
  ) {}

  /** a job that finished with a result after running `ms` */
  done(ms: number): void {
    this.count('done', 1);
    this.count(DURATION_FIELDS[durationBin(ms)], 1);
  }

  /** an attempt that ended in an error */
  failed(): void {
    this.count('failed', 1);
  }

  private count(field: string, n: number): void {
    this.pending[field] = (this.pending[field] ?? 0) + n;
  }

  start(): this {
    this.timer ??= setInterval(() => void this.flush(), this.flushMs);
    this.timer.unref();
    return this;
  }

  /** send what was counted (one call); resolves when sent or kept for the next time */
  flush(): Promise<void> {
    this.sending ??= this.send().finally(() => (this.sending = null));
    return this.sending;
  }

  private async send(): Promise<void> {
    const add = this.pending;
    if (Object.keys(add).length === 0) return;
    this.pending = {};
    try {
      await this.store.record(HISTORY.bucketMs, HISTORY.keepMs, add);
    } catch {
      for (const [k, n] of Object.entries(add)) this.count(k, n);
    }
  }

  /** stop the timer and send the rest */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.flush();
  }
}
