/**
 * The Redis adapter (node-redis v5). Every multi-key change is one Lua script (src/store/lua);
 * reads are plain commands. The client reconnects by itself forever; while Redis is away every
 * call fails fast with StoreUnavailableError naming the URL (no offline queue, a command
 * timeout), so the API answers 503 and the roles back off and resume on their own.
 */
import { randomBytes } from 'node:crypto';
import { createClient, ErrorReply, WatchError } from 'redis';
import {
  AbacusAddResult, AbacusStrategy, fitsInt64, OPTIMISTIC_MAX_ATTEMPTS, optimisticJitterMs, sumOutOfRange, SumConflictError, toAddend,
} from '../core/abacus';
import { Job, JOB_STATES, JobState, NewJob } from '../core/job';
import type { Bot } from '../core/bots';
import { DatalakeConfig, LakeDay, lakeEntry, LakeRecord, lakeRecord } from '../core/datalake';
import type { HistoryBucket } from '../core/history';
import { ConflictError, LeaseLostError, NotFoundError, StoreUnavailableError, ValidationError, WizardError, errorMessage } from '../core/errors';
import { CLAIM_FIELDS, ClaimContext, claimView, decodeBot, decodeJob, decodeLakeConfig, decodeLakeDay, pairsToRecord } from './codec';
import { botErrors, createdJob, flowRows, jobRow, JobRow, notRetryable, rowArgs, tokenBase } from './common';
import { redisKeys, RedisKeys } from './keys';
import { ConnectionPool } from './pool';
import { LuaScript, ScriptName, scripts } from './scripts';
import type {
  BotsDown, ClaimOptions, ClaimResult, CompleteAndClaimResult, Completion, FailTarget, FinishedCounts, FlowSpec, JobEvent, ListQuery, ListResult, NodeInfo,
  RateLimitHit, ReapResult, ServerInfo, ServerStats, Store, StoreOptions,
} from './types';
import { DEFAULT_STORE_OPTIONS } from './types';

type Client = ReturnType<typeof createClient>;
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

/** a connection of its own (blocking reads, WATCH), connecting in the background */
interface Dedicated {
  client: Client;
  connected: Promise<void>;
}

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
  /** a command that gets no answer in this time fails (ms) */
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

type ClaimReply = [string, ...(string | null)[][]];

/** the states a queued job is in while its queue holds it: counted, not indexed (lib.lua's QUEUE_HELD) */
const QUEUE_HELD: ReadonlySet<JobState> = new Set<JobState>(['PENDING', 'STARTED']);
/** how deep listQueueHeld looks into a wait list, and how much at a time */
const QUEUE_SCAN = 10_000;
const QUEUE_SCAN_PAGE = 500;

/** claimJobs.lua's arguments (and completeAndClaim.lua's last five) */
function claimArgs(queue: string, opts: ClaimOptions): (string | number)[] {
  return [queue, opts.consumer, opts.max, opts.leaseMs, tokenBase(opts.consumer)];
}

/** claimJobs.lua's answer: when the next delayed job is due, and each job's claim values */
function claimResult([next, ...entries]: ClaimReply, context: ClaimContext): ClaimResult {
  const tokenAt = CLAIM_FIELDS.indexOf('token');
  return {
    nextRunAt: next === '' ? null : Number(next),
    jobs: entries.map((values) => ({ token: values[tokenAt]!, job: claimView(values, context) })),
  };
}

/**
 * completeJobs.lua's arguments: the count, then per job id, token, result (JSON), and the job's
 * datalake entry and start when the job as claimed is known ('' and '': lib.lua makes them)
 */
function completionArgs(completions: readonly Completion[], now: number): (string | number)[] {
  const args: (string | number)[] = [completions.length];
  for (const { jobId, token, result, job: j } of completions) {
    const value = JSON.stringify(result ?? null);
    if (j && j.startedAt !== null) {
      const entry = lakeEntry(jobId, j.type, j.queue, 'SUCCESS', value, '', j.attempts, j.initiatedBy ?? '', j.handledBy ?? '', j.createdAt, j.startedAt, now);
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
  private readonly client: Client;
  private readonly blocking = new Map<string, Dedicated>();
  private readonly watchPool: ConnectionPool<Dedicated>;
  private readonly scripts = scripts();
  private lastError = '';
  private readonly completions: (Completion & { resolve: () => void; reject: (e: unknown) => void })[] = [];
  private closed = false;
  /** names this adapter's rate-limit hits apart from other nodes' */
  private readonly instanceId = randomBytes(6).toString('hex');
  private hits = 0;

  constructor(opts: Partial<RedisStoreOptions> & { url: string }) {
    this.options = { ...DEFAULT_STORE_OPTIONS, commandTimeoutMs: 5000, watchConnections: 1, ...opts };
    this.location = redactUrl(this.options.url);
    this.keys = redisKeys(this.options.prefix);
    this.client = this.makeClient();
    this.watchPool = new ConnectionPool(() => this.dedicated(), this.options.watchConnections);
  }

  private makeClient(): Client {
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
    client.on('error', (err: Error) => {
      this.lastError = err.message || err.constructor.name;
    });
    // (re)load the scripts on every connect: a restarted Redis has an empty script cache
    client.on('ready', () => {
      for (const s of Object.values(this.scripts)) client.sendCommand(['SCRIPT', 'LOAD', s.source]).catch(() => undefined);
    });
    return client;
  }

  /** start connecting; resolves when connected or after waitMs, whichever is first */
  async connect(waitMs = 5000): Promise<this> {
    const ready = this.client.connect().then(
      () => undefined,
      (e: unknown) => {
        this.lastError = errorMessage(e);
      },
    );
    await withTimeout(ready, waitMs);
    return this;
  }

  get isReady(): boolean {
    return this.client.isReady;
  }

  private unavailable(err: unknown): StoreUnavailableError {
    const why = errorMessage(err) || this.lastError || 'not connected';
    return new StoreUnavailableError(`Redis at ${this.location} is unavailable: ${why}`);
  }

  /** one command; connection failures become StoreUnavailableError */
  private async cmd<T = Reply>(args: (string | number)[], client: Client = this.client, timeout = this.options.commandTimeoutMs): Promise<T> {
    if (!client.isReady) throw this.unavailable(this.lastError || 'not connected');
    try {
      return (await client.sendCommand(args.map(String), { timeout })) as T;
    } catch (err) {
      if (err instanceof ErrorReply && !/^(LOADING|MASTERDOWN|READONLY)/.test(err.message)) throw err;
      throw this.unavailable(err);
    }
  }

  /** run a script by SHA; send its source when Redis does not have it */
  private async run<T = Reply>(name: ScriptName, args: (string | number)[], now = this.options.now()): Promise<T> {
    const s: LuaScript = this.scripts[name];
    const o = this.options;
    const tail = ['1', this.keys.base, now, o.resultTtlMs, o.eventRetentionMs, ...args];
    try {
      return await this.cmd<T>(['EVALSHA', s.sha, ...tail]);
    } catch (err) {
      if (err instanceof ErrorReply && err.message.startsWith('NOSCRIPT')) return this.cmd<T>(['EVAL', s.source, ...tail]);
      throw err;
    }
  }

  /** a script's answer code for a job as an error, or null for OK */
  private codeError(code: unknown, jobId: string): Error | null {
    if (code === OK) return null;
    if (code === MISSING) return new NotFoundError(`job ${jobId} not found`);
    if (code === TOKEN_MISMATCH) return new LeaseLostError(jobId);
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

  /** write new jobs; answers them as created (a worker may already have claimed them) */
  private async insert(rows: JobRow[]): Promise<Job[]> {
    const now = this.options.now();
    await this.run('enqueueJobs', rowArgs(rows), now);
    return rows.map((r) => createdJob(r, now));
  }

  enqueue(jobs: NewJob[]): Promise<Job[]> {
    return this.insert(jobs.map((j) => jobRow(j)));
  }

  async enqueueFlow(flow: FlowSpec): Promise<{ parent: Job; children: Job[] }> {
    const [parent, ...children] = await this.insert(flowRows(flow));
    return { parent, children };
  }

  async claim(queue: string, opts: ClaimOptions): Promise<ClaimResult> {
    const now = this.options.now();
    const reply = await this.run<ClaimReply>('claimJobs', claimArgs(queue, opts), now);
    return claimResult(reply, { queue, consumer: opts.consumer, now });
  }

  async completeAndClaim(completions: Completion[], queue: string, opts: ClaimOptions): Promise<CompleteAndClaimResult> {
    const now = this.options.now();
    const [codes, claimed] = await this.run<[number[], ClaimReply]>('completeAndClaim', [...completionArgs(completions, now), ...claimArgs(queue, opts)], now);
    return { errors: completions.map((c, i) => this.codeError(codes[i], c.jobId)), claim: claimResult(claimed, { queue, consumer: opts.consumer, now }) };
  }

  /** open a connection of its own (it reconnects by itself like the main one) */
  private dedicated(): Dedicated {
    const client = this.client.duplicate();
    client.on('error', (err: Error) => {
      this.lastError = err.message;
    });
    const connected = client.connect().then(
      () => undefined,
      (e: unknown) => {
        this.lastError = errorMessage(e);
      },
    );
    return { client, connected };
  }

  /** the dedicated connection's client, once it is connected (or commandTimeoutMs has passed) */
  private async ready(d: Dedicated): Promise<Client> {
    if (!d.client.isReady) await withTimeout(d.connected, this.options.commandTimeoutMs);
    return d.client;
  }

  /**
   * Blocking commands get connections of their own, one per purpose (waiting for work, reading
   * events), so a worker and an event reader in one process never queue behind each other.
   */
  private blockingClient(purpose: 'work' | 'events'): Promise<Client> {
    let d = this.blocking.get(purpose);
    if (!d) this.blocking.set(purpose, (d = this.dedicated()));
    return this.ready(d);
  }

  async waitForWork(queue: string, timeoutMs: number): Promise<boolean> {
    const c = await this.blockingClient('work');
    const secs = Math.max(0.01, timeoutMs / 1000).toFixed(3);
    const got = await this.cmd<unknown[] | null>(['BZPOPMIN', this.keys.marker(queue), secs], c, timeoutMs + this.options.commandTimeoutMs);
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
    const now = this.options.now();
    try {
      const codes = await this.run<number[]>('completeJobs', completionArgs(batch, now), now);
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
    const runAt = target.to === 'RETRY' ? target.runAt : 0;
    this.checkCode(await this.run('failJob', [jobId, token, error, target.to, runAt]), jobId);
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

  async checkJob(jobId: string, checkedBy: string): Promise<Job | null> {
    const flat = await this.run<string[]>('checkJob', [jobId, checkedBy]);
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

  async retryFailed(jobId: string): Promise<Job> {
    const code = await this.run('retryFailedJob', [jobId]);
    if (code === CONFLICT) throw notRetryable(jobId);
    this.checkCode(code, jobId);
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
      for (let from = 0; matches.length < want && from < QUEUE_SCAN; from += pageSize) {
        const ids = await this.cmd<string[]>(['LRANGE', this.keys.wait(queue), from, from + pageSize - 1]);
        if (ids.length === 0) break;
        matches.push(...(await inState(ids))); // whole pages: a batch queued at one time sorts by id, as the index does
      }
      return matches;
    };
    if (want > 0) for (const matches of await Promise.all(queues.map(fromQueue))) found.push(...matches);
    const page = found.sort((a, b) => b.at - a.at || (a.id < b.id ? 1 : -1)).slice(offset, want).map((f) => f.id);
    return { total: indexedTotal + (counted[state] ?? 0), jobs: await this.getJobs(page) };
  }

  async queueDepth(queue: string): Promise<{ waiting: number; active: number; delayed: number }> {
    const [waiting, active, delayed] = await Promise.all([
      this.cmd<number>(['LLEN', this.keys.wait(queue)]),
      this.cmd<number>(['ZCARD', this.keys.active(queue)]),
      this.cmd<number>(['ZCARD', this.keys.delayed(queue)]),
    ]);
    return { waiting, active, delayed };
  }

  async lastEventId(): Promise<string> {
    const last = await this.cmd<[string, string[]][]>(['XREVRANGE', this.keys.events, '+', '-', 'COUNT', 1]);
    return last.length ? last[0][0] : '0';
  }

  async readEvents(afterId: string, blockMs: number, count = 500): Promise<JobEvent[]> {
    const args: (string | number)[] = ['XREAD', 'COUNT', count];
    if (blockMs > 0) args.push('BLOCK', blockMs);
    args.push('STREAMS', this.keys.events, afterId);
    const client = blockMs > 0 ? await this.blockingClient('events') : this.client;
    const reply = await this.cmd<[string, [string, string[]][]][] | null>(args, client, blockMs + this.options.commandTimeoutMs);
    if (!reply) return [];
    return reply[0][1].flatMap(([id, flat]) => decodeEvents(id, flat));
  }

  async heartbeat(role: string, nodeId: string, ttlMs: number, info: Record<string, unknown> = {}): Promise<void> {
    const now = this.options.now();
    await Promise.all([
      this.cmd(['SET', this.keys.node(role, nodeId), JSON.stringify({ ...info, seenAt: now }), 'PX', ttlMs]),
      this.cmd(['ZADD', this.keys.nodes(role), now + ttlMs, nodeId]),
    ]);
  }

  async removeNode(role: string, nodeId: string): Promise<void> {
    await Promise.all([this.cmd(['DEL', this.keys.node(role, nodeId)]), this.cmd(['ZREM', this.keys.nodes(role), nodeId])]);
  }

  async liveNodes(role: string): Promise<NodeInfo[]> {
    const now = this.options.now();
    await this.cmd(['ZREMRANGEBYSCORE', this.keys.nodes(role), '-inf', now]);
    const ids = await this.cmd<string[]>(['ZRANGE', this.keys.nodes(role), 0, -1]);
    const infos = await Promise.all(ids.map((id) => this.cmd<string | null>(['GET', this.keys.node(role, id)])));
    const nodes: NodeInfo[] = [];
    ids.forEach((nodeId, i) => {
      const raw = infos[i];
      if (raw === null) return;
      const { seenAt, ...info } = JSON.parse(raw) as { seenAt: number } & Record<string, unknown>;
      nodes.push({ nodeId, role, seenAt, info });
    });
    return nodes;
  }

  async tryLock(name: string, holder: string, ttlMs: number): Promise<boolean> {
    return (await this.cmd<string | null>(['SET', this.keys.lock(name), holder, 'NX', 'PX', ttlMs])) === 'OK';
  }

  // ---- seed 004: batches, leadership, bots, the datalake ----

  async enqueueOnce(onceKey: string, ttlMs: number, jobs: NewJob[]): Promise<Job[] | null> {
    const rows = jobs.map((j) => jobRow(j));
    const now = this.options.now();
    const created = await this.run<number>('enqueueBatch', [onceKey, ttlMs, ...rowArgs(rows)], now);
    return created === 0 && rows.length > 0 ? null : rows.map((r) => createdJob(r, now));
  }

  async knownQueues(): Promise<string[]> {
    return (await this.cmd<string[]>(['SMEMBERS', this.keys.queues])).sort();
  }

  async finishedSince(sinceMs: number): Promise<FinishedCounts> {
    const states = ['SUCCESS', 'FAILURE', 'DEAD'] as const;
    const counts = await Promise.all(states.map((st) => this.cmd<number>(['ZCOUNT', this.keys.state(st), sinceMs, '+inf'])));
    return { SUCCESS: counts[0], FAILURE: counts[1], DEAD: counts[2] };
  }

  async holdLock(name: string, holder: string, ttlMs: number): Promise<boolean> {
    return (await this.run<number>('holdLock', [name, holder, ttlMs])) === 1;
  }

  async releaseLock(name: string, holder: string): Promise<void> {
    await this.run('releaseLock', [name, holder]);
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
    const now = this.options.now();
    const [code, entry] = await this.run<[number, string[] | string | undefined]>('claimJobForBot', [botId, queue, leaseMs, tokenBase(botId)], now);
    if (code === BOT_BUSY) throw botErrors.busy(botId, String(entry));
    this.checkBotCode(code, botId, '');
    return Array.isArray(entry) ? claimView(entry, { queue, consumer: botId, now }) : null;
  }

  async startBotJob(botId: string, jobId: string): Promise<void> {
    this.checkBotCode(await this.run('startJob', [jobId, botId]), botId, jobId);
  }

  async completeBotJob(botId: string, jobId: string, result: unknown): Promise<void> {
    this.checkBotCode(await this.run('completeBotJob', [jobId, botId, JSON.stringify(result ?? null)]), botId, jobId);
  }

  async failBotJob(botId: string, jobId: string, error: string, target: FailTarget): Promise<void> {
    const runAt = target.to === 'RETRY' ? target.runAt : 0;
    this.checkBotCode(await this.run('failBotJob', [jobId, botId, error, target.to, runAt]), botId, jobId);
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
  private async tryAddWatched(d: Dedicated, n: bigint): Promise<bigint | null> {
    const c = await this.ready(d);
    const key = this.keys.abacus;
    try {
      const [, current] = await Promise.all([c.watch(key), c.get(key)]); // one round trip: WATCH, then GET
      const next = BigInt(current ?? 0) + n;
      if (!fitsInt64(next)) {
        await c.unwatch();
        throw sumOutOfRange(n);
      }
      await this.options.betweenReadAndWrite?.();
      await c.multi().set(key, next.toString()).exec();
      return next;
    } catch (err) {
      if (err instanceof WatchError) return null;
      if (err instanceof WizardError || err instanceof ErrorReply) throw err;
      throw this.unavailable(err);
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

  // ---- the dashboard's history ----

  async recordHistory(bucketMs: number, keepMs: number, add: Record<string, number>, set: Record<string, string> = {}): Promise<void> {
    const adds = Object.entries(add);
    await this.run('recordHistory', [bucketMs, keepMs, adds.length, ...adds.flat(), ...Object.entries(set).flat()]);
  }

  async readHistory(bucketMs: number, windowMs: number): Promise<HistoryBucket[]> {
    const flat = await this.run<(string | string[])[]>('readHistory', [bucketMs, windowMs]);
    const out: HistoryBucket[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) out.push({ at: Number(flat[i]), fields: pairsToRecord(flat[i + 1] as string[]) });
    return out;
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
    for (const c of [...[...this.blocking.values()].map((d) => d.client), ...this.watchPool.members.map((d) => d.client), this.client]) {
      try {
        if (c.isOpen) c.destroy();
      } catch {
        /* already gone */
      }
    }
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
