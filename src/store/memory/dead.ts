/** The dead-letter queue (store.dead), as the Redis adapter's redis/dead.ts, and failed jobs retried by hand. */
import { Job } from '../../core/job';
import { ConflictError, NotFoundError } from '../../core/errors';
import { notRetryable } from '../common';
import type { DeadLettersStore } from '../concerns';
import type { ListResult } from '../types';
import type { MemoryCore } from './core';
import type { MemoryJobs } from './jobs';
import { FINAL, zrangeRev } from './structures';

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
}
