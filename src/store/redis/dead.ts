/** Finished jobs by hand (store.dead): the dead-letter queue, failed jobs retried, finished jobs deleted. */
import { Job } from '../../core/job';
import { notRetryable } from '../common';
import type { DeadLettersStore } from '../concerns';
import type { ListResult } from '../types';
import { cleanIndexes, type CleanQuery, type CleanResult } from '../clean';
import { checkCode } from './codes';
import { CONFLICT } from './shared';
import type { RedisConn } from './conn';
import type { RedisReads } from './reads';
import type { FlowOutbox } from './flows';
import { isFlowNodeId, shardOfId } from '../keys';

export class RedisDead implements DeadLettersStore {
  /** set by RedisStore: a flow node retried resumes its flow in other shards through its shard's outbox */
  flowOutbox: FlowOutbox | null = null;

  constructor(
    private readonly c: RedisConn,
    private readonly reads: RedisReads,
  ) {}

  async list(offset = 0, limit = 50): Promise<ListResult> {
    return this.reads.listIndex((k) => k.dlq, offset, limit);
  }

  async retry(jobId: string): Promise<Job> {
    checkCode(await this.c.run('retryDeadJob', [jobId], this.c.at(jobId), true), jobId);
    if (isFlowNodeId(jobId)) await this.flowOutbox?.after([shardOfId(jobId)]);
    return (await this.reads.job(jobId))!;
  }

  async retryFailed(jobId: string): Promise<Job> {
    const code = await this.c.run('retryFailedJob', [jobId], this.c.at(jobId), true);
    if (code === CONFLICT) throw notRetryable(jobId);
    checkCode(code, jobId);
    return (await this.reads.job(jobId))!;
  }

  async purge(): Promise<number> {
    let total = 0;
    for (const k of this.c.shards)
      for (let n = -1; n !== 0; total += n) n = await this.c.run<number>('purgeDeadJobs', [1000], k);
    return total;
  }

  async clean(q: CleanQuery): Promise<CleanResult> {
    return cleanIndexes(q, this.c.shards.length, async (shard, state, from, ties, limit, scan) => {
      const args = [state, q.type ?? '', q.queue ?? '', from, ties, limit, scan];
      const [deleted, kept, looked, next, nextTies, done] = await this.c.run<
        [string[], number, number, string, number, string]
      >('cleanJobs', args, this.c.shards[shard]);
      return { deleted, kept, looked, from: next, ties: nextTies, done: done === '1' };
    });
  }
}
