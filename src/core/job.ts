/**
 * The one job model. Every unit of work (a math task, a prime-count job and each of its chunks,
 * a scheduled batch job) is a Job with one state machine, TRANSITIONS (src/core/states.ts; src/store/lua/lib.lua
 * says which script makes each move):
 *
 *   PENDING ──claim──▶ STARTED ──start (a bot), a chunk done (its parent)──▶ PROGRESS
 *   RETRY ────claim──▶ STARTED
 *   STARTED or PROGRESS ─▶ SUCCESS   complete
 *                       ─▶ RETRY     fail (a backoff), reap (a lapsed lease), bots down
 *                       ─▶ FAILURE   fail (no retry mends it); a parent whose chunk failed
 *                       ─▶ DEAD      out of attempts: in the dead-letter queue
 *                       ─▶ PENDING   release (a holder stopping; the attempt does not count)
 *   DEAD, FAILURE ─▶ PENDING         retried by hand (FAILURE: a top-level queued job)
 *   PENDING, RETRY, STARTED, PROGRESS ─▶ CANCELLED (POST /jobs/:id/cancel, and a cancelled
 *     parent's unfinished chunks) or ─▶ FAILURE (the unfinished chunks of a parent that failed)
 *
 * A PENDING job may be delayed (run_at: no worker starts it before then, by Redis's clock) and
 * has a priority (0..9, lower first, 5 by default).
 *
 * Seed-specific responses (/tasks/:id/status, /api/jobs/:id, /jobs/:id) are views of this record.
 */
export {
  JOB_STATES,
  FINAL_STATES,
  TRANSITIONS,
  isFinal,
  isJobState,
  canTransition,
  checkTransition,
  type JobState,
} from './states';
import { isFinal, type JobState } from './states';

/** the built-in job types: a math task, a prime-count parent and its chunks, simulated scheduled work */
export const JOB_TYPES = ['task', 'primes', 'primes_chunk', 'sim'] as const;
/** a job's type: a built-in one or one a --handlers module defines (src/core/handlers.ts) */
export type JobType = string;

export interface Progress {
  completed: number;
  total: number;
}

export interface Job {
  id: string;
  type: JobType;
  queue: string;
  state: JobState;
  params: Record<string, unknown>;
  progress: Progress | null;
  result: unknown;
  error: string | null;
  attempts: number;
  maxAttempts: number;
  initiatedBy: string | null;
  handledBy: string | null;
  checkedBy: string | null;
  parentId: string | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  updatedAt: number;
  /** when a job in RETRY, or a delayed PENDING one, becomes ready */
  runAt: number | null;
  /** 0..9, lower runs first */
  priority: number;
  /** an attempt running longer is aborted; null: the type's default */
  timeoutMs: number | null;
  /** the idempotency key it was created with (as its caller gave it) */
  idempotencyKey: string | null;
  /**
   * who submitted it, `<role>:<token name>` (client:alice, admin:ops) or `bot:<bot id>`; null when
   * no token named the caller (an open API, the scheduler) and in a claim's view (a claim does not read it)
   */
  principal?: string | null;
  /** the schedule that made it and the occurrence (slot, ISO 8601) it was made for; absent: not scheduled */
  schedule?: string | null;
  /** its group (docs/flow-control.md); absent: none */
  group?: string;
  /** its debounce or throttle window's key and mode (docs/flow-control.md); absent: none */
  dedupe?: { key: string; mode: DedupeMode };
  slot?: string | null;
  /** a flow's node (docs/flows.md): its flow and its id there; absent for other jobs */
  flowId?: string;
  flowNode?: string;
  /** a flow's node with deps, once they finished: each dep's outcome by its node id (ctx.deps) */
  deps?: Record<string, { state: JobState; result?: unknown; error?: string }>;
  /** the W3C trace context its attempts continue (src/util/tracing.ts storedTrace); absent: none was given */
  trace?: string;
  /** each attempt's outcome, oldest first (attemptsLog); absent in a claim's view */
  attemptsLog?: AttemptOutcome[];
}

/** one attempt of a job: how it ended (or STARTED, PROGRESS: it runs), its error, who ran it, when (ms) */
export interface AttemptOutcome {
  attempt: number;
  state: JobState;
  error: string | null;
  handled_by: string | null;
  at: number | null;
}

/**
 * A job's attempts, oldest first. The record's `attempts_log` (a JSON list) keeps the outcomes its
 * own fields were about to forget: an attempt that failed and was retried (RETRY), or a finished
 * job retried by hand (its DEAD or FAILURE). The last attempt is the record itself: it ends the
 * list while it runs or once it finished (a job back in RETRY or PENDING has not started it yet).
 */
export function attemptsLog(job: Job, log: AttemptOutcome[]): AttemptOutcome[] {
  if (job.attempts === 0 || job.state === 'RETRY' || job.state === 'PENDING') return log;
  const final = isFinal(job.state);
  return [
    ...log,
    {
      attempt: job.attempts,
      state: job.state,
      error: job.error,
      handled_by: job.handledBy,
      at: final ? job.finishedAt : job.startedAt,
    },
  ];
}

/** priorities: 0 (most urgent) to 9; 5 by default */
export const MIN_PRIORITY = 0;
export const MAX_PRIORITY = 9;
export const DEFAULT_PRIORITY = 5;
/** the longest delay a job may be given */
export const MAX_DELAY_MS = 30 * 24 * 60 * 60 * 1000;

/** what a producer says about a new job; the store fills in the rest */
export interface NewJob {
  id?: string;
  type: JobType;
  queue?: string;
  params: Record<string, unknown>;
  initiatedBy?: string | null;
  maxAttempts?: number;
  /** 0..9 (DEFAULT_PRIORITY when unset) */
  priority?: number;
  /** not ready until this long after it is created (by the store's clock) */
  delayMs?: number;
  timeoutMs?: number;
  /** a second create with this key by the same principal, while the job is kept, creates nothing (store.jobs.submit) */
  idempotencyKey?: string;
  /** who submitted it (Job.principal); it scopes the idempotency key */
  principal?: string;
  /**
   * a CPU job: it waits in its queue's CPU lists, which a worker takes from only for its free pool
   * threads (docs/architecture.md "What a worker claims"). Unset: as the enqueuing process's registry says of
   * the type (handlers.ts isCpuType)
   */
  cpu?: boolean;
  /** its group (docs/flow-control.md: a tenant, a user): claims take from a queue's groups in turn */
  group?: string;
  /** the W3C trace context its attempts continue (src/util/tracing.ts storedTrace) */
  trace?: string;
  /** a debounce or throttle window (store.jobs.submit; not with idempotencyKey, not for a flow) */
  dedupe?: Dedupe;
}

/**
 * the two ways a window deduplicates (docs/flow-control.md "Debounce and throttle"): throttle,
 * the first job of the window wins; debounce, the job waits and a later one replaces its params
 */
export const DEDUPE_MODES = ['throttle', 'debounce'] as const;
export type DedupeMode = (typeof DEDUPE_MODES)[number];

/** a job's debounce or throttle window: its key (1-200 of the safe alphabet), its length, its mode */
export interface Dedupe {
  key: string;
  ttlMs: number;
  mode: DedupeMode;
  /** debounce: the job starts at most this long after the window's first submission */
  maxWaitMs?: number;
}

/** a job made under a debounce or throttle window (store.jobs.submit) */
export type DedupedJob = NewJob & { dedupe: Dedupe };

/** the longest dedupe key */
export const MAX_DEDUPE_KEY_LENGTH = 200;

/**
 * a window's key as the store keeps it: scoped by the job's queue, its group and who submitted it,
 * so two queues', two groups' or two callers' same key are two windows (none of the parts holds
 * ':' but the principal, which sits between the group and the key: the scope cannot be forged)
 */
export const dedupeScope = (job: Pick<NewJob, 'queue' | 'group' | 'principal'>, key: string): string =>
  `${job.queue ?? DEFAULT_QUEUE}:${job.group ?? ''}:${job.principal ?? ''}:${key}`;

/** the longest group name; a name is of the safe alphabet (core/ids.ts: it is part of key names and metric labels) */
export const MAX_GROUP_LENGTH = 128;
/** how many groups with waiting jobs a queue may hold at once (a job of a new group beyond it is refused) */
export const MAX_GROUPS_PER_QUEUE = 10000;

/**
 * an idempotency key as the store keeps it: scoped by who submitted the job, so two callers'
 * same key are two keys (a caller's key holds no ':', core/ids.ts: the scope cannot be forged)
 */
export const scopedIdempotencyKey = (key: string, principal?: string | null): string =>
  principal ? `${principal}:${key}` : key;

/** a stored idempotency key as its caller gave it */
export const givenIdempotencyKey = (stored: string, principal?: string | null): string =>
  principal && stored.startsWith(`${principal}:`) ? stored.slice(principal.length + 1) : stored;

export const DEFAULT_QUEUE = 'default';

/** a time (ms) in ISO 8601, or null */
export function iso(ms: number): string;
export function iso(ms: number | null): string | null;
export function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

/** a prime count's result, as the script that records its last chunk writes it */
export interface PrimeCountResult {
  prime_count: number;
  duration_sec: number;
}
