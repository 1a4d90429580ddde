/**
 * The bounds of a request that makes work and the quotas of the token that sends it
 * (src/core/quotas.ts says what each is; docs/security.md, "Quotas and bounds"). Bounds are
 * checked first (a 400 naming the field), then the quotas (a 429 naming the quota): the jobs the
 * token has that have not finished, then its CPU budget, which is taken in the same step that
 * checks it and given back when nothing is made (a repeated idempotency key, a refusal).
 * Event streams are counted per API node, in this process.
 */
import type { Response } from 'express';
import { principalName } from '../../core/tokens';
import { QuotaExceededError, ValidationError } from '../../core/errors';
import type { JobOptions } from '../../core/schemas';
import { Bounds, CPU_BUDGET_WINDOW_MS, LIMIT_DEFAULTS, Limits, workCostMs } from '../../core/quotas';
import { callerOf } from './caller';
import type { ApiContext } from './context';

const limitsOf = (ctx: ApiContext): Limits => ctx.limits ?? LIMIT_DEFAULTS;

const tooMuch = (field: string, max: number, flag: string, unit = '') =>
  new ValidationError(`${field} must be at most ${max}${unit} (${flag})`, [
    { field, message: `must be at most ${max}${unit}` },
  ]);

/** a request's sim duration_ms and attempts against the bounds (the delay: checkDelay) */
export function checkBounds(b: Bounds, type: string, params: Record<string, unknown>, o: JobOptions): void {
  if (type === 'sim' && Number(params.duration_ms) > b.maxDurationMs)
    throw tooMuch('params.duration_ms', b.maxDurationMs, '--max-duration-ms', ' ms');
  if (o.attempts !== undefined && o.attempts > b.maxAttempts)
    throw tooMuch('attempts', b.maxAttempts, '--max-attempts');
}

/** a job's delay (from delay_ms, or run_at by the store's clock) against the bound */
export function checkDelay(
  b: Bounds,
  delayMs: number | undefined,
  field: 'delay_ms' | 'run_at' | 'dedupe.ttl_ms',
): void {
  if (delayMs !== undefined && delayMs > b.maxDelayMs)
    throw tooMuch(field, b.maxDelayMs, '--max-delay-ms', field === 'run_at' ? ' ms from now' : ' ms');
}

/** whom the quotas count against: the calling token's principal, unless it is an admin's or no token named it (an open API) */
function quotaOwner(res: Response): string | null {
  const caller = callerOf(res);
  return caller && caller.role !== 'admin' ? principalName(caller) : null;
}

/** what a submission that passed its quotas does once it is made, or not */
export interface Admission {
  /** count the new jobs against the jobs quota */
  made(...jobIds: string[]): Promise<void>;
  /** nothing was made: give the CPU budget back */
  unmade(): Promise<void>;
}

/** a submission no quota counts (no owner, or a repeated idempotency key) */
const FREE_ADMISSION: Admission = { made: async () => undefined, unmade: async () => undefined };

/**
 * the quotas a submission of this work (one job, or a bulk's: counted as a whole) meets (a 429
 * naming the one it is past), before it is made; `repeated` says whether it repeats an idempotency key in use (its first job was counted)
 */
export async function admitWork(
  ctx: ApiContext,
  res: Response,
  works: readonly { type: string; params: Record<string, unknown>; options: JobOptions }[],
  repeated: () => Promise<boolean>,
): Promise<Admission> {
  const owner = quotaOwner(res);
  if (owner === null || (await repeated())) return FREE_ADMISSION;
  const q = limitsOf(ctx).quotas;
  if (q.jobs > 0) {
    const open = await ctx.store.limits.openJobs(owner, q.jobs);
    if (open + works.length > q.jobs) {
      const asked = works.length > 1 ? ` and asks for ${works.length} more` : '';
      throw new QuotaExceededError(
        'jobs',
        `quota jobs: ${owner} has ${open} jobs that have not finished${asked}, at most ${q.jobs} (--quota-jobs, WIZARD_QUOTA_JOBS): wait for some to finish, or cancel some`,
      );
    }
  }
  const cost = works.reduce((sum, w) => sum + workCostMs(w.type, w.params, w.options.attempts), 0);
  const capacity = q.cpuSeconds * 1000;
  const budget = `cpu:${owner}`;
  const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));
  let spent = 0;
  if (capacity > 0 && cost > 0) {
    if (cost > capacity) {
      throw new QuotaExceededError(
        'cpu',
        `quota cpu: ${works.length > 1 ? `these ${works.length} jobs` : 'this job'} may cost ${seconds(cost)} core-seconds, more than ${owner}'s whole budget of ${q.cpuSeconds} an hour (--quota-cpu-seconds, WIZARD_QUOTA_CPU_SECONDS)`,
      );
    }
    const s = await ctx.store.limits.spend(budget, cost, capacity, CPU_BUDGET_WINDOW_MS);
    if (!s.allowed) {
      res.set('Retry-After', String(seconds(s.retryAfterMs)));
      throw new QuotaExceededError(
        'cpu',
        `quota cpu: ${works.length > 1 ? `these ${works.length} jobs` : 'this job'} may cost ${seconds(cost)} core-seconds and ${owner} has ${Math.floor(s.remaining / 1000)} left of ${q.cpuSeconds} an hour (--quota-cpu-seconds, WIZARD_QUOTA_CPU_SECONDS); try again in ${seconds(s.retryAfterMs)} s`,
        s.retryAfterMs,
      );
    }
    spent = cost;
  }
  return {
    made: async (...ids) => {
      if (q.jobs > 0) await Promise.all(ids.map((id) => ctx.store.limits.addOpenJob(owner, id)));
    },
    unmade: async () => {
      if (spent > 0) await ctx.store.limits.spend(budget, -spent, capacity, CPU_BUDGET_WINDOW_MS);
    },
  };
}

/** the event streams each token holds open on this API node: take one (a 429 past the quota), and the function that gives it back */
export function streamQuota(ctx: ApiContext): (res: Response) => () => void {
  const open = new Map<string, number>();
  return (res) => {
    const owner = quotaOwner(res);
    const max = limitsOf(ctx).quotas.streams;
    if (owner === null || max <= 0) return () => undefined;
    const held = open.get(owner) ?? 0;
    if (held >= max) {
      throw new QuotaExceededError(
        'streams',
        `quota streams: ${owner} holds ${held} event streams open on this API node, at most ${max} (--quota-streams, WIZARD_QUOTA_STREAMS): close one first`,
      );
    }
    open.set(owner, held + 1);
    let given = false;
    return () => {
      if (given) return;
      given = true;
      const left = (open.get(owner) ?? 1) - 1;
      if (left > 0) open.set(owner, left);
      else open.delete(owner);
    };
  };
}
