/**
 * What each job type does and how it is retried: one registry shared by workers, bots, the API
 * and the reaper. It holds the built-in types (HANDLERS) and the types a `--handlers` module
 * adds (registerTypes, src/core/user-types.ts). Built-in handlers are pure (or merely sleep);
 * the roles decide where they run (a CPU-bound one in the worker's Piscina pool, the rest on
 * the event loop). A type this process does not know (a role started without the module) gets
 * the default policy, so its jobs are still listed, timed out, retried and reaped.
 */
import { BackoffPolicy, computeBackoff, DEFAULT_BACKOFF, FailTarget, shouldRetry } from './backoff';
import { MAX_RATE_LIMITED_HOLD_MS, RATE_LIMITED_HOLD_MS } from './defaults';
import { ValidationError } from './errors';
import { Job, JOB_TYPES, JobType } from './job';
import { compute, MathParams } from './math';
import { countPrimesInRange } from './sieve';
import { sleep } from '../util/time';
import type { Logger } from '../util/log';

export interface HandlerContext {
  signal?: AbortSignal;
  random?: () => number;
}

/** what a `--handlers` module's run(params, ctx) is given */
export interface UserContext {
  readonly signal: AbortSignal;
  readonly jobId: string;
  /** 1 on the first run */
  readonly attempt: number;
  /** a flow's node: its deps' outcomes by node id, {state, result?, error?} (docs/flows.md); else {} */
  readonly deps: Readonly<Record<string, { state: string; result?: unknown; error?: string }>>;
  /** a fraction 0..1 or {completed, total}; written through the store, at most every 250 ms */
  progress(value: number | { completed: number; total: number }): void;
  log: Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;
}

export interface HandlerSpec {
  policy: BackoffPolicy;
  /** CPU-bound: run it off the event loop (the worker's thread pool) */
  cpu: boolean;
  /** how long an attempt may run when its job names no timeout_ms (ms) */
  timeoutMs: (params: Record<string, unknown>) => number;
  run(params: Record<string, unknown>, ctx: HandlerContext): unknown | Promise<unknown>;
  /** a type from a --handlers module: its run takes a UserContext (the worker builds it) */
  user?: UserType;
}

/** what a --handlers module defines for a type, checked (user-types.ts) */
export interface UserType {
  /** the module's absolute path: a CPU type's pool thread loads it too */
  file: string;
  /** its params' JSON Schema (checked by the API) */
  params: Record<string, unknown>;
  /** the queue its jobs go to; undefined: the queue the job names, else the workers' */
  queue?: string;
  /** absent: bots run it (it has a queue) */
  run?: (params: Record<string, unknown>, ctx: UserContext) => unknown;
}

/** a failure that no retry can mend (bad params, a handler's error with `permanent: true`): FAILURE at once */
/**
 * a handler met the limit of the system it calls: it threw `{code: 'rate_limited',
 * retry_after_ms}` (a plain object or an Error: a module needs no import). Answers how long its
 * group (or queue) waits (ms; RATE_LIMITED_HOLD_MS when it names none), or null for any other error.
 */
export function rateLimitedFor(err: unknown): number | null {
  if (typeof err !== 'object' || err === null || (err as { code?: unknown }).code !== 'rate_limited') return null;
  const ms = (err as { retry_after_ms?: unknown }).retry_after_ms;
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) return RATE_LIMITED_HOLD_MS;
  return Math.min(Math.round(ms), MAX_RATE_LIMITED_HOLD_MS);
}

export function isPermanent(err: unknown): boolean {
  return (
    err instanceof ValidationError ||
    (typeof err === 'object' && err !== null && (err as { permanent?: unknown }).permanent === true)
  );
}

export interface SimParams {
  duration_ms: number;
  failure_rate: number;
}

/**
 * the bot batch's simulated work (sim): takes duration_ms, and an attempt fails at failure_rate
 * (seed 004: "15% of jobs fail randomly"). The failure is an ordinary one: the sim type's retry
 * policy applies, as it does to a bot command's failure (--exec) and to any worker's
 */
export async function simulateWork(
  params: SimParams,
  ctx: HandlerContext = {},
): Promise<{ ok: true; duration_ms: number }> {
  const started = performance.now(); // a duration this process measures: its monotonic clock
  await sleep(params.duration_ms, ctx.signal);
  if ((ctx.random ?? Math.random)() < params.failure_rate) throw new Error('simulated failure');
  return { ok: true, duration_ms: Math.round(performance.now() - started) };
}

export const HANDLERS: Record<'task' | 'primes_chunk' | 'sim', HandlerSpec> = {
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

/** the built-in types' names: no module may define one */
export const BUILTIN_TYPES: readonly string[] = JOB_TYPES;

/** the types of this process: the built-ins and what registerTypes added */
const registry = new Map<string, HandlerSpec>(Object.entries(HANDLERS));

/** add a module's types (checked already: user-types.ts) */
export function registerTypes(types: Record<string, HandlerSpec>): void {
  for (const [name, spec] of Object.entries(types)) {
    if (BUILTIN_TYPES.includes(name)) throw new Error(`type ${name} is built in`);
    registry.set(name, spec);
  }
}

/** forget the module's types (tests) */
export function resetTypes(): void {
  for (const name of [...registry.keys()]) if (!Object.hasOwn(HANDLERS, name)) registry.delete(name);
}

/** the types a module added, by name */
export function userTypes(): [string, UserType][] {
  return [...registry].flatMap(([name, spec]) => (spec.user ? [[name, spec.user] as [string, UserType]] : []));
}

/** the queues of the module's types that have no run: bots started with --exec claim from them */
export function execBotQueues(): string[] {
  return [...new Set(userTypes().flatMap(([, t]) => (t.run === undefined && t.queue !== undefined ? [t.queue] : [])))];
}

/** a type's definition here; undefined for a type this process does not know (and for primes) */
export function specFor(type: string): HandlerSpec | undefined {
  return registry.get(type);
}

/**
 * a type whose jobs run on a worker's thread pool (a prime chunk, a module's `cpu: true` type), as
 * this process knows it: its jobs wait in their queue's CPU lists (NewJob.cpu). A type this
 * process does not know is not one.
 */
export function isCpuType(type: string): boolean {
  return registry.get(type)?.cpu === true;
}

/** the policy, timeout and attempts of a type this process does not know: the defaults */
const UNKNOWN_TYPE: Pick<HandlerSpec, 'policy' | 'timeoutMs'> = {
  policy: { ...DEFAULT_BACKOFF, maxAttempts: 3 },
  timeoutMs: () => 10 * 60_000,
};

export function handlerFor(type: JobType): HandlerSpec {
  if (type === 'primes') throw new Error('a prime-count parent job is never run itself: its chunks are');
  const spec = registry.get(type);
  if (!spec) throw new Error(`unknown job type '${type}': start this role with the --handlers module that defines it`);
  return spec;
}

/** how long an attempt of this job may run: its own timeout_ms, else its type's default (ms) */
export function timeoutFor(job: Pick<Job, 'type' | 'params' | 'timeoutMs'>): number {
  return job.timeoutMs ?? (registry.get(job.type) ?? UNKNOWN_TYPE).timeoutMs(job.params);
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
  return type === 'primes' ? 1 : (registry.get(type) ?? UNKNOWN_TYPE).policy.maxAttempts;
}

/**
 * Where a failed attempt goes: FAILURE at once when the failure is permanent, RETRY after the
 * type's backoff (a delay: the store makes it a due time with its own clock) while the job has attempts left (its own maxAttempts, which the type's policy
 * only sets at first: the reaper counts the same), else DEAD. Workers decide it for their jobs,
 * the API for the jobs bots report failed.
 */
export function failTarget(job: Pick<Job, 'type' | 'attempts' | 'maxAttempts'>, permanent: boolean): FailTarget {
  if (permanent) return { to: 'FAILURE' };
  const policy = { ...(registry.get(job.type) ?? UNKNOWN_TYPE).policy, maxAttempts: job.maxAttempts };
  return shouldRetry(policy, job.attempts)
    ? { to: 'RETRY', delayMs: computeBackoff(policy, job.attempts) }
    : { to: 'DEAD' };
}
