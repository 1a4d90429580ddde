/**
 * What one request may ask for (bounds) and what one token may hold (quotas): pure settings and
 * arithmetic, applied by the API (src/roles/api/quotas.ts) and documented in docs/security.md
 * ("Quotas and bounds").
 *
 * Bounds hold for every request that makes work (POST /task, /api/count-primes, /jobs): a sim's
 * duration_ms, a job's attempts, its delay (delay_ms, run_at). A request past one is a 400 naming
 * the field.
 *
 * Quotas hold per token, for every token but an admin's, and only with API tokens on (an open API
 * names nobody to count against): jobs waiting (not finished), the CPU budget of the work submitted
 * (core-seconds an hour, a token bucket), event streams open on one API node. A request past one
 * is a 429 naming the quota (with Retry-After when waiting helps: the CPU budget refills).
 */
import { maxAttemptsFor } from './handlers';
import { MAX_DELAY_MS } from './job';

export interface Bounds {
  /** the longest duration_ms a sim job may be given (ms) */
  maxDurationMs: number;
  /** the most attempts a job may be given */
  maxAttempts: number;
  /** the longest delay a job may be given (delay_ms, or run_at from now; ms) */
  maxDelayMs: number;
}

export interface Quotas {
  /** jobs a token may have that have not finished (waiting, delayed, retrying or running); 0: no quota */
  jobs: number;
  /** core-seconds of work a token may submit an hour (workCostMs); 0: no quota */
  cpuSeconds: number;
  /** event streams (GET /api/jobs/:id/events) a token may hold open on one API node; 0: no quota */
  streams: number;
}

export interface Limits {
  bounds: Bounds;
  quotas: Quotas;
}

/** the defaults: room for the seeds' own examples (a sim of 5 minutes, counts to 10^6) many times over */
export const LIMIT_DEFAULTS: Limits = {
  bounds: { maxDurationMs: 3_600_000, maxAttempts: 10, maxDelayMs: MAX_DELAY_MS },
  quotas: { jobs: 10_000, cpuSeconds: 36_000, streams: 32 },
};

/** the CPU budget's window: it refills cpuSeconds every hour */
export const CPU_BUDGET_WINDOW_MS = 3_600_000;

/** how fast one core sieves a prime count's range, roughly: n = 10^12 is ~500 core-seconds */
export const PRIMES_PER_CORE_SECOND = 2e9;

/**
 * what a job may cost at most, in core-milliseconds, for the CPU budget: a prime count, its
 * estimate from n (its chunks' sieving) times its chunks' attempts; a sim, its duration_ms times
 * its attempts (a bot is busy that long). Other types (a task, a --handlers type) cost nothing
 * here: the jobs quota bounds them.
 */
export function workCostMs(type: string, params: Record<string, unknown>, attempts: number | undefined): number {
  if (type === 'primes')
    return Math.ceil((Number(params.n) / PRIMES_PER_CORE_SECOND) * 1000) * (attempts ?? maxAttemptsFor('primes_chunk'));
  if (type === 'sim') return Number(params.duration_ms) * (attempts ?? maxAttemptsFor('sim'));
  return 0;
}
