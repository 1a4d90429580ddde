/**
 * The datalake (store.lake): per shard, the buffer (a stream) finishing steps append to, each day's
 * counters, 0.1.0's day lists (read until pruned), and its settings (a copy in every shard's config).
 */
import { DatalakeConfig, LakeBatch, LakeDay, LakeRecord, lakeRecord } from '../../core/datalake';
import { decodeLakeConfig, decodeLakeDay, pairsToRecord } from '../codec';
import type { LakeStore } from '../concerns';
import { RedisKeys } from '../keys';
import { LAKE_FIELDS, scored } from './shared';
import type { RedisConn } from './conn';

/**
 * the records of one buffer entry (lib-lake.lua flushLake): after `day`, an `at` (its finishing
 * step's time) closes each line of an `o` (entries open at the end, one a line), an `n` holds whole
 * ones a line (its `at` unused), and an `r` one record (as an earlier build wrote them)
 */
function bufferedEntries(fields: string[]): string[] {
  const out: string[] = [];
  let at = '';
  for (let i = 2; i + 1 < fields.length; i += 2) {
    const value = fields[i + 1];
    if (fields[i] === 'at') at = value;
    else if (fields[i] === 'o') for (const line of value.split('\n')) out.push(`${line}${at}]`);
    else if (fields[i] === 'n') out.push(...value.split('\n'));
    else if (fields[i] === 'r') out.push(value);
  }
  return out;
}

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
    // every shard's days, their counters summed; a day's count is its `total` plus 0.1.0's list (LLEN)
    const per = await this.c.perShard(async (k) => {
      const days = await this.c.cmd<string[]>(['ZRANGE', k.lakeDays, 0, -1, 'WITHSCORES']);
      return Promise.all(
        scored(days).map(async ({ id: d, at }) => {
          const [stats, legacy] = await Promise.all([
            this.c.cmd<string[]>(['HGETALL', k.lakeStats(d)]),
            this.c.cmd<number>(['LLEN', k.lake(d)]),
          ]);
          const rec = pairsToRecord(stats);
          return { d, at, count: Number(rec.total ?? 0) + legacy, stats: rec };
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

  async legacy(day: string, offset: number, count: number): Promise<LakeRecord[]> {
    return (await this.lists(day, offset, count)).out.map(lakeRecord);
  }

  /** `count` of the day's records in each shard's 0.1.0 list from `offset`, and the offset left to skip past them */
  private async lists(day: string, offset: number, count: number): Promise<{ out: string[]; skip: number }> {
    const out: string[] = [];
    let skip = offset;
    for (const k of this.c.shards) {
      if (out.length >= count) break;
      const len = await this.c.cmd<number>(['LLEN', k.lake(day)]);
      if (skip >= len) {
        skip -= len;
        continue;
      }
      out.push(...(await this.c.cmd<string[]>(['LRANGE', k.lake(day), skip, skip + count - out.length - 1])));
      skip = 0;
    }
    return { out, skip };
  }

  async read(day: string, offset: number, count: number): Promise<LakeRecord[]> {
    // each shard's 0.1.0 list of the day, then each buffer's records of the day (a day not pruned), so paging by offset is exact
    const { out, skip: left } = await this.lists(day, offset, count);
    let skip = left;
    for (const k of this.c.shards) {
      // a day the retention dropped is gone, though its records may wait in a buffer no one drains
      if ((await this.c.cmd<string | null>(['ZSCORE', k.lakeDays, day])) === null) continue;
      for (let after = ''; out.length < count;) {
        const page = await this.pending(k.lakeBuffer, after, 1000);
        for (const b of page) {
          if (b.day !== day) continue;
          const take = b.entries.slice(skip, skip + count - out.length);
          skip = Math.max(0, skip - b.entries.length);
          out.push(...take);
        }
        if (page.length < 1000) break;
        after = page[page.length - 1].id;
      }
    }
    return out.slice(0, count).map(lakeRecord);
  }

  async buffers(): Promise<string[]> {
    return this.c.shards.map((k) => k.lakeBuffer);
  }

  async pending(buffer: string, after: string, count: number): Promise<LakeBatch[]> {
    const flat = await this.c.cmd<[string, string[]][]>([
      'XRANGE',
      buffer,
      after === '' ? '-' : `(${after}`,
      '+',
      'COUNT',
      count,
    ]);
    return flat.map(([id, fields]) => ({ id, day: fields[1], entries: bufferedEntries(fields) }));
  }

  async trim(buffer: string, through: string): Promise<void> {
    const [ms, seq] = through.split('-');
    await this.c.cmd(['XTRIM', buffer, 'MINID', '=', `${ms}-${Number(seq) + 1}`]);
  }

  async backlog(): Promise<number> {
    const lens = await this.c.perShard((k) => this.c.cmd<number>(['XLEN', k.lakeBuffer]));
    return lens.reduce((a, b) => a + b, 0);
  }

  async prune(): Promise<string[]> {
    const per = await this.c.perShard((k) => this.c.run<string[]>('pruneDatalake', [], k));
    return [...new Set(per.flat())].sort();
  }
}
