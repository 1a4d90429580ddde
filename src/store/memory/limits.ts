/** The API's rate limits and quotas (store.limits), as the Redis adapter's redis/limits.ts (hitRateLimit.lua, spendBudget.lua, the owned zsets). */
import { FINAL_STATES, JobState } from '../../core/job';
import { OPEN_JOBS_SCAN, spendFromBucket } from '../common';
import type { LimitsStore } from '../concerns';
import type { BudgetSpend, RateLimitHit } from '../types';
import type { MemoryCore } from './core';
import { getOr } from './structures';

export class MemoryLimits implements LimitsStore {
  constructor(private readonly m: MemoryCore) {}

  /** hitRateLimit.lua: per bucket the times of the requests let through, oldest first */
  async hit(buckets: string[], max: number, windowMs: number): Promise<RateLimitHit> {
    const now = this.m.step();
    this.m.rateWindowMs = Math.max(this.m.rateWindowMs, windowMs);
    if (++this.m.rateHits % 1000 === 0) this.sweepRates(now); // PEXPIRE's part: drop buckets gone quiet
    let allowed = true;
    let retryAfterMs = 0;
    let remaining = max;
    const logs = buckets.map((bucket) => {
      const log = (this.m.rates.get(bucket) ?? []).filter((t) => t > now - windowMs);
      this.m.rates.set(bucket, log);
      if (log.length >= max) {
        allowed = false;
        retryAfterMs = Math.max(retryAfterMs, log[log.length - max] + windowMs - now);
        remaining = 0;
      } else {
        remaining = Math.min(remaining, max - log.length - 1);
      }
      return log;
    });
    if (allowed) for (const log of logs) log.push(now);
    return { allowed, retryAfterMs, remaining };
  }

  async spend(bucket: string, cost: number, capacity: number, windowMs: number): Promise<BudgetSpend> {
    const now = this.m.step();
    const { tokens, ...spent } = spendFromBucket(this.m.budgets.get(bucket), now, cost, capacity, windowMs);
    if (tokens >= capacity)
      this.m.budgets.delete(bucket); // full: its key expires
    else this.m.budgets.set(bucket, { tokens, at: now });
    return spent;
  }

  async addOpenJob(owner: string, jobId: string): Promise<void> {
    getOr(this.m.owned, owner, () => new Map<string, number>()).set(jobId, this.m.clock());
  }

  async openJobs(owner: string, atMost: number): Promise<number> {
    const jobs = this.m.owned.get(owner);
    if (!jobs || jobs.size < atMost) return jobs?.size ?? 0;
    const now = this.m.clock();
    for (const id of [...jobs.keys()].slice(0, OPEN_JOBS_SCAN)) {
      const rec = this.m.rec(id);
      jobs.delete(id);
      if (rec && !FINAL_STATES.has(rec.state as JobState)) jobs.set(id, now); // still open: looked at last
    }
    return jobs.size;
  }

  private sweepRates(now: number): void {
    for (const [bucket, log] of this.m.rates)
      if (log.length === 0 || log[log.length - 1] <= now - this.m.rateWindowMs) this.m.rates.delete(bucket);
  }
}
