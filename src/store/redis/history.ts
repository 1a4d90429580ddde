/** The dashboard's history (store.history): buckets of counters by Redis's clock. */
import type { HistoryBucket } from '../../core/history';
import { pairsToRecord } from '../codec';
import type { HistoryStore } from '../concerns';
import type { RedisConn } from './conn';

export class RedisHistory implements HistoryStore {
  constructor(private readonly c: RedisConn) {}

  async record(
    bucketMs: number,
    keepMs: number,
    add: Record<string, number>,
    set: Record<string, string> = {},
  ): Promise<void> {
    const adds = Object.entries(add);
    await this.c.run('recordHistory', [bucketMs, keepMs, adds.length, ...adds.flat(), ...Object.entries(set).flat()]);
  }

  async read(bucketMs: number, windowMs: number): Promise<HistoryBucket[]> {
    const flat = await this.c.run<(string | string[])[]>('readHistory', [bucketMs, windowMs]);
    const out: HistoryBucket[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2)
      out.push({ at: Number(flat[i]), fields: pairsToRecord(flat[i + 1] as string[]) });
    return out;
  }
}
