/**
 * What each job type does and how it is retried: one table shared by workers and bots.
 * Handlers are pure (or merely sleep); the roles decide where they run (a prime chunk runs in
 * the worker's Piscina pool, the rest on the event loop).
 */
import { BackoffPolicy, computeBackoff, DEFAULT_BACKOFF, FailTarget, shouldRetry } from './backoff';
import { ValidationError } from './errors';
import { Job, JobType } from './job';
import { compute, MathParams } from './math';
import { countPrimesInRange } from './sieve';
import { sleep } from '../util/time';

export interface HandlerContext {
  signal?: AbortSignal;
  random?: () => number;
}

export interface HandlerSpec {
  policy: BackoffPolicy;
  /** CPU-bound: run it off the event loop (the worker's thread pool) */
  cpu: boolean;
  /** how long an attempt may run when its job names no timeout_ms (ms) */
  timeoutMs: (params: Record<string, unknown>) => number;
  run(params: Record<string, unknown>, ctx: HandlerContext): unknown | Promise<unknown>;
}

/** a failure that no retry can mend (bad params, a simulated business failure): FAILURE at once */
export class PermanentError extends Error {
  readonly permanent = true;
  constructor(message: string) {
    super(message);
    this.name = 'PermanentError';
  }
}

export function isPermanent(err: unknown): boolean {
  return err instanceof ValidationError || (typeof err === 'object' && err !== null && (err as { permanent?: unknown }).permanent === true);
}

export interface SimParams {
  duration_ms: number;
  failure_rate: number;
}

/** seed 004's simulated work: takes duration_ms, fails at failure_rate */
export async function simulateWork(params: SimParams, ctx: HandlerContext = {}): Promise<{ ok: true; duration_ms: number }> {
  const started = performance.now(); // a duration this process measures: its monotonic clock
  await sleep(params.duration_ms, ctx.signal);
  if ((ctx.random ?? Math.random)() < params.failure_rate) throw new PermanentError('simulated failure');
  return { ok: true, duration_ms: Math.round(performance.now() - started) };
}

export const HANDLERS: Record<Exclude<JobType, 'primes'>, HandlerSpec> = {
  task: {
    policy: { ...DEFAULT_BACKOFF, maxAttempts: 3 },
    cpu: false,
    timeoutMs: () => 30_000,
    run: (p) => compute(p as unknown as MathParams),
  },
  primes_chunk: {
    policy: { ...DEFAULT_BACKOFF, maxAttempts: 3 },
    cpu: true,
    timeoutMs: () => 10 * 60_000,
    run: (p) => countPrimesInRange(p.lo as number, p.hi as number),
  },
  sim: {
    policy: { ...DEFAULT_BACKOFF, maxAttempts: 3 },
    cpu: false,
    // the work takes duration_ms by design: a minute more than that
    timeoutMs: (p) => Number(p.duration_ms ?? 0) + 60_000,
    run: (p, ctx) => simulateWork(p as unknown as SimParams, ctx),
  },
};

export function handlerFor(type: JobType): HandlerSpec {
  if (type === 'primes') throw new Error('a prime-count parent job is never run itself: its chunks are');
  return HANDLERS[type];
}

/** how long an attempt of this job may run: its own timeout_ms, else its type's default (ms) */
export function timeoutFor(job: Pick<Job, 'type' | 'params' | 'timeoutMs'>): number {
  return job.timeoutMs ?? handlerFor(job.type).timeoutMs(job.params);
}

/** an attempt that ran past its timeout: it fails, and the retry policy applies */
export class TimeoutError extends Error {
  constructor(readonly ms: number) {
    super(`timed out after ${ms} ms`);
    this.name = 'TimeoutError';
  }
}

/** attempts a new job of this type gets */
export function maxAttemptsFor(type: JobType): number {
  return type === 'primes' ? 1 : HANDLERS[type].policy.maxAttempts;
}

/**
 * Where a failed attempt goes: FAILURE at once when the failure is permanent, RETRY after the
 * type's backoff (a delay: the store makes it a due time with its own clock) while the job has attempts left (its own maxAttempts, which the type's policy
 * only sets at first: the reaper counts the same), else DEAD. Workers decide it for their jobs,
 * the API for the jobs bots report failed.
 */
export function failTarget(job: Pick<Job, 'type' | 'attempts' | 'maxAttempts'>, permanent: boolean): FailTarget {
  if (permanent) return { to: 'FAILURE' };
  const policy = { ...handlerFor(job.type).policy, maxAttempts: job.maxAttempts };
  return shouldRetry(policy, job.attempts) ? { to: 'RETRY', delayMs: computeBackoff(policy, job.attempts) } : { to: 'DEAD' };
}
