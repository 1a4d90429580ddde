/** The shapes the store's parts take and answer (src/store/concerns.ts); src/store/types.ts re-exports them. */
import { DEFAULTS } from '../core/defaults';
import type { Job, JobState, NewJob } from '../core/job';
import type { FinalState } from '../core/states';
import type { StoreCondition } from '../core/errors';
import type { NodePolicy } from '../core/eviction';
import type { FailTarget } from '../core/backoff';

export interface ClaimOptions {
  /** node id of the consumer: becomes handled_by */
  consumer: string;
  /** answer each job's trace and group (Job.trace, Job.group), for a consumer that records spans */
  trace?: boolean;
  /** at most this many jobs (ordinary ones when maxCpu is given) */
  max: number;
  /**
   * at most this many CPU jobs (NewJob.cpu: its queue's CPU lists) besides `max` ordinary ones:
   * a worker asks for as many as it has free pool threads. Omitted: CPU jobs count in `max`,
   * taken after the ordinary ones (a caller that runs every job alike)
   */
  maxCpu?: number;
  leaseMs: number;
}

export interface WaitOptions {
  /** wake for ordinary work (a consumer with a free slot); default true */
  ordinary?: boolean;
  /** wake for CPU work (a consumer with a free pool thread); default false */
  cpu?: boolean;
  /** ends the wait at once (false), as a timeout would */
  signal?: AbortSignal;
}

/** a wait, then a claim (waitAndClaim): the claim's options and what the wait wakes for */
export interface WaitAndClaimOptions extends ClaimOptions, WaitOptions {
  /** which of the caller's loops waits: each has a connection of its own to block on (Redis) */
  lane?: number;
}

export interface ClaimedJob {
  job: Job;
  token: string;
}

export interface ClaimResult {
  jobs: ClaimedJob[];
  /** when the next delayed (RETRY) job of this queue becomes ready, or null */
  nextRunAt: number | null;
  /** the store's time of the claim (the jobs' startedAt): nextRunAt - now is how long until then */
  now: number;
}

/** a held job's success, as completeAndClaim takes it (complete's arguments) */
export interface Completion {
  jobId: string;
  token: string;
  result: unknown;
  /** the job as claimed (complete's hint) */
  job?: Job;
}

export interface CompleteAndClaimResult {
  /** per completion, in order: null when it was recorded, else why not (LeaseLostError, ...) */
  errors: (Error | null)[];
  claim: ClaimResult;
}

/** where a failed attempt goes (src/core/backoff.ts): policy decides, the store moves */
export type { FailTarget };

/** one state or progress change, as watchers see it */
export interface JobEvent {
  /** position in the event log: read on from here and nothing is missed */
  id: string;
  jobId: string;
  state: JobState;
  progress: { completed: number; total: number } | null;
  at: number;
  /**
   * a SUCCESS event's job's result, when it is small (its JSON at most EVENT_RESULT_MAX_BYTES):
   * a caller waiting for the job has it without reading the record. Absent otherwise, and in
   * events written on a prefix below format 3 (src/store/format.ts) or by an older version
   */
  result?: unknown;
}

/** the largest result (bytes of its JSON) a SUCCESS event carries (JobEvent.result) */
export const EVENT_RESULT_MAX_BYTES = 512;

export interface ListQuery {
  state?: JobState;
  /** only jobs of this type */
  type?: string;
  /** only jobs of this queue */
  queue?: string;
  offset?: number;
  limit?: number;
}

/**
 * how many of an index's newest jobs a list filtered by type or queue looks at: the jobs are
 * matched by reading their records, so past these the filter answers among them only (partial)
 */
export const FILTER_SCAN = 5000;

/** a job's log (a handler's ctx.log lines, store.jobs.appendLog): its newest lines kept, each of at most JOB_LOG_LINE_BYTES */
export const JOB_LOG_LINES = 100;
export const JOB_LOG_LINE_BYTES = 1024;
/** a job's log is kept this long after its last line (a day), whatever becomes of the job */
export const JOB_LOG_TTL_MS = 24 * 60 * 60 * 1000;

/** does a job of this type and queue (its record's fields) match the query's filter? */
export const listMatches = (q: ListQuery, type: string | null | undefined, queue: string | null | undefined): boolean =>
  (q.type === undefined || q.type === type) && (q.queue === undefined || q.queue === queue);

export interface ListResult {
  /** the jobs of the index (state); filtered: the matches among the FILTER_SCAN newest */
  total: number;
  jobs: Job[];
  /** filtered, and the index held more than FILTER_SCAN jobs: older ones were not looked at */
  partial?: boolean;
}

/** the lease a worker holds jobs under unless told otherwise (--lease-ms), and what a reaper assumes of a queue none named */
export const DEFAULT_LEASE_MS = DEFAULTS.leaseMs;

export interface ReapOptions {
  /** at most this many jobs (default 500) */
  limit?: number;
  /**
   * the lease the caller's workers hold this queue's jobs under, which the gap rule gives a holder
   * after an outage of everyone (README "Reliability"); unset (a caller that holds none: the
   * scheduler) the lease the queue's reaper last named, else DEFAULT_LEASE_MS
   */
  leaseMs?: number;
  /** the token bases of the claims whose jobs the caller holds (tokenBaseOf): it never takes those back */
  holding?: Iterable<string>;
}

export interface ReapResult {
  requeued: string[];
  dead: string[];
}

export interface NodeInfo {
  nodeId: string;
  role: string;
  /** last heartbeat, ms, by the store's clock */
  seenAt: number;
  info: Record<string, unknown>;
}

export interface ServerInfo {
  latency_ms: number;
  version: string;
  role: string;
  mode: string;
}

/** what keeps the store from serving now, if anything (store.server.condition) */
export interface StoreState {
  /** null: it serves reads and writes */
  condition: StoreCondition | null;
  message: string | null;
}

/** what Redis says of eviction (store.server.eviction): each Redis's maxmemory-policy and the keys it evicted */
export interface EvictionState {
  /** each Redis that holds the data (a Cluster's every master) and its policy; none for the in-memory store, which evicts nothing */
  nodes: NodePolicy[];
  /** keys evicted since each Redis started (INFO stats evicted_keys, summed over the masters) */
  evictedKeys: number;
  /** one Redis (a node is its URL), not a Cluster's masters (host:port) */
  single: boolean;
}

export interface ServerStats {
  connected_clients: number | null;
  total_commands_processed: number | null;
  used_memory_human: string | null;
}

/** the answer of one request counted against its rate-limit buckets */
export interface RateLimitHit {
  /** true when every bucket had room; a refused request is not counted */
  allowed: boolean;
  /** refused: how long until the fullest bucket has room again (ms); allowed: 0 */
  retryAfterMs: number;
  /** requests left in the window of the fullest bucket after this one */
  remaining: number;
}

/** what spendBudget answers */
export interface BudgetSpend {
  /** the budget held the cost, and it is taken */
  allowed: boolean;
  /** refused: how long until the budget holds the cost (ms); allowed: 0 */
  retryAfterMs: number;
  /** what the budget holds after this (rounded down) */
  remaining: number;
}

export interface FlowSpec {
  parent: NewJob;
  children: NewJob[];
}

export interface BotsDown {
  /** bots marked down */
  down: string[];
  /** the jobs they held, put back */
  reclaimed: string[];
}

export type FinishedCounts = Record<FinalState, number>;

/**
 * what submit made: the job (a flow's parent) and its children; existing: its idempotency key was
 * in use, nothing was made; deduplicated: its debounce or throttle window's job, nothing was made
 * (a debounced one took the new params)
 */
export interface Submitted {
  job: Job;
  children: Job[];
  existing: boolean;
  deduplicated?: boolean;
}

export interface QueueInfo {
  name: string;
  waiting: number;
  active: number;
  delayed: number;
  paused: boolean;
}
