/**
 * The store: every piece of shared state, in domain terms. Two adapters implement it: Redis
 * (src/store/redis.ts, the real cluster) and memory (src/store/memory.ts, `wizard up` with no
 * Redis). One contract test suite (test/integration/store-contract.test.ts) runs against both.
 *
 * Queue semantics (both adapters):
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
 *   the one job it holds and that job's claim token. claimForBot is claim with max 1 and the bot
 *   as consumer, recorded in the bot in the same step; a bot that holds a job gets a
 *   ConflictError; start/complete/fail of a job the bot does not hold is a ConflictError (a
 *   NotFoundError when there is no such job), and an unknown bot an UnknownBotError.
 * - a heartbeat renews the lease of the bot's job; markBotsDown marks bots silent for
 *   downAfterMs down and puts back the job each held (RETRY or DEAD, as reap), in one step;
 *   removeBot releases the job the bot held (the attempt not counted).
 * - enqueueOnce creates its jobs only when its key was not used in the last ttlMs.
 * - schedules are kept by name (saveSchedule, listSchedules, removeSchedule); enqueueScheduled
 *   is enqueueOnce whose jobs carry the schedule's name and the slot (their schedule and slot).
 * - every finished top-level job of a recorded type is appended to the datalake in the step
 *   that finishes it (exactly once), to the list of its UTC day; what is recorded and how many
 *   days are kept are cluster-wide settings (datalakeConfig).
 *
 * Rate limits (the API's, both adapters): a sliding log per bucket (the times of the
 * requests it let through in the last window), shared by every API node; see hitRateLimit.
 *
 * Abacus semantics (the running sum, both adapters):
 * - one running sum, a signed 64-bit integer, 0 until the first add; no add is ever lost.
 * - an add that would take the sum outside [-2^63, 2^63-1] is refused (UnprocessableError) and
 *   changes nothing; an addend outside that range is a ValidationError.
 * - the optimistic strategy retries when the sum moved under it; after OPTIMISTIC_MAX_ATTEMPTS
 *   conflicts in a row it gives up with SumConflictError (nothing added).
 */
import type { AbacusAddResult, AbacusStrategy } from '../core/abacus';
import type { Bot } from '../core/bots';
import type { DatalakeConfig, LakeDay, LakeRecord } from '../core/datalake';
import type { HistoryBucket } from '../core/history';
import type { Job, JobState, NewJob, Progress } from '../core/job';
import type { FinalState } from '../core/states';
import type { Schedule } from '../core/schedule';
import type { StoreCondition } from '../core/errors';
import type { NodePolicy } from '../core/eviction';
import type { FailTarget } from '../core/backoff';
import { DEFAULTS } from '../core/defaults';

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

export interface ClaimOptions {
  /** node id of the consumer: becomes handled_by */
  consumer: string;
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
}

export interface ListQuery {
  state?: JobState;
  offset?: number;
  limit?: number;
}

export interface ListResult {
  total: number;
  jobs: Job[];
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

/** what keeps the store from serving now, if anything (Store.condition) */
export interface StoreState {
  /** null: it serves reads and writes */
  condition: StoreCondition | null;
  message: string | null;
}

/** what Redis says of eviction (Store.eviction): each Redis's maxmemory-policy and the keys it evicted */
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

/** what submit made: the job (a flow's parent) and its children; existing: its idempotency key was in use, nothing was made */
export interface Submitted {
  job: Job;
  children: Job[];
  existing: boolean;
}

export interface QueueInfo {
  name: string;
  waiting: number;
  active: number;
  delayed: number;
  paused: boolean;
}

export interface Store {
  readonly kind: 'redis' | 'memory';
  /** where it lives, for messages: the Redis URL (without password) or "memory" */
  readonly location: string;
  readonly options: StoreOptions;

  /** create jobs and put them on their queues (in one atomic step) */
  enqueue(jobs: NewJob[]): Promise<Job[]>;
  /** create a parent that is not queued itself and its children, which are; in one atomic step */
  enqueueFlow(flow: FlowSpec): Promise<{ parent: Job; children: Job[] }>;
  /**
   * enqueue one job or one flow under the job's (the parent's) idempotency key, in one atomic
   * step: while a job made with that key is kept, nothing is made and that job is answered
   * (existing), or, for another type or other params, a ConflictError naming the key. The key
   * lives as long as that job's record (resultTtlMs after it finishes).
   */
  submit(work: NewJob | FlowSpec): Promise<Submitted>;
  /** the job an idempotency key (as submit keeps it: scopedIdempotencyKey) was used for, while that job is kept; else null */
  idempotentJob(scopedKey: string): Promise<string | null>;
  /**
   * end a job that has not finished as CANCELLED (a chunk's id: its prime count): waiting or
   * delayed, it never runs; held, its holder's renewal, result or failure is refused with a
   * JobCancelledError; a prime count's unfinished chunks are cancelled with it. A finished job is
   * a ConflictError, an unknown one a NotFoundError. Answers the job as it is now.
   */
  cancel(jobId: string): Promise<Job>;
  /** those of these jobs that were cancelled (a worker looks at the jobs it holds) */
  cancelledAmong(jobIds: string[]): Promise<string[]>;
  /** a paused queue gives no work to workers or bots until it is resumed; running jobs finish */
  pauseQueue(queue: string): Promise<void>;
  resumeQueue(queue: string): Promise<void>;
  /** every known queue with its depth and whether it is paused */
  listQueues(): Promise<QueueInfo[]>;
  /** declare a queue: it is known (listed, reaped) from now on, and the API accepts jobs for it */
  declareQueue(queue: string): Promise<void>;
  /** is the queue known: declared, paused, or ever given a job? */
  isQueueKnown(queue: string): Promise<boolean>;
  /**
   * forget a queue that holds no job (none waiting, delayed or held), with its paused flag:
   * 'removed'; 'unknown' when it was not known; 'busy' (nothing changed) when it holds jobs
   */
  removeQueue(queue: string): Promise<'removed' | 'unknown' | 'busy'>;
  claim(queue: string, opts: ClaimOptions): Promise<ClaimResult>;
  /**
   * block until the queue may have work or timeoutMs passes (true when woken by work): ordinary
   * work unless opts.ordinary is false, and CPU work with opts.cpu
   */
  waitForWork(queue: string, timeoutMs: number, opts?: WaitOptions): Promise<boolean>;
  /** extend the lease of a held job */
  renew(jobId: string, token: string, leaseMs: number): Promise<void>;
  /**
   * a held job's handler reports its progress (a fraction is {completed: f, total: 1}): written to
   * the record and the event log; refused as renew is (LeaseLostError, JobCancelledError)
   */
  reportProgress(jobId: string, token: string, progress: Progress): Promise<void>;
  /**
   * acknowledge a held job with its result, in one step. `job`, the job as claimed, is a hint
   * the caller may give: the Redis store then makes the job's datalake record from it instead of
   * reading the job back inside the step (the record is written in that same step either way).
   */
  complete(jobId: string, token: string, result: unknown, job?: Job): Promise<void>;
  /**
   * complete these jobs, then claim up to opts.max (0: none) for the slots they freed: one step
   * and, on Redis, one round trip instead of two. A completion refused (lease lost, ...) does not
   * stop the others or the claim: its error is in `errors`.
   */
  completeAndClaim(completions: Completion[], queue: string, opts: ClaimOptions): Promise<CompleteAndClaimResult>;
  fail(jobId: string, token: string, error: string, target: FailTarget): Promise<void>;
  /** give a held job back to the head of its queue, its attempt not counted (graceful shutdown) */
  release(jobId: string, token: string): Promise<void>;
  /**
   * return jobs whose lease lapsed (at most `limit`), but not those the caller holds itself, and
   * not, for a lease more after a gap in the reapers' looks (nobody could reach the store), those
   * that lapsed during it: their holders get the chance to renew first (the gap rule)
   */
  reap(queue: string, opts?: ReapOptions): Promise<ReapResult>;

  getJob(jobId: string): Promise<Job | null>;
  /** read a job and record which API node looked (checked_by) */
  checkJob(jobId: string, checkedBy: string): Promise<Job | null>;
  listJobs(query: ListQuery): Promise<ListResult>;
  /** the children of a parent job, in chunk order */
  listChildren(parentId: string): Promise<Job[]>;
  countByState(): Promise<Record<JobState, number>>;
  queueDepth(queue: string): Promise<{ waiting: number; active: number; delayed: number }>;

  /** the dead-letter queue, most recent first (chunks included) */
  listDead(offset?: number, limit?: number): Promise<ListResult>;
  /** a DEAD job back to PENDING at the tail of its queue, attempts from zero (ConflictError if not DEAD) */
  retryDead(jobId: string): Promise<Job>;
  /**
   * a FAILURE job back to PENDING at the tail of its queue, attempts from zero, no longer
   * expiring; ConflictError unless it is a FAILURE job of a queue that is not a chunk (a prime
   * count is not run itself, and a chunk's parent has finished with it)
   */
  retryFailed(jobId: string): Promise<Job>;
  /** delete every DEAD job; answers how many */
  purgeDead(): Promise<number>;

  /** the id of the newest event ("0" when none): read events after it to see what comes next */
  lastEventId(): Promise<string>;
  /** events after `afterId`, waiting up to blockMs for the first one */
  readEvents(afterId: string, blockMs: number, count?: number): Promise<JobEvent[]>;

  /** say that a node is alive for ttlMs more (from the store's time) */
  heartbeat(role: string, nodeId: string, ttlMs: number, info?: Record<string, unknown>): Promise<void>;
  removeNode(role: string, nodeId: string): Promise<void>;
  liveNodes(role: string): Promise<NodeInfo[]>;

  /** take the lock `name` for ttlMs when nobody holds it (never renewed: the worker's reaper takes it each round, so it runs once per TTL across the cluster); true when taken */
  tryLock(name: string, holder: string, ttlMs: number): Promise<boolean>;

  // ---- the bot batch, leadership, bots, the datalake ----

  /** enqueue, but only when onceKey was not used in the last ttlMs; null (nothing made) when it was */
  enqueueOnce(onceKey: string, ttlMs: number, jobs: NewJob[]): Promise<Job[] | null>;
  /**
   * enqueueOnce whose jobs carry `schedule` and `slot` in their record (a schedule's occurrence);
   * the work is a batch of jobs or one flow (a prime count: the answer is its parent, then its chunks)
   */
  enqueueScheduled(
    schedule: string,
    slot: string,
    onceKey: string,
    ttlMs: number,
    jobs: NewJob[] | FlowSpec,
  ): Promise<Job[] | null>;
  /** keep a schedule; when one of its name exists: replaced with `replace`, else false and nothing written */
  saveSchedule(schedule: Schedule, replace?: boolean): Promise<boolean>;
  /** every schedule, by name */
  listSchedules(): Promise<Schedule[]>;
  /** false when there was no such schedule */
  removeSchedule(name: string): Promise<boolean>;
  /** every queue a job was ever put on */
  knownQueues(): Promise<string[]>;
  /** top-level jobs that reached each final state at or after sinceMs (and have not expired) */
  finishedSince(sinceMs: number): Promise<FinishedCounts>;
  /** take the lock when it is free or renew it when `holder` has it; false while another does */
  holdLock(name: string, holder: string, ttlMs: number): Promise<boolean>;
  /** let the lock go, when `holder` has it */
  releaseLock(name: string, holder: string): Promise<void>;
  /** who holds the lock now; null when it is free */
  lockHolder(name: string): Promise<string | null>;

  registerBot(botId: string, name: string, tokenHash: string): Promise<Bot>;
  botIdForToken(tokenHash: string): Promise<string | null>;
  getBot(botId: string): Promise<Bot | null>;
  /** every bot, oldest registration first */
  listBots(): Promise<Bot[]>;
  /** the bot is alive: up, and its job's lease renewed for leaseMs; null for an unknown bot */
  botHeartbeat(botId: string, leaseMs: number): Promise<Bot | null>;
  /** one job for the bot, held under a lease of leaseMs; null when there is none */
  claimForBot(botId: string, queue: string, leaseMs: number): Promise<Job | null>;
  startBotJob(botId: string, jobId: string): Promise<void>;
  completeBotJob(botId: string, jobId: string, result: unknown): Promise<void>;
  failBotJob(botId: string, jobId: string, error: string, target: FailTarget): Promise<void>;
  /** false when there was no such bot */
  removeBot(botId: string): Promise<boolean>;
  markBotsDown(downAfterMs: number, limit?: number): Promise<BotsDown>;

  datalakeConfig(): Promise<DatalakeConfig>;
  configureDatalake(config: Partial<DatalakeConfig>): Promise<void>;
  /** each day's counters, oldest first */
  datalakeDays(): Promise<LakeDay[]>;
  /** `count` of a day's records from `offset`, in the order the jobs finished */
  readDatalake(day: string, offset: number, count: number): Promise<LakeRecord[]>;
  /** drop the days older than the retention; answers them */
  pruneDatalake(): Promise<string[]>;
  /** add n to the running sum; answers the sum right after this add */
  abacusAdd(n: bigint | number, strategy?: AbacusStrategy): Promise<AbacusAddResult>;
  abacusSum(): Promise<bigint>;
  abacusReset(): Promise<void>;

  /**
   * count one request against each bucket (a client IP, a token): a sliding window of windowMs
   * per bucket, at most max requests in any window. One atomic step for every API node: the
   * request is counted in all its buckets when each has room, else in none (refused).
   */
  hitRateLimit(buckets: string[], max: number, windowMs: number): Promise<RateLimitHit>;

  // ---- quotas (the API's, per token: src/roles/api/quotas.ts; both adapters) ----

  /**
   * take `cost` from the budget `bucket`, which holds at most `capacity` and refills `capacity`
   * every windowMs (a token bucket, by the store's clock; a new one is full), in one atomic step
   * shared by every API node: taken only when it holds that much. A negative cost gives back.
   */
  spendBudget(bucket: string, cost: number, capacity: number, windowMs: number): Promise<BudgetSpend>;
  /** count a new job as `owner`'s until it finishes (openJobs) */
  addOpenJob(owner: string, jobId: string): Promise<void>;
  /**
   * how many of `owner`'s jobs have not finished. When the count reaches `atMost`, up to
   * OPEN_JOBS_SCAN of them, those looked at longest ago first, are looked at, and the finished
   * (or expired) ones forgotten, before it answers.
   */
  openJobs(owner: string, atMost: number): Promise<number>;

  /** the store's time (ms): Redis's clock (TIME), the one every deadline in the store is made with */
  time(): Promise<number>;

  // ---- the dashboard's history (src/core/history.ts; both adapters) ----

  /**
   * add to (`add`, HINCRBY) and set (`set`, HSET) fields of the history bucket that holds now,
   * the buckets being bucketMs wide; the bucket is kept keepMs after this write, then dropped
   */
  recordHistory(
    bucketMs: number,
    keepMs: number,
    add: Record<string, number>,
    set?: Record<string, string>,
  ): Promise<void>;
  /** the buckets that start in the last windowMs and hold anything, oldest first */
  readHistory(bucketMs: number, windowMs: number): Promise<HistoryBucket[]>;

  ping(): Promise<ServerInfo>;
  stats(): Promise<ServerStats>;
  /**
   * the in-memory store has no connections of its own: the clients it serves are the API's, and
   * the API tells it how many it holds (its stats' connected_clients); Redis counts its own
   */
  countClients?(open: () => number): void;
  /** what keeps the store from serving now (unreachable, out of memory), or makes it unsafe (eviction), for /health and /metrics; never throws */
  condition(): Promise<StoreState>;
  /** each Redis's maxmemory-policy and the keys it evicted (src/core/eviction.ts judges them); the in-memory store has no policy */
  eviction(): Promise<EvictionState>;
  close(): Promise<void>;
}
