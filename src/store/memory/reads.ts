/** Jobs read (store.reads), as the Redis adapter's redis/reads.ts: one, a page of an index or a state, a parent's children, the counts. */
import { Job, JOB_STATES, JobState } from '../../core/job';
import { FINAL_LIST } from '../../core/states';
import { decodeJob, updatedAtOf } from '../codec';
import type { ReadsStore } from '../concerns';
import { FILTER_SCAN, listMatches, type FinishedCounts, type ListQuery, type ListResult } from '../types';
import type { MemoryCore } from './core';
import { COUNTED_NOT_INDEXED, groupedWaiting, ZSet, zrangeRev } from './structures';

export class MemoryReads implements ReadsStore {
  constructor(private readonly m: MemoryCore) {}

  async job(jobId: string): Promise<Job | null> {
    return this.m.getJobs([jobId])[0] ?? null;
  }

  /** checkJob.lua */
  async check(jobId: string, checkedBy: string): Promise<Job | null> {
    const rec = this.m.rec(jobId);
    if (!rec) return null;
    rec.checked_by = checkedBy;
    return decodeJob(rec, jobId);
  }

  async list(query: ListQuery): Promise<ListResult> {
    const z =
      query.state && COUNTED_NOT_INDEXED.has(query.state)
        ? this.queuedInState(query.state)
        : query.state
          ? this.m.stateIndex(query.state)
          : this.m.allJobs;
    const offset = query.offset ?? 0;
    const limit = query.limit ?? 50;
    if (query.type !== undefined || query.queue !== undefined) {
      // as the Redis adapter: the index's FILTER_SCAN newest, matched by their records
      const ids = zrangeRev(z, 0, FILTER_SCAN - 1).filter((id) => {
        const rec = this.m.rec(id);
        return listMatches(query, rec?.type, rec?.queue);
      });
      const jobs = this.m.getJobs(ids.slice(offset, offset + limit));
      return { total: ids.length, jobs, partial: z.size > FILTER_SCAN };
    }
    return { total: z.size, jobs: limit > 0 ? this.m.getJobs(zrangeRev(z, offset, offset + limit - 1)) : [] };
  }

  /**
   * the PENDING or STARTED top-level jobs → the time of their last change: those the index holds
   * (jobs on no queue) and those the queues hold (their wait lists and delayed sets, their lease
   * sets), as the Redis adapter lists them
   */
  private queuedInState(state: string): ZSet {
    const out: ZSet = new Map(this.m.stateIndex(state));
    const add = (id: string) => {
      const rec = this.m.rec(id);
      if (rec?.state === state && !rec.parent_id) out.set(id, updatedAtOf(rec) ?? 0);
    };
    for (const q of this.m.queues.values()) {
      if (state === 'STARTED') for (const id of q.active.keys()) add(id);
      else
        for (const id of [...q.waits.flat(), ...q.cpuWaits.flat(), ...groupedWaiting(q), ...q.delayed.keys()]) add(id);
    }
    return out;
  }

  async children(parentId: string): Promise<Job[]> {
    this.m.expireIfDue(parentId);
    return this.m.getJobs(this.m.children.get(parentId) ?? []);
  }

  async log(jobId: string): Promise<string[]> {
    const kept = this.m.jobLogs.get(jobId);
    return kept && kept.until > this.m.clock() ? [...kept.lines] : [];
  }

  async countByState(): Promise<Record<JobState, number>> {
    return Object.fromEntries(
      JOB_STATES.map((s) => [s, (this.m.states.get(s)?.size ?? 0) + (this.m.counts.get(s) ?? 0)]),
    ) as Record<JobState, number>;
  }

  async finishedSince(sinceMs: number): Promise<FinishedCounts> {
    const count = (state: JobState) => [...this.m.stateIndex(state).values()].filter((at) => at >= sinceMs).length;
    return Object.fromEntries(FINAL_LIST.map((s) => [s, count(s)])) as FinishedCounts;
  }
}
