/**
 * Retry policy as pure functions: the store only moves a job to the delayed set or to the DLQ.
 */
export interface BackoffPolicy {
  /** attempts in all, the first included */
  maxAttempts: number;
  /** delay before the first retry, ms */
  baseMs: number;
  /** the delay never exceeds this, ms */
  maxMs: number;
  /** 0..1: the share of the delay drawn at random ("equal jitter" at 0.5) */
  jitter: number;
}

/**
 * Where a failed attempt goes: policy decides (failTarget in handlers.ts), the store moves. A
 * retry is due delayMs after the store's time of the failure (a duration: never the caller's clock).
 */
export type FailTarget = { to: 'RETRY'; delayMs: number } | { to: 'DEAD' } | { to: 'FAILURE' };

export const DEFAULT_BACKOFF: BackoffPolicy = { maxAttempts: 3, baseMs: 500, maxMs: 30_000, jitter: 0.5 };

/**
 * Delay before the next try after `attemptsMade` failed attempts (1 = the first failed):
 * base·2^(attemptsMade-1), capped, with the jittered share drawn from `random`.
 */
export function computeBackoff(
  policy: BackoffPolicy,
  attemptsMade: number,
  random: () => number = Math.random,
): number {
  const exp = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attemptsMade - 1));
  const fixed = exp * (1 - policy.jitter);
  return Math.round(fixed + exp * policy.jitter * random());
}

/** true when another attempt is allowed after `attemptsMade` attempts */
export function shouldRetry(policy: BackoffPolicy, attemptsMade: number): boolean {
  return attemptsMade < policy.maxAttempts;
}
