/**
 * The Redis adapter (node-redis v5). Every multi-key change is one Lua script (src/store/lua);
 * reads are plain commands. The client reconnects by itself forever; while Redis is away every
 * call fails fast with StoreUnavailableError naming the URL (no offline queue), and every call
 * has a deadline that holds after it was written (link.ts): in a partition a call fails after
 * commandTimeoutMs and its connection is replaced, so the API answers 503 and the roles back
 * off and resume on their own. An out-of-memory Redis is a store condition too
 * (StoreOutOfMemoryError): every script is refused whole before it runs, reads go on.
 */
import { randomBytes } from 'node:crypto';
import { createClient, DisconnectsClientError, ErrorReply, WatchError } from 'redis';
import {
  AbacusAddResult, AbacusStrategy, fitsInt64, OPTIMISTIC_MAX_ATTEMPTS, optimisticJitterMs, sumOutOfRange, SumConflictError, toAddend,
} from '../core/abacus';
import { DEFAULT_PRIORITY, Job, JOB_STATES, JobState, MAX_PRIORITY, MIN_PRIORITY, NewJob } from '../core/job';
import type { Bot } from '../core/bots';
import { DatalakeConfig, LakeDay, lakeEntryUnfinished, LakeRecord, lakeRecord } from '../core/datalake';
import { ConflictError, JobCancelledError, LeaseLostError, NotFoundError, StoreOutOfMemoryError, StoreUnavailableError, ValidationError, WizardError, errorMessage } from '../core/errors';
import { CLAIM_FIELDS, ClaimContext, claimView, decodeBot, decodeJob, decodeLakeConfig, decodeLakeDay, pairsToRecord } from './codec';
import { botErrors, cancelConflict, createdJob, fingerprint, flowRows, idempotencyConflict, jobRow, JobRow, rowArgs, tokenBase } from './common';
import { redisKeys, RedisKeys } from './keys';
import { Client, Link } from './link';
import { LostClaims } from './lost-claims';
import { ConnectionPool } from './pool';
import { LuaScript, ScriptName, scripts } from './scripts';
import type {
  BotsDown, ClaimOptions, ClaimResult, CompleteAndClaimResult, Completion, FailTarget, FinishedCounts, FlowSpec, JobEvent, ListQuery, ListResult, NodeInfo,
  QueueInfo, RateLimitHit, ReapResult, ServerInfo, ServerStats, Store, StoreOptions, StoreState, Submitted,
} from './types';
import { DEFAULT_STORE_OPTIONS } from './types';

type Reply = unknown;

const OK = 1;
const MISSING = -1;
const TOKEN_MISMATCH = -2;
const BAD_RESULT = -3;
const CONFLICT = -4;
const OUT_OF_RANGE = -5;
const NOT_HOLDER = -6;
const BOT_MISSING = -7;
const BOT_BUSY = -8;
const CANCELLED = -9;

/** TLS for rediss://: PEM contents of the CA and of a client certificate and key */
export interface RedisTls {
  ca?: string;
  cert?: string;
  key?: string;
}

export interface RedisStoreOptions extends StoreOptions {
  url: string;
  /** with a rediss:// URL: the CA to trust, a client certificate and key */
  tls?: RedisTls;
  /**
   * a command that gets no answer in this time fails, even after it was written, and its
   * connection is replaced; an idle connection is PINGed with this deadline too (ms)
   */
  commandTimeoutMs: number;
  /**
   * connections of its own for the abacus's optimistic transactions (WATCH), opened on demand.
   * One by default: adds on the same node then queue for it instead of racing (and conflicting
   * with) each other, so conflicts come only from other nodes; measured on 3 nodes x 64 clients,
   * 1 gave half the conflicts of 2 and no exhausted retries, at the same throughput.
   */
  watchConnections: number;
  /** a test seam: runs in an optimistic add after the sum is read and before it is written */
  betweenReadAndWrite?: () => Promise<void>;
}

/** claimJobs.lua's answer: the claim's time, when the next delayed job is due (or ''), the claim values */
type ClaimReply = [string, string, ...(string | null)[][]];

/** the states a queued job is in while its queue holds it: counted, not indexed (lib.lua's QUEUE_HELD) */
const QUEUE_HELD: ReadonlySet<JobState> = new Set<JobState>(['PENDING', 'STARTED']);
/** how deep listQueueHeld looks into a wait list, and how much at a time */
const QUEUE_SCAN = 10_000;
const QUEUE_SCAN_PAGE = 500;

/** claimJobs.lua's arguments (and completeAndClaim.lua's last five) */
function claimArgs(queue: string, opts: ClaimOptions, base: string): (string | number)[] {
  return [queue, opts.consumer, opts.max, opts.leaseMs, base];
}

/** claimJobs.lua's answer as jobs claimed at Redis's time, which the jobs' startedAt is */
function claimResult([now, next, ...entries]: ClaimReply, queue: string, consumer: string): ClaimResult {
  const tokenAt = CLAIM_FIELDS.indexOf('token');
  const context: ClaimContext = { queue, consumer, now: Number(now) };
  return {
    nextRunAt: next === '' ? null : Number(next),
    now: context.now,
    jobs: entries.map((values) => ({ token: values[tokenAt]!, job: claimView(values, context) })),
  };
}

/**
 * completeJobs.lua's arguments: the count, then per job id, token, result (JSON), and the job's
 * datalake entry but for its finish time, which the script adds (Redis's time), and its start,
 * when the job as claimed is known ('' and '': lib.lua makes them)
 */
function completionArgs(completions: readonly Completion[]): (string | number)[] {
  const args: (string | number)[] = [completions.length];
  for (const { jobId, token, result, job: j } of completions) {
    const value = JSON.stringify(result ?? null);
    if (j && j.startedAt !== null) {
      const entry = lakeEntryUnfinished(jobId, j.type, j.queue, 'SUCCESS', value, '', j.attempts, j.initiatedBy ?? '', j.handledBy ?? '', j.createdAt, j.startedAt);
      args.push(jobId, token, value, entry, j.startedAt);
    } else {
      args.push(jobId, token, value, '', '');
    }
  }
  return args;
}

/** the URL without its password, for messages and logs */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
}

export class RedisStore implements Store {
  readonly kind = 'redis' as const;
  readonly location: string;
  readonly options: RedisStoreOptions;
  readonly keys: RedisKeys;
  private readonly main: Link;
  private readonly blocking = new Map<string, Link>();
  private readonly watchPool: ConnectionPool<Link>;
  private readonly scripts = scripts();
  private lastError = '';
  /** claims whose answer was lost (lost-claims.ts): given back once Redis answers again */
  private readonly lost: LostClaims;
  private readonly completions: (Completion & { resolve: () => void; reject: (e: unknown) => void })[] = [];
  private closed = false;
  /** names this adapter's rate-limit hits apart from other nodes' */
  private readonly instanceId = randomBytes(6).toString('hex');
  private hits = 0;

  constructor(opts: Partial<RedisStoreOptions> & { url: string }) {
    this.options = { ...DEFAULT_STORE_OPTIONS, commandTimeoutMs: 2500, watchConnections: 1, ...opts };
    this.location = redactUrl(this.options.url);
    this.keys = redisKeys(this.options.prefix);
    this.main = this.link(true);
    this.watchPool = new ConnectionPool(() => this.link(), this.options.watchConnections);
    this.lost = new LostClaims((queue, base) => this.run<number>('releaseLostClaim', [queue, base]));
  }

  /** a client; the main one (re)loads the scripts on every connect */
  private makeClient(main: boolean): Client {
    const client = createClient({
      url: this.options.url,
      disableOfflineQueue: true,
      socket: {
        ...(this.options.tls ? { tls: true as const, ...this.options.tls } : {}),
        connectTimeout: 5000,
        // reconnect forever, backing off to 1 s: every role resumes by itself after an outage
        reconnectStrategy: (retries: number) => Math.min(50 * 2 ** Math.min(retries, 5), 1000),
      },
    });
    // (re)load the scripts on every connect: a restarted Redis has an empty script cache; and
    // look for the jobs of claims whose answer was lost
    if (main) {
      client.on('ready', () => {
        for (const s of Object.values(this.scripts)) client.sendCommand(['SCRIPT', 'LOAD', s.source]).catch(() => undefined);
        void this.lost.settle();
      });
    }
    return client;
  }

  /** a connection with deadlines (link.ts), connecting in the background */
  private link(main = false): Link {
    return new Link({
      make: () => this.makeClient(main),
      deadlineMs: this.options.commandTimeoutMs,
      pingEveryMs: Math.max(250, Math.floor(this.options.commandTimeoutMs / 2)),
      onError: (message) => (this.lastError = message),
    });
  }

  /** resolves when connected or after waitMs, whichever is first */
  async connect(waitMs = 5000): Promise<this> {
    await withTimeout(this.main.connected, waitMs);
    return this;
  }

  get isReady(): boolean {
    return this.main.isReady;
  }

  /** (maybeApplied: the call was sent, so it may have run) */
  private unavailable(err: unknown, maybeApplied = false): StoreUnavailableError {
    const why = (err instanceof DisconnectsClientError ? '' : errorMessage(err)) || this.lastError || 'not connected';
    return new StoreUnavailableError(`Redis at ${this.location} is unavailable: ${why}`, maybeApplied);
  }

  /**
   * one command, with a deadline that holds after it is written; connection failures, a
   * deadline passed and the replies of a Redis that cannot serve become StoreUnavailableError
   * (StoreOutOfMemoryError for OOM)
   */
  private async cmd<T = Reply>(args: (string | number)[], link: Link = this.main, deadlineMs = this.options.commandTimeoutMs): Promise<T> {
    if (!link.isReady) throw this.unavailable(this.lastError || 'not connected');
    try {
      return (await link.call((c) => c.sendCommand(args.map(String)), deadlineMs)) as T;
    } catch (err) {
      throw this.classify(err);
    }
  }

  /** an error of a call as the store reports it: Redis's own refusals stay ErrorReply */
  private classify(err: unknown): unknown {
    if (err instanceof WizardError) return err;
    if (err instanceof ErrorReply) {
      if (err.message.startsWith('OOM')) return new StoreOutOfMemoryError(`Redis at ${this.location} refuses writes: out of memory (${err.message.split('. script:')[0]})`);
      if (!/^(LOADING|MASTERDOWN|READONLY|BUSY)/.test(err.message)) return err;
      return this.unavailable(err);
    }
    return this.unavailable(err, true);
  }

  /**
   * run a script by SHA; send its source when Redis does not have it. Its time is Redis's (lib.lua
   * reads TIME when ARGV[1] is ''), or a test's clock (options.now).
   */
  private async run<T = Reply>(name: ScriptName, args: (string | number)[]): Promise<T> {
    const s: LuaScript = this.scripts[name];
    const o = this.options;
    const tail = ['1', this.keys.base, o.now ? o.now() : '', o.resultTtlMs, o.eventRetentionMs, ...args];
    try {
      return await this.cmd<T>(['EVALSHA', s.sha, ...tail]);
    } catch (err) {
      if (err instanceof ErrorReply && err.message.startsWith('NOSCRIPT')) return this.cmd<T>(['EVAL', s.source, ...tail]);
      throw err;
    }
  }

  /** a script run once, sent whole (not by SHA, not prefixed with lib.lua): joinFormat.lua */
  async evalOnce<T = Reply>(source: string, keys: string[], args: (string | number)[]): Promise<T> {
    return this.cmd<T>(['EVAL', source, keys.length, ...keys, ...args]);
  }

  /** a script's answer code for a job as an error, or null for OK */
  private codeError(code: unknown, jobId: string): Error | null {
    if (code === OK) return null;
    if (code === MISSING) return new NotFoundError(`job ${jobId} not found`);
    if (code === TOKEN_MISMATCH) return new LeaseLostError(jobId);
    if (code === CANCELLED) return new JobCancelledError(jobId);
    if (code === CONFLICT) return new ConflictError(`job ${jobId} is not in the dead-letter queue, or its parent job has finished`);
    if (code === BAD_RESULT) return new ValidationError(`the result of chunk ${jobId} must be a number`);
    return new Error(`unexpected script reply ${String(code)} for job ${jobId}`);
  }

  private checkCode(code: unknown, jobId: string): void {
    const err = this.codeError(code, jobId);
    if (err) throw err;
  }

  /** the codes of a bot's transitions (lib.lua's botToken), then the common ones */
  private checkBotCode(code: unknown, botId: string, jobId: string): void {
    if (code === NOT_HOLDER) throw botErrors.notHolder(botId, jobId);
    if (code === BOT_MISSING) throw botErrors.unknown(botId);
    this.checkCode(code, jobId);
  }

  /** write new jobs; answers them as created at Redis's time (a worker may already have claimed them) */
  private async insert(rows: JobRow[]): Promise<Job[]> {
    const [, now] = await this.run<[number, string]>('enqueueJobs', ['', '', ...rowArgs(rows)]);
    return rows.map((r) => createdJob(r, Number(now)));
  }

  enqueue(jobs: NewJob[]): Promise<Job[]> {
    return this.insert(jobs.map((j) => jobRow(j)));
  }

  async enqueueFlow(flow: FlowSpec): Promise<{ parent: Job; children: Job[] }> {
    const [parent, ...children] = await this.insert(flowRows(flow));
    return { parent, children };
  }

  async submit(work: NewJob | FlowSpec): Promise<Submitted> {
    const first = 'parent' in work ? work.parent : work;
    const rows = 'parent' in work ? flowRows(work) : [jobRow(work)];
    const key = first.idempotencyKey ?? '';
    const [, now, existingId, , same] = await this.run<[number, string, string?, string?, number?]>('enqueueJobs', [key, key ? fingerprint(first) : '', ...rowArgs(rows)]);
    if (existingId === undefined) {
      const [job, ...children] = rows.map((r) => createdJob(r, Number(now)));
      return { job, children, existing: false };
    }
    if (same !== 1) throw idempotencyConflict(key, existingId);
    const job = await this.getJob(existingId);
    if (!job) throw new NotFoundError(`job ${existingId} not found`);
    return { job, children: [], existing: true };
  }

  async cancel(jobId: string): Promise<Job> {
    const [code, detail] = await this.run<[number, string?]>('cancelJob', [jobId]);
    if (code === CONFLICT) throw cancelConflict(jobId, String(detail));
    this.checkCode(code, jobId);
    return (await this.getJob(String(detail)))!;
  }

  async cancelledAmong(jobIds: string[]): Promise<string[]> {
    const states = await Promise.all(jobIds.map((id) => this.cmd<string | null>(['HGET', this.keys.job(id), 'state'])));
    return jobIds.filter((_, i) => states[i] === 'CANCELLED');
  }

  /** the paused flag is the member 'paused' of the queue's ready set (lib.lua's claimFrom reads it with the priorities) */
  async pauseQueue(queue: string): Promise<void> {
    await Promise.all([this.cmd(['ZADD', this.keys.ready(queue), -1, 'paused']), this.cmd(['SADD', this.keys.queues, queue])]);
  }

  async resumeQueue(queue: string): Promise<void> {
    await this.cmd(['ZREM', this.keys.ready(queue), 'paused']);
    await this.cmd(['ZADD', this.keys.marker(queue), 0, 'm']);
  }

  async listQueues(): Promise<QueueInfo[]> {
    const names = await this.knownQueues();
    return Promise.all(
      names.map(async (name) => {
        const [depth, paused] = await Promise.all([this.queueDepth(name), this.cmd<string | null>(['ZSCORE', this.keys.ready(name), 'paused'])]);
        return { name, ...depth, paused: paused !== null };
      }),
    );
  }

  /** every wait list of a queue, most urgent first */
  private waitLists(queue: string): string[] {
    const lists: string[] = [];
    for (let p = MIN_PRIORITY; p <= MAX_PRIORITY; p++) lists.push(p === DEFAULT_PRIORITY ? this.keys.wait(queue) : this.keys.waitAt(queue, p));
    return lists;
  }

  async claim(queue: string, opts: ClaimOptions): Promise<ClaimResult> {
    return claimResult(await this.claiming(queue, opts, (base) => this.run<ClaimReply>('claimJobs', claimArgs(queue, opts, base))), queue, opts.consumer);
  }

  async completeAndClaim(completions: Completion[], queue: string, opts: ClaimOptions): Promise<CompleteAndClaimResult> {
    const [codes, claimed] = await this.claiming(queue, opts, (base) =>
      this.run<[number[], ClaimReply]>('completeAndClaim', [...completionArgs(completions), ...claimArgs(queue, opts, base)]),
    );
    return { errors: completions.map((c, i) => this.codeError(codes[i], c.jobId)), claim: claimResult(claimed, queue, opts.consumer) };
  }

  /** a claim under a token base of its own; when its answer is lost, its jobs are given back (lost-claims.ts) */
  private async claiming<T>(queue: string, opts: ClaimOptions, call: (base: string) => Promise<T>): Promise<T> {
    const base = tokenBase(opts.consumer);
    try {
      return await call(base);
    } catch (err) {
      if (opts.max > 0 && err instanceof StoreUnavailableError && err.maybeApplied) this.lost.add(queue, base, opts.leaseMs);
      throw err;
    }
  }

  /**
   * Blocking commands get connections of their own, one per purpose (waiting for work, reading
   * events), so a worker and an event reader in one process never queue behind each other.
   */
  private blockingLink(purpose: 'work' | 'events'): Promise<Link> {
    let l = this.blocking.get(purpose);
    if (!l) this.blocking.set(purpose, (l = this.link()));
    return this.ready(l);
  }

  /** the link, once it is connected (or commandTimeoutMs has passed) */
  private async ready(l: Link): Promise<Link> {
    if (!l.isReady) await withTimeout(l.connected, this.options.commandTimeoutMs);
    return l;
  }

  async waitForWork(queue: string, timeoutMs: number): Promise<boolean> {
    const l = await this.blockingLink('work');
    const secs = Math.max(0.01, timeoutMs / 1000).toFixed(3);
    const got = await this.cmd<unknown[] | null>(['BZPOPMIN', this.keys.marker(queue), secs], l, timeoutMs + this.options.commandTimeoutMs);
    return got !== null;
  }

  async renew(jobId: string, token: string, leaseMs: number): Promise<void> {
    this.checkCode(await this.run('renewLease', [jobId, token, leaseMs]), jobId);
  }

  /** completions of one event-loop turn go to Redis together, in one completeJobs call */
  complete(jobId: string, token: string, result: unknown, job?: Job): Promise<void> {
    return new Promise((resolve, reject) => {
      this.completions.push({ jobId, token, result, job, resolve, reject });
      if (this.completions.length === 1) setImmediate(() => void this.flushCompletions());
    });
  }

  private async flushCompletions(): Promise<void> {
    const batch = this.completions.splice(0);
    try {
      const codes = await this.run<number[]>('completeJobs', completionArgs(batch));
      batch.forEach((c, i) => {
        const err = this.codeError(codes[i], c.jobId);
        if (err) c.reject(err);
        else c.resolve();
      });
    } catch (err) {
      batch.forEach((c) => c.reject(err));
    }
  }

  async fail(jobId: string, token: string, error: string, target: FailTarget): Promise<void> {
    this.checkCode(await this.run('failJob', [jobId, token, error, target.to, retryDelayOf(target)]), jobId);
  }

  async release(jobId: string, token: string): Promise<void> {
    this.checkCode(await this.run('releaseJob', [jobId, token]), jobId);
  }

  async reap(queue: string, limit = 500): Promise<ReapResult> {
    const [requeued, dead] = await this.run<[string[], string[]]>('reapExpiredLeases', [queue, limit]);
    return { requeued, dead };
  }

  private async getJobs(ids: string[]): Promise<Job[]> {
    const replies = await Promise.all(ids.map((id) => this.cmd<string[]>(['HGETALL', this.keys.job(id)])));
    return replies.flatMap((r, i) => (r.length > 0 ? [decodeJob(pairsToRecord(r), ids[i])] : []));
  }

  async getJob(jobId: string): Promise<Job | null> {
    const [job] = await this.getJobs([jobId]);
    return job ?? null;
  }

  /** recording checked_by is best-effort: an out-of-memory Redis refuses it, and the job is read all the same */
  async checkJob(jobId: string, checkedBy: string): Promise<Job | null> {
    let flat: string[];
    try {
      flat = await this.run<string[]>('checkJob', [jobId, checkedBy]);
    } catch (err) {
      if (!(err instanceof StoreOutOfMemoryError)) throw err;
      return this.getJob(jobId);
    }
    return flat.length ? decodeJob(pairsToRecord(flat), jobId) : null;
  }

  async listJobs(q: ListQuery): Promise<ListResult> {
    const key = q.state ? this.keys.state(q.state) : this.keys.jobs;
    const offset = q.offset ?? 0;
    const limit = q.limit ?? 50;
    if (q.state && QUEUE_HELD.has(q.state)) return this.listQueueHeld(q.state, offset, limit);
    const [total, ids] = await Promise.all([
      this.cmd<number>(['ZCARD', key]),
      limit > 0 ? this.cmd<string[]>(['ZRANGE', key, offset, offset + limit - 1, 'REV']) : Promise.resolve([]),
    ]);
    return { total, jobs: await this.getJobs(ids) };
  }

  async listDead(offset = 0, limit = 50): Promise<ListResult> {
    const [total, ids] = await Promise.all([
      this.cmd<number>(['ZCARD', this.keys.dlq]),
      limit > 0 ? this.cmd<string[]>(['ZRANGE', this.keys.dlq, offset, offset + limit - 1, 'REV']) : Promise.resolve([]),
    ]);
    return { total, jobs: await this.getJobs(ids) };
  }

  async retryDead(jobId: string): Promise<Job> {
    this.checkCode(await this.run('retryDeadJob', [jobId]), jobId);
    return (await this.getJob(jobId))!;
  }

  async purgeDead(): Promise<number> {
    let total = 0;
    for (let n = -1; n !== 0; total += n) n = await this.run<number>('purgeDeadJobs', [1000]);
    return total;
  }

  async listChildren(parentId: string): Promise<Job[]> {
    return this.getJobs(await this.cmd<string[]>(['LRANGE', this.keys.children(parentId), 0, -1]));
  }

  async countByState(): Promise<Record<JobState, number>> {
    const [indexed, counted] = await Promise.all([
      Promise.all(JOB_STATES.map((s) => this.cmd<number>(['ZCARD', this.keys.state(s)]))),
      this.queueHeldCounts(),
    ]);
    return Object.fromEntries(JOB_STATES.map((s, i) => [s, indexed[i] + (counted[s] ?? 0)])) as Record<JobState, number>;
  }

  /** how many queued top-level jobs are PENDING and STARTED (lib.lua counts them: the index leaves them to the queues) */
  private async queueHeldCounts(): Promise<Partial<Record<JobState, number>>> {
    const states = [...QUEUE_HELD];
    const values = await this.cmd<(string | null)[]>(['HMGET', this.keys.counts, ...states]);
    return Object.fromEntries(states.map((s, i) => [s, Number(values[i] ?? 0)]));
  }

  /**
   * PENDING or STARTED jobs, newest change first (then by id, as ZRANGE REV orders a tie): those the index holds (jobs on no queue: a
   * prime count's parent) and the top-level ones the queues hold, PENDING from each wait list
   * (most recently queued first, looked at up to QUEUE_SCAN entries deep: chunks and retries
   * share the list), STARTED from each lease set (as many as are held).
   */
  private async listQueueHeld(state: JobState, offset: number, limit: number): Promise<ListResult> {
    const want = offset + limit;
    const [indexedTotal, indexed, counted, queues] = await Promise.all([
      this.cmd<number>(['ZCARD', this.keys.state(state)]),
      want > 0 ? this.cmd<string[]>(['ZRANGE', this.keys.state(state), 0, want - 1, 'REV', 'WITHSCORES']) : Promise.resolve([]),
      this.queueHeldCounts(),
      this.knownQueues(),
    ]);
    type Found = { id: string; at: number };
    const found: Found[] = [];
    for (let i = 0; i + 1 < indexed.length; i += 2) found.push({ id: indexed[i], at: Number(indexed[i + 1]) });
    /** the top-level jobs among ids that are in `state`, with the time of their last change */
    const inState = async (ids: string[]): Promise<Found[]> => {
      const fields = await Promise.all(ids.map((id) => this.cmd<(string | null)[]>(['HMGET', this.keys.job(id), 'state', 'parent_id', 'updated_at', 'created_at'])));
      return ids.flatMap((id, i) => {
        const [s, parent, updated, created] = fields[i];
        return s === state && !parent ? [{ id, at: Number(updated ?? created) }] : [];
      });
    };
    // pages about twice the page asked for: most of a wait list's head is what was asked for, unless chunks crowd it
    const pageSize = Math.min(QUEUE_SCAN_PAGE, Math.max(50, want * 2));
    const fromQueue = async (queue: string): Promise<Found[]> => {
      if (state === 'STARTED') return inState(await this.cmd<string[]>(['ZRANGE', this.keys.active(queue), 0, -1]));
      const matches: Found[] = [];
      for (const list of this.waitLists(queue)) {
        for (let from = 0; matches.length < want && from < QUEUE_SCAN; from += pageSize) {
          const ids = await this.cmd<string[]>(['LRANGE', list, from, from + pageSize - 1]);
          if (ids.length === 0) break;
          matches.push(...(await inState(ids))); // whole pages: a batch queued at one time sorts by id, as the index does
        }
      }
      // delayed PENDING jobs wait in the delayed set
      if (state === 'PENDING') matches.push(...(await inState(await this.cmd<string[]>(['ZRANGE', this.keys.delayed(queue), 0, QUEUE_SCAN_PAGE - 1]))));
      return matches;
    };
    if (want > 0) for (const matches of await Promise.all(queues.map(fromQueue))) found.push(...matches);
    const page = found.sort((a, b) => b.at - a.at || (a.id < b.id ? 1 : -1)).slice(offset, want).map((f) => f.id);
    return { total: indexedTotal + (counted[state] ?? 0), jobs: await this.getJobs(page) };
  }

  async queueDepth(queue: string): Promise<{ waiting: number; active: number; delayed: number }> {
    const [lengths, active, delayed] = await Promise.all([
      Promise.all(this.waitLists(queue).map((list) => this.cmd<number>(['LLEN', list]))),
      this.cmd<number>(['ZCARD', this.keys.active(queue)]),
      this.cmd<number>(['ZCARD', this.keys.delayed(queue)]),
    ]);
    return { waiting: lengths.reduce((a, b) => a + b, 0), active, delayed };
  }

  async lastEventId(): Promise<string> {
    const last = await this.cmd<[string, string[]][]>(['XREVRANGE', this.keys.events, '+', '-', 'COUNT', 1]);
    return last.length ? last[0][0] : '0';
  }

  async readEvents(afterId: string, blockMs: number, count = 500): Promise<JobEvent[]> {
    const args: (string | number)[] = ['XREAD', 'COUNT', count];
    if (blockMs > 0) args.push('BLOCK', blockMs);
    args.push('STREAMS', this.keys.events, afterId);
    const link = blockMs > 0 ? await this.blockingLink('events') : this.main;
    const reply = await this.cmd<[string, [string, string[]][]][] | null>(args, link, blockMs + this.options.commandTimeoutMs);
    if (!reply) return [];
    return reply[0][1].flatMap(([id, flat]) => decodeEvents(id, flat));
  }

  /** heartbeatNode.lua: live for ttlMs from Redis's time, so a node's own clock does not matter */
  async heartbeat(role: string, nodeId: string, ttlMs: number, info: Record<string, unknown> = {}): Promise<void> {
    await this.run('heartbeatNode', [role, nodeId, ttlMs, JSON.stringify(info)]);
  }

  async removeNode(role: string, nodeId: string): Promise<void> {
    await Promise.all([this.cmd(['DEL', this.keys.node(role, nodeId)]), this.cmd(['ZREM', this.keys.nodes(role), nodeId])]);
  }

  /** liveNodes.lua: the nodes whose heartbeat has not lapsed by Redis's time */
  async liveNodes(role: string): Promise<NodeInfo[]> {
    const flat = await this.run<string[]>('liveNodes', [role]);
    const nodes: NodeInfo[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const { seenAt, ...info } = JSON.parse(flat[i + 1]) as { seenAt: number } & Record<string, unknown>;
      nodes.push({ nodeId: flat[i], role, seenAt, info });
    }
    return nodes;
  }

  async tryLock(name: string, holder: string, ttlMs: number): Promise<boolean> {
    return (await this.cmd<string | null>(['SET', this.keys.lock(name), holder, 'NX', 'PX', ttlMs])) === 'OK';
  }

  // ---- seed 004: batches, leadership, bots, the datalake ----

  async enqueueOnce(onceKey: string, ttlMs: number, jobs: NewJob[]): Promise<Job[] | null> {
    const rows = jobs.map((j) => jobRow(j));
    const [created, now] = await this.run<[number, string?]>('enqueueBatch', [onceKey, ttlMs, ...rowArgs(rows)]);
    return created === 0 && rows.length > 0 ? null : rows.map((r) => createdJob(r, Number(now)));
  }

  async knownQueues(): Promise<string[]> {
    return (await this.cmd<string[]>(['SMEMBERS', this.keys.queues])).sort();
  }

  async finishedSince(sinceMs: number): Promise<FinishedCounts> {
    const states = ['SUCCESS', 'FAILURE', 'DEAD', 'CANCELLED'] as const;
    const counts = await Promise.all(states.map((st) => this.cmd<number>(['ZCOUNT', this.keys.state(st), sinceMs, '+inf'])));
    return { SUCCESS: counts[0], FAILURE: counts[1], DEAD: counts[2], CANCELLED: counts[3] };
  }

  async holdLock(name: string, holder: string, ttlMs: number): Promise<boolean> {
    return (await this.run<number>('holdLock', [name, holder, ttlMs])) === 1;
  }

  async releaseLock(name: string, holder: string): Promise<void> {
    await this.run('releaseLock', [name, holder]);
  }

  async lockHolder(name: string): Promise<string | null> {
    return this.cmd<string | null>(['GET', this.keys.lock(name)]);
  }

  async registerBot(botId: string, name: string, tokenHash: string): Promise<Bot> {
    return decodeBot(pairsToRecord(await this.run<string[]>('registerBot', [botId, name, tokenHash])));
  }

  async botIdForToken(tokenHash: string): Promise<string | null> {
    return this.cmd<string | null>(['HGET', this.keys.botTokens, tokenHash]);
  }

  async getBot(botId: string): Promise<Bot | null> {
    const flat = await this.cmd<string[]>(['HGETALL', this.keys.bot(botId)]);
    return flat.length ? decodeBot(pairsToRecord(flat)) : null;
  }

  async listBots(): Promise<Bot[]> {
    const ids = await this.cmd<string[]>(['ZRANGE', this.keys.bots, 0, -1]);
    const bots = await Promise.all(ids.map((id) => this.getBot(id)));
    return bots.filter((b): b is Bot => b !== null);
  }

  async botHeartbeat(botId: string, leaseMs: number): Promise<Bot | null> {
    const flat = await this.run<string[]>('heartbeatBot', [botId, leaseMs]);
    return flat.length ? decodeBot(pairsToRecord(flat)) : null;
  }

  async claimForBot(botId: string, queue: string, leaseMs: number): Promise<Job | null> {
    const [code, nowOrJob, entry] = await this.run<[number, string?, (string | null)[]?]>('claimJobForBot', [botId, queue, leaseMs, tokenBase(botId)]);
    if (code === BOT_BUSY) throw botErrors.busy(botId, String(nowOrJob));
    this.checkBotCode(code, botId, '');
    return entry ? claimView(entry, { queue, consumer: botId, now: Number(nowOrJob) }) : null;
  }

  async startBotJob(botId: string, jobId: string): Promise<void> {
    this.checkBotCode(await this.run('startJob', [jobId, botId]), botId, jobId);
  }

  async completeBotJob(botId: string, jobId: string, result: unknown): Promise<void> {
    this.checkBotCode(await this.run('completeBotJob', [jobId, botId, JSON.stringify(result ?? null)]), botId, jobId);
  }

  async failBotJob(botId: string, jobId: string, error: string, target: FailTarget): Promise<void> {
    this.checkBotCode(await this.run('failBotJob', [jobId, botId, error, target.to, retryDelayOf(target)]), botId, jobId);
  }

  async removeBot(botId: string): Promise<boolean> {
    return (await this.run<number>('removeBot', [botId])) === OK;
  }

  async markBotsDown(downAfterMs: number, limit = 500): Promise<BotsDown> {
    const [down, reclaimed] = await this.run<[string[], string[]]>('markBotsDown', [downAfterMs, limit]);
    return { down, reclaimed };
  }

  async datalakeConfig(): Promise<DatalakeConfig> {
    const [records, days] = await this.cmd<(string | null)[]>(['HMGET', this.keys.config, 'datalake', 'datalake_retention_days']);
    return decodeLakeConfig(records, days);
  }

  async configureDatalake(config: Partial<DatalakeConfig>): Promise<void> {
    const fields: string[] = [];
    if (config.records !== undefined) fields.push('datalake', config.records);
    if (config.retentionDays !== undefined) fields.push('datalake_retention_days', String(config.retentionDays));
    if (fields.length) await this.cmd(['HSET', this.keys.config, ...fields]);
  }

  async datalakeDays(): Promise<LakeDay[]> {
    const days = await this.cmd<string[]>(['ZRANGE', this.keys.lakeDays, 0, -1]);
    const [stats, counts] = await Promise.all([
      Promise.all(days.map((d) => this.cmd<string[]>(['HGETALL', this.keys.lakeStats(d)]))),
      Promise.all(days.map((d) => this.cmd<number>(['LLEN', this.keys.lake(d)]))),
    ]);
    return days.map((d, i) => decodeLakeDay(d, counts[i], pairsToRecord(stats[i])));
  }

  async readDatalake(day: string, offset: number, count: number): Promise<LakeRecord[]> {
    return (await this.cmd<string[]>(['LRANGE', this.keys.lake(day), offset, offset + count - 1])).map(lakeRecord);
  }

  async pruneDatalake(): Promise<string[]> {
    return this.run<string[]>('pruneDatalake', []);
  }

  // ---- abacus ----

  async abacusAdd(n: bigint | number, strategy: AbacusStrategy = 'atomic'): Promise<AbacusAddResult> {
    const addend = toAddend(n);
    if (strategy === 'optimistic') return this.addOptimistic(addend);
    const [code, sum] = await this.run<[number, string]>('addToSum', [addend.toString()]);
    if (code === OUT_OF_RANGE) throw sumOutOfRange(addend);
    return { sum: BigInt(sum), conflicts: 0 };
  }

  /** seed 003's optimistic locking: retried with jitter while the sum moves under it, then 409 */
  private async addOptimistic(n: bigint): Promise<AbacusAddResult> {
    for (let attempt = 1; attempt <= OPTIMISTIC_MAX_ATTEMPTS; attempt++) {
      if (attempt > 1) await sleep(optimisticJitterMs(attempt));
      const sum = await this.watchPool.use((d) => this.tryAddWatched(d, n));
      if (sum !== null) return { sum, conflicts: attempt - 1 };
    }
    throw new SumConflictError(OPTIMISTIC_MAX_ATTEMPTS);
  }

  /**
   * One optimistic attempt, on a connection of its own: WATCH the sum, GET it, MULTI SET sum + n
   * EXEC. Answers the new sum, or null when EXEC was aborted because the sum moved (or the
   * connection was re-made after WATCH, which node-redis also reports as a WatchError).
   */
  private async tryAddWatched(l: Link, n: bigint): Promise<bigint | null> {
    await this.ready(l);
    if (!l.isReady) throw this.unavailable(this.lastError || 'not connected');
    const key = this.keys.abacus;
    const deadline = this.options.commandTimeoutMs;
    const pinned = l.client; // WATCH, GET and EXEC on one connection, or not at all
    try {
      const [, current] = await l.call((c) => Promise.all([c.watch(key), c.get(key)]), deadline, pinned); // one round trip: WATCH, then GET
      const next = BigInt(current ?? 0) + n;
      if (!fitsInt64(next)) {
        await l.call((c) => c.unwatch(), deadline, pinned);
        throw sumOutOfRange(n);
      }
      await this.options.betweenReadAndWrite?.();
      await l.call((c) => c.multi().set(key, next.toString()).exec(), deadline, pinned);
      return next;
    } catch (err) {
      if (err instanceof WatchError) return null;
      throw this.classify(err);
    }
  }

  async abacusSum(): Promise<bigint> {
    return BigInt((await this.cmd<string | null>(['GET', this.keys.abacus])) ?? 0);
  }

  async abacusReset(): Promise<void> {
    await this.cmd(['DEL', this.keys.abacus]);
  }

  // ---- rate limits ----

  async hitRateLimit(buckets: string[], max: number, windowMs: number): Promise<RateLimitHit> {
    const member = `${this.instanceId}:${++this.hits}`;
    const [allowed, retryAfterMs, remaining] = await this.run<[number, number, number]>('hitRateLimit', [windowMs, max, member, ...buckets]);
    return { allowed: allowed === 1, retryAfterMs, remaining };
  }

  async time(): Promise<number> {
    if (this.options.now) return this.options.now();
    const [secs, micros] = await this.cmd<[string, string]>(['TIME']);
    return Number(secs) * 1000 + Math.floor(Number(micros) / 1000);
  }

  async ping(): Promise<ServerInfo> {
    const started = process.hrtime.bigint();
    await this.cmd(['PING']);
    const latency = Number(process.hrtime.bigint() - started) / 1e6;
    const info = pairsFromInfo(await this.cmd<string>(['INFO', 'server']) + (await this.cmd<string>(['INFO', 'replication'])));
    return {
      latency_ms: Math.round(latency * 1000) / 1000,
      version: info.valkey_version ?? info.redis_version ?? 'unknown',
      role: info.role ?? 'unknown',
      mode: info.redis_mode ?? info.server_mode ?? 'standalone',
    };
  }

  /**
   * what keeps Redis from serving now: unreachable (not connected, or no answer in time), or out
   * of memory (used memory past maxmemory: Redis refuses writes, as INFO memory shows it)
   */
  async condition(): Promise<StoreState> {
    let info: Record<string, string>;
    try {
      info = pairsFromInfo(await this.cmd<string>(['INFO', 'memory']));
    } catch (err) {
      return { condition: 'unavailable', message: errorMessage(err) };
    }
    const max = Number(info.maxmemory ?? 0);
    const used = Number(info.used_memory ?? 0) - Number(info.mem_not_counted_for_evict ?? 0);
    if (max > 0 && used > max && info.maxmemory_policy === 'noeviction') {
      return { condition: 'out of memory', message: `Redis at ${this.location} refuses writes: out of memory (${used} bytes used, maxmemory ${max})` };
    }
    return { condition: null, message: null };
  }

  async stats(): Promise<ServerStats> {
    const info = pairsFromInfo(await this.cmd<string>(['INFO']));
    const n = (v: string | undefined) => (v === undefined ? null : Number(v));
    return {
      connected_clients: n(info.connected_clients),
      total_commands_processed: n(info.total_commands_processed),
      used_memory_human: info.used_memory_human ?? null,
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.lost.close();
    for (const l of [...this.blocking.values(), ...this.watchPool.members, this.main]) l.close();
  }
}

/**
 * One entry of the event log holds the changes of one script: pairs of job id and
 * "STATE" or "STATE completed total" (see lib.lua's emit).
 */
export function decodeEvents(id: string, flat: string[]): JobEvent[] {
  const at = Number(id.slice(0, id.indexOf('-')));
  const out: JobEvent[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const [state, completed, total] = flat[i + 1].split(' ');
    out.push({ id, jobId: flat[i], state: state as JobState, progress: total === undefined ? null : { completed: Number(completed), total: Number(total) }, at });
  }
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** failJob.lua's delayMs: a retry's, else unused */
const retryDelayOf = (target: FailTarget): number => (target.to === 'RETRY' ? target.delayMs : 0);

function withTimeout(p: Promise<void>, ms: number): Promise<void> {
  return Promise.race([p, new Promise<void>((r) => setTimeout(r, ms).unref())]);
}

/** INFO's "field:value" lines as a record */
export function pairsFromInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
}
