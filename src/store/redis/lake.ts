/** The datalake (store.lake): finished jobs by UTC day, a list per shard, and its settings (a copy in every shard's config). */
import { DatalakeConfig, LakeDay, LakeRecord, lakeRecord } from '../../core/datalake';
import { decodeLakeConfig, decodeLakeDay, pairsToRecord } from '../codec';
import type { LakeStore } from '../concerns';
import { RedisKeys } from '../keys';
import { LAKE_FIELDS, scored } from './shared';
import type { RedisConn } from './conn';

export class RedisLake implements LakeStore {
  constructor(private readonly c: RedisConn) {
    c.onNewShards((shards) => this.copySettings(shards));
  }

  /** new shards get the datalake settings shard 0 has (lib.lua reads its own shard's) */
  private async copySettings(shards: RedisKeys[]): Promise<void> {
    const values = await this.c.cmd<(string | null)[]>(['HMGET', this.c.keys.config, ...LAKE_FIELDS]);
    const fields = LAKE_FIELDS.flatMap((f, i) => (values[i] === null ? [] : [f, values[i]!]));
    if (fields.length) await Promise.all(shards.map((k) => this.c.cmd(['HSET', k.config, ...fields])));
  }

  async config(): Promise<DatalakeConfig> {
    const [records, days] = await this.c.cmd<(string | null)[]>([
      'HMGET',
      this.c.keys.config,
      'datalake',
      'datalake_retention_days',
    ]);
    return decodeLakeConfig(records, days);
  }

  async configure(config: Partial<DatalakeConfig>): Promise<void> {
    const fields: string[] = [];
    if (config.records !== undefined) fields.push('datalake', config.records);
    if (config.retentionDays !== undefined) fields.push('datalake_retention_days', String(config.retentionDays));
    if (fields.length) await this.c.perShard((k) => this.c.cmd(['HSET', k.config, ...fields])); // each shard's scripts read their own copy
  }

  async days(): Promise<LakeDay[]> {
    // every shard's days, their counts and counters summed
    const per = await this.c.perShard(async (k) => {
      const days = await this.c.cmd<string[]>(['ZRANGE', k.lakeDays, 0, -1, 'WITHSCORES']);
      return Promise.all(
        scored(days).map(async ({ id: d, at }) => {
          const [stats, count] = await Promise.all([
            this.c.cmd<string[]>(['HGETALL', k.lakeStats(d)]),
            this.c.cmd<number>(['LLEN', k.lake(d)]),
          ]);
          return { d, at, count, stats: pairsToRecord(stats) };
        }),
      );
    });
    const days = new Map<string, { at: number; count: number; stats: Record<string, string> }>();
    for (const { d, at, count, stats } of per.flat()) {
      const had = days.get(d);
      if (!had) days.set(d, { at, count, stats });
      else {
        had.count += count;
        for (const [f, v] of Object.entries(stats)) had.stats[f] = String(Number(had.stats[f] ?? 0) + Number(v));
      }
    }
    return [...days]
      .sort((a, b) => a[1].at - b[1].at || (a[0] < b[0] ? -1 : 1))
      .map(([d, v]) => decodeLakeDay(d, v.count, v.stats));
  }

  async read(day: string, offset: number, count: number): Promise<LakeRecord[]> {
    // the shards' lists of the day one after the other (shard 0's first), so paging by offset is exact
    const out: string[] = [];
    let skip = offset;
    for (const k of this.c.shards) {
      if (out.length >= count) break;
      const len = this.c.shards.length === 1 ? Infinity : await this.c.cmd<number>(['LLEN', k.lake(day)]);
      if (skip >= len) {
        skip -= len;
        continue;
      }
      out.push(...(await this.c.cmd<string[]>(['LRANGE', k.lake(day), skip, skip + count - out.length - 1])));
      skip = 0;
    }
    return out.map(lakeRecord);
  }

  async prune(): Promise<string[]> {
    const per = await this.c.perShard((k) => this.c.run<string[]>('pruneDatalake', [], k));
    return [...new Set(per.flat())].sort();
  }
}
