/**
 * The store: every piece of shared state, in domain terms, cut by concern into parts
 * (src/store/concerns.ts: store.jobs, store.bots, ...). Two adapters implement it: Redis
 * (src/store/redis.ts, the real cluster) and memory (src/store/memory.ts, `wizard up` with no
 * Redis). One contract test suite (test/integration/store-contract.test.ts) runs against both.
 *
 * Queue semantics (store.jobs, both adapters):
 * - enqueue puts jobs at the tail of their queue; claim takes from the head (FIFO). CPU jobs
 *   (NewJob.cpu) wait apart, in their queue's CPU lists, the others in its ordinary lists, each
 *   kind FIFO within a priority; a claim takes up to `max` ordinary jobs and up to `maxCpu` CPU jobs.
 * - claim is atomic: it moves a job to STARTED, counts the attempt (delivery), gives it a fresh
 *   claim token and a lease that ends at now + leaseMs. No job is ever held by two consumers.
 * - every later transition (renew, progress, complete, fail, release) names the token; a wrong
 *   token (the lease lapsed and someone else holds the job, or it finished) is a LeaseLostError,
 *   and a job that does not exist (any more) is a NotFoundError. Nothing is applied twice.
 * - reap returns jobs whose lease lapsed to the head of their queue (RETRY), or to DEAD when
 *   they have used every attempt; never a job the reaping process holds itself, and what lapsed
 *   while no reaper could reach the store only after one lease more (the gap rule, lib-state.lua).
 * - a chunk's completion is recorded once per chunk index; the completion of the last chunk
 *   completes the parent (a chord) in the same atomic step. A chunk that ends in DEAD or FAILURE
 *   fails its parent at once and cancels the parent's chunks that are still waiting.
 * - finished jobs (SUCCESS, FAILURE) expire resultTtlMs after they finish; DEAD jobs stay in the
 *   dead-letter queue until retried or purged.
 *
 * Bots, the bot batch and the datalake (both adapters):
 * - a bot acts through the API, which names the bot, never a claim token: the bot's record keeps
 *   the one job it holds and that job's claim token. bots.claim is jobs.claim with max 1 and the bot
 *   as consumer, recorded in the bot in the same step; a bot that holds a job gets a
 *   ConflictError; start/complete/fail of a job the bot does not hold is a ConflictError (a
 *   NotFoundError when there is no such job), and an unknown bot an UnknownBotError.
 * - a heartbeat renews the lease of the bot's job; bots.markDown marks bots silent for
 *   downAfterMs down and puts back the job each held (RETRY or DEAD, as reap), in one step;
 *   bots.remove releases the job the bot held (the attempt not counted).
 * - schedules.enqueueOnce creates its jobs only when its key was not used in the last ttlMs.
 * - schedules are kept by name (schedules.save, list, remove); schedules.enqueue
 *   is enqueueOnce whose jobs carry the schedule's name and the slot (their schedule and slot).
 * - every finished top-level job of a recorded type is appended to the datalake in the step
 *   that finishes it (exactly once), to the list of its UTC day; what is recorded and how many
 *   days are kept are cluster-wide settings (lake.config).
 *
 * Rate limits (the API's, both adapters): a sliding log per bucket (the times of the
 * requests it let through in the last window), shared by every API node; see limits.hit.
 *
 * Abacus semantics (store.abacus, the running sum, both adapters):
 * - one running sum, a signed 64-bit integer, 0 until the first add; no add is ever lost.
 * - an add that would take the sum outside [-2^63, 2^63-1] is refused (UnprocessableError) and
 *   changes nothing; an addend outside that range is a ValidationError.
 * - the optimistic strategy retries when the sum moved under it; after OPTIMISTIC_MAX_ATTEMPTS
 *   conflicts in a row it gives up with SumConflictError (nothing added).
 */
import { DEFAULTS } from '../core/defaults';
import type { StoreParts } from './concerns';

/** what a write a user is told succeeded waits for: nothing more (none), or a replica's copy (WAIT 1) */
export const DURABILITIES = ['none', 'replica'] as const;

/** a Redis call with no answer in this time fails and its connection is replaced (--store-timeout-ms) */
export const DEFAULT_COMMAND_TIMEOUT_MS = 2500;
export type Durability = (typeof DURABILITIES)[number];

export interface StoreOptions {
  /** every key lives under it (hash-tagged: `{prefix}:...`) */
  prefix: string;
  /** finished jobs (and a prime job's chunk keys) expire this long after they finish */
  resultTtlMs: number;
  /** events older than this are trimmed from the event log */
  eventRetentionMs: number;
  /**
   * a clock that replaces the store's own, for tests only. Unset, the Redis store's time is
   * Redis's (TIME, read inside each script: one clock for the whole cluster, whatever the hosts'
   * clocks say) and the in-memory store's is this process's (Date.now).
   */
  now?: () => number;
}

export const DEFAULT_STORE_OPTIONS: StoreOptions = {
  prefix: DEFAULTS.prefix,
  resultTtlMs: DEFAULTS.resultTtlMs,
  eventRetentionMs: DEFAULTS.eventRetentionMs,
};

export * from './shapes';

/**
 * The store: its parts, one per concern (src/store/concerns.ts), and what is its own: what kind
 * it is, where it lives, its options, and closing it
 */
export interface Store extends StoreParts {
  readonly kind: 'redis' | 'memory';
  /** where it lives, for messages: the Redis URL (without password) or "memory" */
  readonly location: string;
  readonly options: StoreOptions;
  close(): Promise<void>;
}
