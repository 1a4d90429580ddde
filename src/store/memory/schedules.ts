/** Schedules (store.schedules) and once-keyed batches, as the Redis adapter's redis/schedules.ts (enqueueBatch.lua, enqueueScheduled.lua, the schedules hash). */
import { Job, NewJob } from '../../core/job';
import type { Schedule } from '../../core/schedule';
import { decodeSchedule, encodeSchedule } from '../codec';
import type { SchedulesStore } from '../concerns';
import { scheduledRows, ScheduledWork } from '../scheduled-work';
import type { MemoryCore } from './core';
import type { MemoryJobs } from './jobs';

export class MemorySchedules implements SchedulesStore {
  constructor(
    private readonly m: MemoryCore,
    private readonly queuePath: MemoryJobs,
  ) {}

  async enqueueOnce(onceKey: string, ttlMs: number, jobs: NewJob[]): Promise<Job[] | null> {
    return this.insertOnce(onceKey, ttlMs, jobs);
  }

  async enqueue(
    schedule: string,
    slot: string,
    onceKey: string,
    ttlMs: number,
    jobs: ScheduledWork,
  ): Promise<Job[] | null> {
    const made = this.insertOnce(onceKey, ttlMs, jobs);
    for (const j of made ?? []) Object.assign(this.m.jobs.get(j.id)!, { schedule, slot });
    return made && made.map((j) => ({ ...j, schedule, slot }));
  }

  private insertOnce(onceKey: string, ttlMs: number, jobs: ScheduledWork): Job[] | null {
    const rows = scheduledRows(jobs);
    const now = this.m.clock();
    for (const [key, until] of this.m.onceKeys) if (until <= now) this.m.onceKeys.delete(key);
    if (this.m.onceKeys.has(onceKey)) return rows.length > 0 ? null : [];
    this.m.onceKeys.set(onceKey, now + ttlMs);
    return this.queuePath.insert(rows);
  }

  async save(schedule: Schedule, replace = false): Promise<boolean> {
    if (!replace && this.m.schedules.has(schedule.name)) return false;
    this.m.schedules.set(schedule.name, encodeSchedule(schedule));
    return true;
  }

  async list(): Promise<Schedule[]> {
    return [...this.m.schedules.values()].map(decodeSchedule).sort((a, b) => a.name.localeCompare(b.name));
  }

  async remove(name: string): Promise<boolean> {
    return this.m.schedules.delete(name);
  }
}
