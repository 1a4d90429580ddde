/**
 * The in-memory datalake's data (memory/core.ts holds it; memory/lake.ts is the part): what
 * lib.lua's appendToLake and pruneDatalake.lua do to Redis, on the same data (a list of JSON
 * lines and a counters record per UTC day, the config).
 */
import {
  compareLakeIds,
  DAY_MS,
  DatalakeConfig,
  LakeBatch,
  LakeDay,
  lakeEntry,
  LakeRecord,
  lakeRecord,
  lakeRecords,
  utcDay,
} from '../../core/datalake';
import type { JobType } from '../../core/job';
import { decodeLakeConfig } from '../codec';

interface Day {
  start: number;
  stats: LakeDay;
}

/** the one buffer's name (a Redis store has one per shard) */
export const MEMORY_BUFFER = 'buffer';

export class LakeData {
  /** the config hash's fields */
  private readonly settings: { datalake?: string; datalake_retention_days?: string } = {};
  private readonly days = new Map<string, Day>();
  /** the buffer, oldest first; ids '<ms>-<seq>' as a Redis stream's, increasing across restarts (the clock's) */
  private buffer: LakeBatch[] = [];
  private last = { ms: 0, seq: 0 };

  config(): DatalakeConfig {
    return decodeLakeConfig(this.settings.datalake, this.settings.datalake_retention_days);
  }

  configure(config: Partial<DatalakeConfig>): void {
    if (config.records !== undefined) this.settings.datalake = config.records;
    if (config.retentionDays !== undefined) this.settings.datalake_retention_days = String(config.retentionDays);
  }

  /** a job record (hash fields) has just finished in state `to` at `now`, with this result or error */
  append(
    id: string,
    rec: Record<string, string>,
    to: string,
    now: number,
    outcome: { result?: string; error?: string },
  ): void {
    if (rec.parent_id || !lakeRecords(this.config().records, rec.type as JobType)) return;
    const startedAt = rec.started_at ? Number(rec.started_at) : null;
    const line = lakeEntry(
      id,
      rec.type,
      rec.queue ?? '',
      to,
      outcome.result ?? '',
      outcome.error ?? '',
      Number(rec.attempts ?? 0),
      rec.initiated_by ?? '',
      rec.handled_by ?? '',
      Number(rec.created_at),
      startedAt,
      now,
    );
    const date = utcDay(now);
    let day = this.days.get(date);
    if (!day) {
      day = {
        start: Math.floor(now / DAY_MS) * DAY_MS,
        stats: { date, total: 0, success: 0, failure: 0, durationMsSum: 0, durationCount: 0 },
      };
      this.days.set(date, day);
    }
    this.last = now > this.last.ms ? { ms: now, seq: 0 } : { ms: this.last.ms, seq: this.last.seq + 1 };
    this.buffer.push({ id: `${this.last.ms}-${this.last.seq}`, day: date, entries: [line] });
    day.stats.total++;
    if (to === 'SUCCESS') day.stats.success++;
    else day.stats.failure++;
    if (startedAt !== null) {
      day.stats.durationMsSum += now - startedAt;
      day.stats.durationCount++;
    }
  }

  dayStats(): LakeDay[] {
    return [...this.days.values()]
      .sort((a, b) => a.start - b.start || (a.stats.date < b.stats.date ? -1 : 1))
      .map((d) => ({ ...d.stats }));
  }

  read(date: string, offset: number, count: number): LakeRecord[] {
    if (!this.days.has(date)) return []; // pruned, though its records may wait in the buffer
    return this.buffer
      .filter((b) => b.day === date)
      .flatMap((b) => b.entries)
      .slice(offset, offset + count)
      .map(lakeRecord);
  }

  pending(after: string, count: number): LakeBatch[] {
    return this.buffer
      .filter((b) => compareLakeIds(b.id, after) > 0)
      .slice(0, count)
      .map((b) => ({ ...b, entries: [...b.entries] }));
  }

  trim(through: string): void {
    this.buffer = this.buffer.filter((b) => compareLakeIds(b.id, through) > 0);
  }

  backlog(): number {
    return this.buffer.length;
  }

  prune(now: number): string[] {
    const cutoff = Math.floor(now / DAY_MS) * DAY_MS - this.config().retentionDays * DAY_MS;
    const old = [...this.days.values()]
      .filter((d) => d.start < cutoff)
      .sort((a, b) => a.start - b.start)
      .map((d) => d.stats.date);
    for (const date of old) this.days.delete(date);
    return old;
  }
}
