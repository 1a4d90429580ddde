/**
 * The store's parts, one per concern (src/store/types.ts composes them into Store, and says what
 * both adapters promise). Each Redis part is a module of src/store/redis/ holding the shared
 * connection (redis/conn.ts), with its memory twin of the same name in src/store/memory/.
 */
import type { AbacusAddResult, AbacusStrategy } from '../core/abacus';
import type { Bot } from '../core/bots';
import type { DatalakeConfig, LakeBatch, LakeDay, LakeRecord } from '../core/datalake';
import type { HistoryBucket } from '../core/history';
import type { BulkItem } from './bulk';
import type { CleanQuery, CleanResult } from './clean';
import type { DedupedJob, Job, JobState, NewJob, Progress } from '../core/job';
import type { Schedule } from '../core/schedule';
import type { FailTarget } from '../core/backoff';
import type { CreatedFlow, FlowView, NewFlow } from '../core/flows';

import type {
  BotsDown,
  BudgetSpend,
  ClaimOptions,
  ClaimResult,
  CompleteAndClaimResult,
  Completion,
  EvictionState,
  FinishedCounts,
  FlowSpec,
  JobEvent,
  ListQuery,
  ListResult,
  NodeInfo,
  QueueInfo,
  RateLimitHit,
  ReapOptions,
  ReapResult,
  ServerInfo,
  ServerStats,
  StoreState,
  Submitted,
  WaitAndClaimOptions,
  WaitOptions,
} from './shapes';

/** the queue path: jobs made, claimed, held, finished, released and reaped */
export interface JobsStore {
  /** create jobs and put them on their queues (in one atomic step) */
  enqueue(jobs: NewJob[]): Promise<Job[]>;
  /** create a parent that is not queued itself and its children, which are; in one atomic step */
  /**
   * many jobs and flows (POST /jobs/bulk), answered in the order given: runs of BULK_RUN in a row
   * spread over the shards, each shard's jobs written in one atomic step (src/store/bulk.ts). With a key
   * (scoped to its principal), the ids follow from the key and each item's index and each shard's
   * run is written once: a retry after some shards were written writes only the others and
   * answers the same ids (existing: true for the jobs made before)
   */
  enqueueBulk(items: BulkItem[], key?: string): Promise<Submitted[]>;
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
   * the job submit would answer this job with under its debounce or throttle window (its scope,
   * its mode): a throttle window's job while the window lasts and the job is kept and not
   * CANCELLED, a debounce window's while it is PENDING; else null (submit would make one)
   */
  dedupedJob(job: DedupedJob): Promise<string | null>;
  /**
   * end a job that has not finished as CANCELLED (a chunk's id: its prime count): waiting or
   * delayed, it never runs; held, its holder's renewal, result or failure is refused with a
   * JobCancelledError; a prime count's unfinished chunks are cancelled with it. A finished job is
   * a ConflictError, an unknown one a NotFoundError. Answers the job as it is now.
   */
  cancel(jobId: string): Promise<Job>;
  /** those of these jobs that were cancelled (a worker looks at the jobs it holds) */
  cancelledAmong(jobIds: string[]): Promise<string[]>;
  claim(queue: string, opts: ClaimOptions): Promise<ClaimResult>;
  /**
   * block until the queue may have work or timeoutMs passes (true when woken by work): ordinary
   * work unless opts.ordinary is false, and CPU work with opts.cpu
   */
  waitForWork(queue: string, timeoutMs: number, opts?: WaitOptions): Promise<boolean>;
  /**
   * waitForWork, then claim (whether it woke, timed out or was aborted): what a consumer with
   * nothing to do calls. On one Redis the claim is written behind the blocking command, on a
   * connection of the lane's own, so it runs the moment work arrives (one round trip, not two)
   */
  waitAndClaim(queue: string, timeoutMs: number, opts: WaitAndClaimOptions): Promise<ClaimResult>;
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
  /**
   * append a line (its handler's ctx.log, as JSON) to the job's log: the newest JOB_LOG_LINES are
   * kept, each cut to JOB_LOG_LINE_BYTES, for JOB_LOG_TTL_MS after the last line
   */
  appendLog(jobId: string, line: string): Promise<void>;
  /**
   * give a held job back to the head of its queue, its attempt not counted (graceful shutdown);
   * with holdMs (its handler met the limit of what it calls: rate_limited), its group, or its queue
   * when it has none, starts nothing for that long
   */
  release(jobId: string, token: string, holdMs?: number): Promise<void>;
  /**
   * return jobs whose lease lapsed (at most `limit`), but not those the caller holds itself, and
   * not, for a lease more after a gap in the reapers' looks (nobody could reach the store), those
   * that lapsed during it: their holders get the chance to renew first (the gap rule)
   */
  reap(queue: string, opts?: ReapOptions): Promise<ReapResult>;
}

/** jobs read: one, a page of them, a parent's children, the counts */
export interface ReadsStore {
  job(jobId: string): Promise<Job | null>;
  /** read a job and record which API node looked (checked_by) */
  check(jobId: string, checkedBy: string): Promise<Job | null>;
  list(query: ListQuery): Promise<ListResult>;
  /** the children of a parent job, in chunk order */
  children(parentId: string): Promise<Job[]>;
  /** a job's log lines (appendLog), oldest first; none when it logged nothing or they expired */
  log(jobId: string): Promise<string[]>;
  countByState(): Promise<Record<JobState, number>>;
  /** top-level jobs that reached each final state at or after sinceMs (and have not expired) */
  finishedSince(sinceMs: number): Promise<FinishedCounts>;
}

/** the queues: known, declared, paused, removed, and their depth */
export interface QueuesStore {
  /** a paused queue gives no work to workers or bots until it is resumed; running jobs finish */
  pause(queue: string): Promise<void>;
  resume(queue: string): Promise<void>;
  /** every known queue with its depth and whether it is paused */
  list(): Promise<QueueInfo[]>;
  /** declare a queue: it is known (listed, reaped) from now on, and the API accepts jobs for it */
  declare(queue: string): Promise<void>;
  /** is the queue known: declared, paused, or ever given a job? */
  isKnown(queue: string): Promise<boolean>;
  /**
   * forget a queue that holds no job (none waiting, delayed or held), with its paused flag:
   * 'removed'; 'unknown' when it was not known; 'busy' (nothing changed) when it holds jobs
   */
  remove(queue: string): Promise<'removed' | 'unknown' | 'busy'>;
  depth(queue: string): Promise<{ waiting: number; active: number; delayed: number }>;
  /** every queue a job was ever put on */
  known(): Promise<string[]>;
}

/** a queue's limits (docs/flow-control.md): null is no limit */
export interface QueueLimits {
  /** at most this many of the queue's jobs held at once */
  concurrency: number | null;
  /** at most this many of each group's jobs held at once (a group's own limit overrides it) */
  groupConcurrency: number | null;
  /** at most max of the queue's jobs start in any window of perMs */
  rate: Rate | null;
  /** the same for each group (a group's own rate overrides it) */
  groupRate: Rate | null;
}

/** a rate limit: at most max starts in any window of perMs (docs/flow-control.md "Rate limits") */
export interface Rate {
  max: number;
  perMs: number;
}

/** what a group's own limits may change (null removes one) */
export interface GroupLimits {
  concurrency: number | null;
  rate: Rate | null;
}

/** a group of a queue: its own limit (null: the queue's group_concurrency holds), how many of its jobs wait and run */
export interface GroupInfo {
  group: string;
  concurrency: number | null;
  rate: Rate | null;
  waiting: number;
  running: number;
}

/** groups and concurrency limits (docs/flow-control.md): claims obey them, this part sets and reads them */
export interface GroupsStore {
  limits(queue: string): Promise<QueueLimits>;
  /** change the fields given (null removes a limit); answers what holds now, and wakes a waiting consumer */
  setLimits(queue: string, patch: Partial<QueueLimits>): Promise<QueueLimits>;
  /** one group: its own limit and its waiting and running jobs */
  group(queue: string, group: string): Promise<GroupInfo>;
  /** set (null: remove) one group's own concurrency and rate, the fields given; answers the group */
  setGroupLimit(queue: string, group: string, patch: Partial<GroupLimits>): Promise<GroupInfo>;
  /** the busiest groups (most waiting and running), at most `top`, of those with waiting or running jobs */
  busiest(queue: string, top: number): Promise<GroupInfo[]>;
  /** how many groups have waiting jobs (MAX_GROUPS_PER_QUEUE bounds a new one) */
  groupCount(queue: string): Promise<number>;
  /** how many times a claim of the queue was held back by a concurrency limit, or by a rate or a hold (a counter each) */
  heldBack(queue: string, limit?: 'concurrency' | 'rate'): Promise<number>;
}

/** finished jobs by hand: the dead-letter queue, failed jobs retried, finished jobs deleted */
export interface DeadLettersStore {
  /** the dead-letter queue, most recent first (chunks included) */
  list(offset?: number, limit?: number): Promise<ListResult>;
  /** a DEAD job back to PENDING at the tail of its queue, attempts from zero (ConflictError if not DEAD) */
  retry(jobId: string): Promise<Job>;
  /**
   * a FAILURE job back to PENDING at the tail of its queue, attempts from zero, no longer
   * expiring; ConflictError unless it is a FAILURE job of a queue that is not a chunk (a prime
   * count is not run itself, and a chunk's parent has finished with it)
   */
  retryFailed(jobId: string): Promise<Job>;
  /** delete every DEAD job; answers how many */
  purge(): Promise<number>;
  /**
   * delete finished top-level jobs of these states, type and queue, oldest first, at most
   * `limit` and CLEAN_SCAN index entries a call (BullMQ's clean): each with its record, log,
   * idempotency key and index entries, a prime count with its chunks; a node of a flow still
   * running is kept (skipped). Go on from the answer's cursor until it is null (src/store/clean.ts)
   */
  clean(q: CleanQuery): Promise<CleanResult>;
}

/** the event log of state and progress changes */
export interface EventsStore {
  /** the id of the newest event ("0" when none): read events after it to see what comes next */
  lastId(): Promise<string>;
  /** events after `afterId`, waiting up to blockMs for the first one */
  read(afterId: string, blockMs: number, count?: number): Promise<JobEvent[]>;
}

/** live nodes (heartbeats) and locks (the reaper's, the scheduler leader's) */
export interface NodesStore {
  /** say that a node is alive for ttlMs more (from the store's time) */
  heartbeat(role: string, nodeId: string, ttlMs: number, info?: Record<string, unknown>): Promise<void>;
  remove(role: string, nodeId: string): Promise<void>;
  live(role: string): Promise<NodeInfo[]>;
  /** take the lock `name` for ttlMs when nobody holds it (never renewed: the worker's reaper takes it each round, so it runs once per TTL across the cluster); true when taken */
  tryLock(name: string, holder: string, ttlMs: number): Promise<boolean>;
  /** take the lock when it is free or renew it when `holder` has it; false while another does */
  holdLock(name: string, holder: string, ttlMs: number): Promise<boolean>;
  /** let the lock go, when `holder` has it */
  releaseLock(name: string, holder: string): Promise<void>;
  /** who holds the lock now; null when it is free */
  lockHolder(name: string): Promise<string | null>;
}

/** schedules and the once-keyed batches they make */
export interface SchedulesStore {
  /** enqueue, but only when onceKey was not used in the last ttlMs; null (nothing made) when it was */
  enqueueOnce(onceKey: string, ttlMs: number, jobs: NewJob[]): Promise<Job[] | null>;
  /**
   * enqueueOnce whose jobs carry `schedule` and `slot` in their record (a schedule's occurrence);
   * the work is a batch of jobs or one flow (a prime count: the answer is its parent, then its chunks)
   */
  enqueue(
    schedule: string,
    slot: string,
    onceKey: string,
    ttlMs: number,
    jobs: NewJob[] | FlowSpec,
  ): Promise<Job[] | null>;
  /** keep a schedule; when one of its name exists: replaced with `replace`, else false and nothing written */
  save(schedule: Schedule, replace?: boolean): Promise<boolean>;
  /** every schedule, by name */
  list(): Promise<Schedule[]>;
  /** false when there was no such schedule */
  remove(name: string): Promise<boolean>;
}

/** bots: registered, heartbeating, holding one job each */
export interface BotsStore {
  register(botId: string, name: string, tokenHash: string): Promise<Bot>;
  idForToken(tokenHash: string): Promise<string | null>;
  get(botId: string): Promise<Bot | null>;
  /** every bot, oldest registration first */
  list(): Promise<Bot[]>;
  /** the bot is alive: up, and its job's lease renewed for leaseMs; null for an unknown bot */
  heartbeat(botId: string, leaseMs: number): Promise<Bot | null>;
  /** one job for the bot, held under a lease of leaseMs; null when there is none */
  claim(botId: string, queue: string, leaseMs: number): Promise<Job | null>;
  startJob(botId: string, jobId: string): Promise<void>;
  completeJob(botId: string, jobId: string, result: unknown): Promise<void>;
  failJob(botId: string, jobId: string, error: string, target: FailTarget): Promise<void>;
  /**
   * the bot's command met the limit of what it calls (rate_limited): the job goes back to
   * waiting, its attempt not counted, its group (or queue) held holdMs, and the bot is free
   */
  holdJob(botId: string, jobId: string, holdMs: number): Promise<void>;
  /** false when there was no such bot */
  remove(botId: string): Promise<boolean>;
  markDown(downAfterMs: number, limit?: number): Promise<BotsDown>;
}

/**
 * the datalake: finished jobs by UTC day, and its settings. A finishing step appends its records
 * to a buffer (one per shard); one drainer writes them to day files (src/roles/datalake/) and
 * trims the buffer. Days written by 0.1.0 (a list per day) are read until the retention drops them.
 */
export interface LakeStore {
  config(): Promise<DatalakeConfig>;
  configure(config: Partial<DatalakeConfig>): Promise<void>;
  /** each day's counters (drained or not), oldest first */
  days(): Promise<LakeDay[]>;
  /** `count` of the day's records the store holds (0.1.0's list, then the buffer's) from `offset`, in the order the jobs finished */
  read(day: string, offset: number, count: number): Promise<LakeRecord[]>;
  /** `count` of the day's records in 0.1.0's lists (written before the buffer) from `offset` */
  legacy(day: string, offset: number, count: number): Promise<LakeRecord[]>;
  /** drop the days older than the retention (counters and 0.1.0's lists); answers them */
  prune(): Promise<string[]>;
  /** the buffers records wait in until drained, one per shard, by a name stable across restarts */
  buffers(): Promise<string[]>;
  /** up to `count` of a buffer's entries after the entry id `after` ('' : from its start), oldest first */
  pending(buffer: string, after: string, count: number): Promise<LakeBatch[]>;
  /** drop a buffer's entries up to and including the id `through` (they are on disk) */
  trim(buffer: string, through: string): Promise<void>;
  /** entries waiting in every buffer (the datalake_buffer_entries gauge) */
  backlog(): Promise<number>;
}

/** the running sum */
export interface AbacusStore {
  /** add n to the running sum; answers the sum right after this add */
  add(n: bigint | number, strategy?: AbacusStrategy): Promise<AbacusAddResult>;
  sum(): Promise<bigint>;
  reset(): Promise<void>;
}

/** the API's rate limits and quotas */
export interface LimitsStore {
  /**
   * count one request against each bucket (a client IP, a token): a sliding window of windowMs
   * per bucket, at most max requests in any window. One atomic step for every API node: the
   * request is counted in all its buckets when each has room, else in none (refused).
   */
  hit(buckets: string[], max: number, windowMs: number): Promise<RateLimitHit>;
  /**
   * take `cost` from the budget `bucket`, which holds at most `capacity` and refills `capacity`
   * every windowMs (a token bucket, by the store's clock; a new one is full), in one atomic step
   * shared by every API node: taken only when it holds that much. A negative cost gives back.
   */
  spend(bucket: string, cost: number, capacity: number, windowMs: number): Promise<BudgetSpend>;
  /** count a new job as `owner`'s until it finishes (openJobs) */
  addOpenJob(owner: string, jobId: string): Promise<void>;
  /**
   * how many of `owner`'s jobs have not finished. When the count reaches `atMost`, up to
   * OPEN_JOBS_SCAN of them, those looked at longest ago first, are looked at, and the finished
   * (or expired) ones forgotten, before it answers.
   */
  openJobs(owner: string, atMost: number): Promise<number>;
}

/** the dashboard's history buckets */
export interface HistoryStore {
  /**
   * add to (`add`, HINCRBY) and set (`set`, HSET) fields of the history bucket that holds now,
   * the buckets being bucketMs wide; the bucket is kept keepMs after this write, then dropped
   */
  record(bucketMs: number, keepMs: number, add: Record<string, number>, set?: Record<string, string>): Promise<void>;
  /** the buckets that start in the last windowMs and hold anything, oldest first */
  read(bucketMs: number, windowMs: number): Promise<HistoryBucket[]>;
}

/** the store itself: its clock, its health, its counters */
export interface ServerStore {
  /** the store's time (ms): Redis's clock (TIME), the one every deadline in the store is made with */
  time(): Promise<number>;
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
}

/** the store's parts, by concern: `store.jobs.claim(...)`, `store.bots.register(...)` */
/** flows: jobs joined into a graph (docs/flows.md; src/store/lua/lib-flow.lua) */
export interface FlowsStore {
  /**
   * create a flow's nodes as jobs in one atomic step (a node with deps waits out of its queue until
   * they finish); the graph was checked (checkGraph). With an idempotency key in use for the same
   * nodes, nothing is made and that flow is answered (existing); for other nodes, a ConflictError.
   */
  create(flow: NewFlow): Promise<CreatedFlow>;
  /** the flow and each node's state, result or error; null when unknown or expired */
  get(flowId: string): Promise<FlowView | null>;
  /** cancel every node not yet final; NotFoundError when unknown, ConflictError when the flow has finished */
  cancel(flowId: string): Promise<FlowView>;
  /** the most recent flows' ids, newest first */
  recent(limit: number): Promise<string[]>;
  /**
   * the recovery of a flow spread over shards (docs/flows.md "On a Redis Cluster"): deliver what
   * finished nodes had to tell other shards and was not delivered for graceMs (its process died
   * between the steps); a delivery twice counts once. Answers how many were delivered (0 where
   * nothing crosses shards: one Redis shard, the embedded store)
   */
  recover(graceMs: number): Promise<number>;
  /**
   * keep a node's attempt span's trace context on its record (storedTrace), by the holder of the
   * attempt (token): its dependents' spans link to it. Asked only with tracing on.
   */
  keepSpan(jobId: string, token: string, span: string): Promise<void>;
  /** the span contexts its deps' attempts kept (keepSpan), in its deps' order; a dep that kept none is left out */
  depSpans(jobId: string): Promise<string[]>;
}

export interface StoreParts {
  readonly flows: FlowsStore;
  readonly jobs: JobsStore;
  readonly reads: ReadsStore;
  readonly queues: QueuesStore;
  readonly dead: DeadLettersStore;
  readonly events: EventsStore;
  readonly nodes: NodesStore;
  readonly schedules: SchedulesStore;
  readonly bots: BotsStore;
  readonly lake: LakeStore;
  readonly abacus: AbacusStore;
  readonly limits: LimitsStore;
  readonly groups: GroupsStore;
  readonly history: HistoryStore;
  readonly server: ServerStore;
}
/**
 * the methods Store had before it was cut by concern, each as [part, its name there]: what
 * scripts/rename-store-calls.ts rewrites a caller of an old method to
 */
export const FLAT = {
  enqueue: ['jobs', 'enqueue'],
  enqueueFlow: ['jobs', 'enqueueFlow'],
  submit: ['jobs', 'submit'],
  idempotentJob: ['jobs', 'idempotentJob'],
  cancel: ['jobs', 'cancel'],
  cancelledAmong: ['jobs', 'cancelledAmong'],
  claim: ['jobs', 'claim'],
  waitForWork: ['jobs', 'waitForWork'],
  renew: ['jobs', 'renew'],
  reportProgress: ['jobs', 'reportProgress'],
  complete: ['jobs', 'complete'],
  completeAndClaim: ['jobs', 'completeAndClaim'],
  fail: ['jobs', 'fail'],
  release: ['jobs', 'release'],
  reap: ['jobs', 'reap'],
  getJob: ['reads', 'job'],
  checkJob: ['reads', 'check'],
  listJobs: ['reads', 'list'],
  listChildren: ['reads', 'children'],
  countByState: ['reads', 'countByState'],
  finishedSince: ['reads', 'finishedSince'],
  pauseQueue: ['queues', 'pause'],
  resumeQueue: ['queues', 'resume'],
  listQueues: ['queues', 'list'],
  declareQueue: ['queues', 'declare'],
  isQueueKnown: ['queues', 'isKnown'],
  removeQueue: ['queues', 'remove'],
  queueDepth: ['queues', 'depth'],
  knownQueues: ['queues', 'known'],
  listDead: ['dead', 'list'],
  retryDead: ['dead', 'retry'],
  retryFailed: ['dead', 'retryFailed'],
  purgeDead: ['dead', 'purge'],
  lastEventId: ['events', 'lastId'],
  readEvents: ['events', 'read'],
  heartbeat: ['nodes', 'heartbeat'],
  removeNode: ['nodes', 'remove'],
  liveNodes: ['nodes', 'live'],
  tryLock: ['nodes', 'tryLock'],
  holdLock: ['nodes', 'holdLock'],
  releaseLock: ['nodes', 'releaseLock'],
  lockHolder: ['nodes', 'lockHolder'],
  enqueueOnce: ['schedules', 'enqueueOnce'],
  enqueueScheduled: ['schedules', 'enqueue'],
  saveSchedule: ['schedules', 'save'],
  listSchedules: ['schedules', 'list'],
  removeSchedule: ['schedules', 'remove'],
  registerBot: ['bots', 'register'],
  botIdForToken: ['bots', 'idForToken'],
  getBot: ['bots', 'get'],
  listBots: ['bots', 'list'],
  botHeartbeat: ['bots', 'heartbeat'],
  claimForBot: ['bots', 'claim'],
  startBotJob: ['bots', 'startJob'],
  completeBotJob: ['bots', 'completeJob'],
  failBotJob: ['bots', 'failJob'],
  removeBot: ['bots', 'remove'],
  markBotsDown: ['bots', 'markDown'],
  datalakeConfig: ['lake', 'config'],
  configureDatalake: ['lake', 'configure'],
  datalakeDays: ['lake', 'days'],
  readDatalake: ['lake', 'read'],
  pruneDatalake: ['lake', 'prune'],
  abacusAdd: ['abacus', 'add'],
  abacusSum: ['abacus', 'sum'],
  abacusReset: ['abacus', 'reset'],
  hitRateLimit: ['limits', 'hit'],
  spendBudget: ['limits', 'spend'],
  addOpenJob: ['limits', 'addOpenJob'],
  openJobs: ['limits', 'openJobs'],
  recordHistory: ['history', 'record'],
  readHistory: ['history', 'read'],
  time: ['server', 'time'],
  ping: ['server', 'ping'],
  stats: ['server', 'stats'],
  countClients: ['server', 'countClients'],
  condition: ['server', 'condition'],
  eviction: ['server', 'eviction'],
} as const;
