/** Finished jobs by hand (store.dead), as the Redis adapter's redis/dead.ts: the dead-letter queue, failed jobs retried, finished jobs deleted. */
import { Job } from '../../core/job';
import { ConflictError, NotFoundError } from '../../core/errors';
import { notRetryable } from '../common';
import type { DeadLettersStore } from '../concerns';
import type { ListResult } from '../types';
import { cleanIndexes, type CleanQuery, type CleanResult, type CleanStep } from '../clean';
import type { FinalState } from '../../core/states';
import type { MemoryCore } from './core';
import type { MemoryJobs } from './jobs';
import { FINAL, zrangeRev, zsorted } from './structures';

export class MemoryDead implements DeadLettersStore {
  constructor(
    private readonly m: MemoryCore,
    private readonly queuePath: MemoryJobs,
  ) {}

  async list(offset = 0, limit = 50): Promise<ListResult> {
    return {
      total: this.m.dlq.size,
      jobs: limit > 0 ? this.m.getJobs(zrangeRev(this.m.dlq, offset, offset + limit - 1)) : [],
    };
  }

  /** retryDeadJob.lua */
  async retry(jobId: string): Promise<Job> {
    this.m.step();
    const rec = this.m.rec(jobId);
    if (!rec) throw new NotFoundError(`job ${jobId} not found`);
    const parent = rec.parent_id ? this.m.rec(rec.parent_id) : undefined;
    if (rec.state !== 'DEAD' || (rec.parent_id && (!parent || FINAL.has(parent.state)))) {
      throw new ConflictError(`job ${jobId} is not in the dead-letter queue, or its parent job has finished`);
    }
    this.m.dlq.delete(jobId);
    if (rec.flow_id) this.m.onFlowNodeRetried(rec.flow_id, jobId);
    return this.queuePath.requeueAnew(jobId, rec);
  }

  /** retryFailedJob.lua */
  async retryFailed(jobId: string): Promise<Job> {
    this.m.step();
    const rec = this.m.rec(jobId);
    if (!rec) throw new NotFoundError(`job ${jobId} not found`);
    if (rec.state !== 'FAILURE' || rec.queue === '' || rec.parent_id) throw notRetryable(jobId);
    this.m.expiry.delete(jobId); // PERSIST
    return this.queuePath.requeueAnew(jobId, rec);
  }

  /** purgeDeadJobs.lua */
  async purge(): Promise<number> {
    const ids = [...this.m.dlq.keys()];
    for (const id of ids) {
      this.m.jobs.delete(id);
      this.m.stateIndex('DEAD').delete(id);
      this.m.allJobs.delete(id);
      this.m.dlq.delete(id);
    }
    return ids.length;
  }

  async clean(q: CleanQuery): Promise<CleanResult> {
    return cleanIndexes(q, 1, async (_shard, state, from, ties, limit, scan) =>
      this.cleanStep(q, state, from, ties, limit, scan),
    );
  }

  /** cleanJobs.lua */
  private cleanStep(
    q: CleanQuery,
    state: FinalState,
    from: string,
    ties: number,
    limit: number,
    scan: number,
  ): CleanStep {
    this.m.step();
    const index = this.m.stateIndex(state);
    const sorted = zsorted(index);
    const start = from === '' ? 0 : sorted.filter(([, score]) => score < Number(from)).length + ties;
    const entries = sorted.slice(start, start + scan);
    if (from === '') ties = 0;
    const deleted: string[] = [];
    let kept = 0;
    let looked = 0;
    const drop = (id: string) => {
      for (const m of [this.m.jobs, this.m.jobLogs, this.m.expiry, index, this.m.allJobs, this.m.dlq]) m.delete(id);
    };
    for (const [id, score] of entries) {
      if (deleted.length >= limit) break;
      looked++;
      const rec = this.m.rec(id);
      let keep = false;
      if (!rec) drop(id);
      else if (
        rec.state !== state ||
        rec.parent_id ||
        (q.type && rec.type !== q.type) ||
        (q.queue && rec.queue !== q.queue)
      )
        keep = true;
      else if (rec.flow_id && this.m.flowRunning(rec.flow_id)) {
        keep = true;
        kept++;
      } else {
        drop(id);
        deleted.push(id);
        if (rec.idem_key && this.m.idemKeys.get(rec.idem_key)?.jobId === id) this.m.idemKeys.delete(rec.idem_key);
        if (rec.total) {
          for (const chunk of this.m.children.get(id) ?? []) drop(chunk);
          this.m.children.delete(id);
          this.m.chunkResults.delete(id);
        }
      }
      if (String(score) !== from) [from, ties] = [String(score), 0];
      if (keep) ties++;
    }
    return { deleted, kept, looked, from, ties, done: looked === entries.length && entries.length < scan };
  }
}
