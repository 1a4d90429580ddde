/** Schedules (store.schedules) and the once-keyed batches they and the bot batch make. */
import { Job, NewJob } from '../../core/job';
import type { Schedule } from '../../core/schedule';
import { decodeSchedule, encodeSchedule, pairsToRecord } from '../codec';
import { createdJob, JobRow, rowArgs } from '../common';
import type { SchedulesStore } from '../concerns';
import { scheduledRows, ScheduledWork } from '../scheduled-work';
import type { RedisConn } from './conn';

export class RedisSchedules implements SchedulesStore {
  constructor(private readonly c: RedisConn) {}

  async enqueueOnce(onceKey: string, ttlMs: number, jobs: NewJob[]): Promise<Job[] | null> {
    return this.insertOnce(jobs, (rows) =>
      this.c.run<[number, string?]>(
        'enqueueBatch',
        [onceKey, ttlMs, ...rowArgs(rows, this.c.cpuLists)],
        this.c.keys,
        true,
      ),
    );
  }

  async enqueue(
    schedule: string,
    slot: string,
    onceKey: string,
    ttlMs: number,
    jobs: ScheduledWork,
  ): Promise<Job[] | null> {
    const made = await this.insertOnce(jobs, (rows) =>
      this.c.run<[number, string?]>(
        'enqueueScheduled',
        [onceKey, ttlMs, schedule, slot, ...rowArgs(rows, this.c.cpuLists)],
        this.c.keys,
        true,
      ),
    );
    return made && made.map((j) => ({ ...j, schedule, slot }));
  }

  /** a once-keyed enqueue's answer: null when its key was used */
  private async insertOnce(
    jobs: ScheduledWork,
    call: (rows: JobRow[]) => Promise<[number, string?]>,
  ): Promise<Job[] | null> {
    const rows = scheduledRows(jobs);
    const [created, now] = await call(rows);
    return created === 0 && rows.length > 0 ? null : rows.map((r) => createdJob(r, Number(now)));
  }

  async save(schedule: Schedule, replace = false): Promise<boolean> {
    const value = encodeSchedule(schedule);
    if (replace) await this.c.cmd(['HSET', this.c.keys.schedules, schedule.name, value]);
    else if ((await this.c.cmd<number>(['HSETNX', this.c.keys.schedules, schedule.name, value])) === 0) return false;
    return true;
  }

  async list(): Promise<Schedule[]> {
    const flat = await this.c.cmd<string[]>(['HGETALL', this.c.keys.schedules]);
    return Object.values(pairsToRecord(flat))
      .map(decodeSchedule)
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  async remove(name: string): Promise<boolean> {
    return (await this.c.cmd<number>(['HDEL', this.c.keys.schedules, name])) === 1;
  }
}
