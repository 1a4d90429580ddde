/** The API's rate limits and quotas (store.limits): sliding logs, token buckets and each owner's open jobs. */
import { FINAL_STATES, JobState } from '../../core/job';
import { isStorableJobId, OPEN_JOBS_SCAN, OWNED_TTL_MS } from '../common';
import type { LimitsStore } from '../concerns';
import type { RedisKeys } from '../keys';
import type { BudgetSpend, RateLimitHit } from '../types';
import type { RedisConn } from './conn';
import { recordState } from './shared';

export class RedisLimits implements LimitsStore {
  private readonly keys: RedisKeys;
  /** this process's hits, naming each apart in the shared logs */
  private hits = 0;

  constructor(private readonly c: RedisConn) {
    this.keys = c.group('rate');
  }

  async hit(buckets: string[], max: number, windowMs: number): Promise<RateLimitHit> {
    const member = `${this.c.instanceId}:${++this.hits}`;
    const [allowed, retryAfterMs, remaining] = await this.c.run<[number, number, number]>(
      'hitRateLimit',
      [windowMs, max, member, ...buckets],
      this.keys,
    );
    return { allowed: allowed === 1, retryAfterMs, remaining };
  }

  async spend(bucket: string, cost: number, capacity: number, windowMs: number): Promise<BudgetSpend> {
    const [allowed, retryAfterMs, remaining] = await this.c.run<[number, number, number]>(
      'spendBudget',
      [bucket, cost, capacity, windowMs],
      this.keys,
    );
    return { allowed: allowed === 1, retryAfterMs, remaining };
  }

  async addOpenJob(owner: string, jobId: string): Promise<void> {
    const key = this.keys.owned(owner);
    await Promise.all([
      this.c.cmd(['ZADD', key, await this.c.time(), jobId]),
      this.c.cmd(['PEXPIRE', key, OWNED_TTL_MS]),
    ]);
  }

  /** the owned zset, scored by when each job was last looked at: the oldest looks are renewed or dropped */
  async openJobs(owner: string, atMost: number): Promise<number> {
    const key = this.keys.owned(owner);
    const count = await this.c.cmd<number>(['ZCARD', key]);
    if (count < atMost) return count;
    const ids = await this.c.cmd<string[]>(['ZRANGE', key, 0, OPEN_JOBS_SCAN - 1]);
    const states = await Promise.all(
      ids.map((id) => (isStorableJobId(id) ? recordState(this.c, this.c.at(id).job(id)) : null)),
    );
    const finished = (i: number) => states[i] === null || FINAL_STATES.has(states[i] as JobState);
    const done = ids.filter((_, i) => finished(i));
    const open = ids.filter((_, i) => !finished(i));
    const now = await this.c.time();
    if (done.length > 0) await this.c.cmd(['ZREM', key, ...done]);
    if (open.length > 0) await this.c.cmd(['ZADD', key, 'XX', ...open.flatMap((id) => [now, id])]);
    return this.c.cmd<number>(['ZCARD', key]);
  }
}
