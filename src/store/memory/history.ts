/** The dashboard's history (store.history), as the Redis adapter's redis/history.ts (recordHistory.lua, readHistory.lua). */
import type { HistoryBucket } from '../../core/history';
import type { HistoryStore } from '../concerns';
import type { MemoryCore } from './core';
import { Rec, getOr } from './structures';

export class MemoryHistory implements HistoryStore {
  constructor(private readonly m: MemoryCore) {}

  async record(
    bucketMs: number,
    keepMs: number,
    add: Record<string, number>,
    set: Record<string, string> = {},
  ): Promise<void> {
    const now = this.m.step();
    this.sweepHistory(now);
    const start = now - (now % bucketMs);
    const bucket = getOr(this.m.history, start, () => ({ fields: {} as Rec, until: 0 }));
    for (const [field, n] of Object.entries(add)) bucket.fields[field] = String(Number(bucket.fields[field] ?? 0) + n);
    Object.assign(bucket.fields, set);
    bucket.until = now + keepMs;
  }

  async read(bucketMs: number, windowMs: number): Promise<HistoryBucket[]> {
    const now = this.m.step();
    this.sweepHistory(now);
    const last = now - (now % bucketMs);
    return [...this.m.history]
      .filter(([start]) => start > now - windowMs && start <= last)
      .sort(([a], [b]) => a - b)
      .map(([at, { fields }]) => ({ at, fields: { ...fields } }));
  }

  private sweepHistory(now: number): void {
    for (const [start, { until }] of this.m.history) if (until <= now) this.m.history.delete(start);
  }
}
