/**
 * The Redis adapter (node-redis v5). Every multi-key change is one Lua script (src/store/lua);
 * reads are plain commands. The client reconnects by itself forever; while Redis is away every
 * call fails fast with StoreUnavailableError naming the URL (no offline queue), and every call
 * has a deadline that holds after it was written (link.ts): in a partition a call fails after
 * commandTimeoutMs and its connection is replaced, so the API answers 503 and the roles back
 * off and resume on their own. An out-of-memory Redis is a store condition too
 * (StoreOutOfMemoryError): every script is refused whole before it runs, reads go on.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createClient, DisconnectsClientError, ErrorReply, WatchError } from 'redis';
import {
  AbacusAddResult, AbacusStrategy, fitsInt64, OPTIMISTIC_MAX_ATTEMPTS, optimisticJitterMs, sumOutOfRange, SumConflictError, toAddend,
} from '../core/abacus';
import { DEFAULT_PRIORITY, Job, JOB_STATES, JobState, MAX_PRIORITY, MIN_PRIORITY, NewJob, Progress } from '../core/job';
import { DEFAULT_BOT_QUEUE } from '../core/batch';
import type { Bot } from '../core/bots';
import { DatalakeConfig, LakeDay, lakeEntryUnfinished, LakeRecord, lakeRecord } from '../core/datalake';
import { ConflictError, JobCancelledError, LeaseLostError, NotFoundError, StoreOutOfMemoryError, StoreUnavailableError, ValidationError, WizardError, errorMessage } from '../core/errors';
import type { HistoryBucket } from '../core/history';
import type { Schedule } from '../core/schedule';
import { CLAIM_FIELDS, ClaimContext, claimView, decodeBot, decodeJob, decodeLakeConfig, decodeLakeDay, decodeSchedule, encodeSchedule, pairsToRecord } from './codec';
import { botErrors, cancelConflict, createdJob, fingerprint, flowRows, idempotencyConflict, jobRow, JobRow, notRetryable, rowArgs, tokenBase } from './common';
import { ClusterLink, clusterUnavailable, firstKeyOf, seedUrls, slotMoving } from './cluster';
import { MasterLinks } from './cluster-durable';
import { scheduledRows, ScheduledWork } from './scheduled-work';
import { keysAt, redisKeys, RedisKeys, shardIdPrefix, shardOfJob, tagBase } from './keys';
import { Client, Link } from './link';
import { LostClaims } from './lost-claims';
import { ConnectionPool } from './pool';
import { replicaCondition } from './replicas';
import { SentinelMaster, urlAt } from './sentinel';
import { LuaScript, ScriptName, scripts } from './scripts';
import type {
  BotsDown, Durability, ClaimOptions, ClaimResult, CompleteAndClaimResult, Completion, FailTarget, FinishedCounts, FlowSpec, JobEvent, ListQuery, ListResult, NodeInfo,
  QueueInfo, RateLimitHit, ReapResult, ServerInfo, ServerStats, Store, StoreOptions, StoreState, Submitted,
} from './types';
import { DEFAULT_COMMAND_TIMEOUT_MS, DEFAULT_STORE_OPTIONS } from './types';
import { sleep } from '../util/time';

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

/** connections of their own for durable writes: a WAIT blocks its connection until a replica answers */
const DURABLE_CONNECTIONS = 4;

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
  /**
   * with Sentinel: the Sentinels that name the master (sentinel.ts), whose address is then used
   * instead of `url`'s host and port (its scheme, user and password still apply)
   */
  sentinel?: SentinelMaster;
  /**
   * 'replica': a write a user is told succeeded is answered only once a replica has it (WAIT 1);
   * one no replica confirms within durabilityTimeoutMs is a StoreUnavailableError
   */
  durability: Durability;
  durabilityTimeoutMs: number;
  /** a test seam: runs in an optimistic add after the sum is read and before it is written */
  betweenReadAndWrite?: () => Promise<void>;
  /** `url` names a Redis Cluster (comma-separated seed nodes): node-redis's cluster client, keys spread by shard */
  cluster?: boolean;
  /**
   * the shard count to set for the whole prefix (shard 0's config, `shards`); unset: what is set,
   * or on a new prefix 2 per master on a Cluster and 1 on a plain Redis
   */
  shards?: number;
  /** the queue bots claim from: its jobs stay in shard 0 with the bots, so a bot's claim is one script */
  botQueue?: string;
}

/** a connection: to one Redis (link.ts), or to a Cluster (cluster.ts) */
type Conn = Link | ClusterLink;

/** cluster-wide keys that get tags of their own on a Cluster (on a plain Redis: shard 0's base) */
const GROUPS = ['abacus', 'rate', 'locks', 'nodes'] as const;
type Group = (typeof GROUPS)[number];

/** sets the shard count and grows the list of shard tags (never shrinks it: no shard is forgotten) */
const SET_SHARDS = `
local cur = redis.call('HGET', KEYS[1], 'shard_tags')
if not cur or #cjson.decode(cur) < #cjson.decode(ARGV[2]) then redis.call('HSET', KEYS[1], 'shard_tags', ARGV[2]) end
if ARGV[1] ~= '' then redis.call('HSET', KEYS[1], 'shards', ARGV[1]) end
return redis.call('HMGET', KEYS[1], 'shards', 'shard_tags')`;
/** the datalake settings every shard's config carries a copy of (lib.lua reads its own shard's) */
const LAKE_FIELDS = ['datalake', 'datalake_retention_days'];
/** how long a look at every shard's most urgent priority orders the claims (ms) */
const URGENCY_MS = 100;

/** the shard of an idempotency key: its hash, so every node looks for the key in one place */
function keyShard(key: string, shards: number): number {
  return shards <= 1 ? 0 : createHash('sha1').update(key).digest().readUInt32BE(0) % shards;
}

/** how often a role reads the shard layout again (another role may have changed it) */
const LAYOUT_EVERY_MS = 2000;

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
  if (url.includes(',')) return seedUrls(url).map(redactUrl).join(',');
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
  /** shard 0's keys, and what the whole prefix shares (config, format, bots) */
  readonly keys: RedisKeys;
  /** on a Redis Cluster */
  readonly cluster: boolean;
  /** every known shard's keys (index: the shard number), those above the count too: they are drained */
  private shards: RedisKeys[];
  /** how many shards new jobs go to */
  private shardCount = 1;
  private nextShard = Math.floor(Math.random() * 1024);
  private claimCursor = Math.floor(Math.random() * 1024);
  /** per queue: each shard's most urgent waiting priority, and when that was looked at (urgentOrder) */
  private readonly urgency = new Map<string, { at: number; ranks: number[] }>();
  private readonly groups: Record<Group, RedisKeys>;
  private layoutTimer: NodeJS.Timeout | null = null;
  /** the slot of the abacus (a Cluster's optimistic adds WATCH it on its master) */
  private abacusSlot = -1;
  /** a lost claim's token base → its shard */
  private readonly lostShard = new Map<string, number>();
  /** per queue and shard: a BZPOPMIN in flight, kept across waitForWork calls (see there) */
  private readonly wakers = new Map<string, { p: Promise<boolean>; settled: boolean }>();
  private readonly main: Conn;
  private readonly blocking = new Map<string, Conn>();
  private readonly watchPool: ConnectionPool<Link>;
  /** connections for durable writes (--durability replica), opened on first use, taken in turn */
  private readonly durableLinks: Link[] = [];
  private durableTurn = 0;
  /** on a Cluster: durable writes' connections to each master instead (cluster-durable.ts) */
  private readonly masterLinks: MasterLinks | null;
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
    this.options = { ...DEFAULT_STORE_OPTIONS, commandTimeoutMs: DEFAULT_COMMAND_TIMEOUT_MS, watchConnections: 1, durability: 'none', durabilityTimeoutMs: 1000, ...opts };
    const { sentinel } = this.options;
    this.location = sentinel ? sentinel.location : redactUrl(this.options.url);
    this.keys = redisKeys(this.options.prefix);
    this.shards = [this.keys];
    this.cluster = this.options.cluster === true;
    const prefix = this.options.prefix;
    this.groups = Object.fromEntries(GROUPS.map((g) => [g, this.cluster ? keysAt(tagBase(prefix, g)) : this.keys])) as Record<Group, RedisKeys>;
    this.main = this.cluster ? this.clusterLink() : this.link(true);
    const main = this.main;
    this.masterLinks =
      main instanceof ClusterLink
        ? new MasterLinks({ masterUrlOf: (slot) => main.masterUrlOf(slot), masters: () => main.masterAddresses(), makeLink: (url) => this.link(false, () => url) })
        : null;
    this.watchPool = new ConnectionPool(() => this.link(false, this.cluster ? () => this.abacusMasterUrl() : undefined), this.options.watchConnections);
    this.lost = new LostClaims((queue, base) => this.run<number>('releaseLostClaim', [queue, base], this.shardKeys(this.lostShard.get(base) ?? 0)));
    sentinel?.onSwitch((to, from) => this.followMaster(`the Sentinels moved the master from ${from.host}:${from.port} to ${to.host}:${to.port}`));
  }

  /** every connection this store has open */
  private get links(): Conn[] {
    return [this.main, ...this.blocking.values(), ...this.watchPool.members, ...this.durableLinks, ...(this.masterLinks?.all ?? [])];
  }

  /** with Sentinel: a new master, so every connection is replaced by one to it (their calls in flight fail: 503, retried) */
  private followMaster(why: string): void {
    if (this.closed) return;
    for (const l of this.links) if (l instanceof Link) l.replace(l.client, why);
  }

  /** --redis, or with Sentinel its scheme and credentials at the master's address as last told */
  private currentUrl(): string {
    const master = this.options.sentinel?.current;
    return master ? urlAt(this.options.url, master) : this.options.url;
  }

  /** a connection to the Cluster (cluster.ts); `minimize`: only to the nodes it is asked of */
  private clusterLink(minimize = false): ClusterLink {
    return new ClusterLink({
      seeds: seedUrls(this.options.url),
      ...(this.options.tls ? { tls: { tls: true as const, ...this.options.tls } } : {}),
      deadlineMs: this.options.commandTimeoutMs,
      onError: (message) => (this.lastError = message),
      minimize,
    });
  }

  /** the master that holds the abacus now (a WATCH must go to it) */
  private abacusMasterUrl(): string {
    return (this.main instanceof ClusterLink && this.abacusSlot >= 0 ? this.main.masterUrlOf(this.abacusSlot) : null) ?? seedUrls(this.options.url)[0];
  }

  /** a client; the main one (re)loads the scripts on every connect */
  private makeClient(main: boolean, url?: () => string): Client {
    const client = createClient({
      url: url ? url() : this.currentUrl(),
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
  private link(main = false, url?: () => string): Link {
    return new Link({
      make: () => this.makeClient(main, url),
      deadlineMs: this.options.commandTimeoutMs,
      pingEveryMs: Math.max(250, Math.floor(this.options.commandTimeoutMs / 2)),
      onError: (message) => {
        this.lastError = message;
        void this.options.sentinel?.refresh().catch(() => undefined); // a lost master: ask the Sentinels where it is now
      },
    });
  }

  /** resolves when connected or after waitMs, whichever is first */
  async connect(waitMs = 5000): Promise<this> {
    await withTimeout(this.main.connected, waitMs);
    await this.loadLayout().catch(() => undefined); // away: read again in LAYOUT_EVERY_MS
    if (this.cluster) void this.lost.settle();
    this.layoutTimer ??= setInterval(() => void this.loadLayout().catch(() => undefined), LAYOUT_EVERY_MS);
    this.layoutTimer.unref();
    return this;
  }

  // ---- shards (README "Architecture: keys and shards") ----

  /** the keys of shard n (a shard not known yet: shard 0's, where such a job is not found) */
  private shardKeys(n: number): RedisKeys {
    return this.shards[n] ?? this.keys;
  }

  /** the keys of the shard a job id names */
  private at(jobId: string): RedisKeys {
    return this.shardKeys(shardOfJob(jobId));
  }

  /** how many shards new jobs go to, and how many are known */
  get shardLayout(): { count: number; known: number; bases: string[] } {
    return { count: this.shardCount, known: this.shards.length, bases: this.shards.map((k) => k.base) };
  }

  /**
   * read the shard count and tags from shard 0's config; set them when this role was told a
   * count (options.shards) that is not the one set, or when the prefix has none yet
   */
  private async loadLayout(): Promise<void> {
    const [count, tags] = await this.cmd<(string | null)[]>(['HMGET', this.keys.config, 'shards', 'shard_tags']);
    let list: string[] = tags ? (JSON.parse(tags) as string[]) : [''];
    let n = count === null ? null : Number(count);
    const want = this.options.shards ?? n ?? (this.cluster ? 2 * (this.main as ClusterLink).cluster.masters.length : 1);
    // one shard and none set: today's layout, implied; nothing is written (a prefix a role has not joined yet stays empty)
    const implied = n === null && want === 1 && list.length === 1;
    if (!implied && (n !== want || list.length < want)) {
      const grown = await this.growTags(list, want);
      const [setCount, setTags] = await this.evalOnce<(string | null)[]>(SET_SHARDS, [this.keys.config], [n === want ? '' : want, JSON.stringify(grown)]);
      n = Number(setCount);
      list = JSON.parse(setTags!) as string[];
    }
    const known = list.map((tag) => (tag === '' ? this.keys : keysAt(tagBase(this.options.prefix, tag))));
    if (known.length > this.shards.length) await this.copyLakeSettings(known.slice(this.shards.length));
    this.shards = known;
    this.shardCount = Math.max(1, Math.min(n ?? 1, known.length));
    if (this.cluster && this.abacusSlot < 0) this.abacusSlot = Number(await this.cmd(['CLUSTER', 'KEYSLOT', this.groups.abacus.abacus]));
  }

  /**
   * the tag list grown to `want` shards. On a plain Redis shard N is `s<N>`; on a Cluster shard
   * N's tag is the first of `s<N>`, `s<N>.1`, `s<N>.2`, ... whose slot is on the master N places
   * after shard 0's (masters in address order), so the shards spread over every master. Every
   * role computes the same tags from the same layout, and SET_SHARDS keeps the first list written.
   */
  private async growTags(list: string[], want: number): Promise<string[]> {
    const out = [...list];
    const link = this.main;
    if (!(link instanceof ClusterLink)) {
      for (let i = out.length; i < want; i++) out.push(`s${i}`);
      return out;
    }
    const masters = link.cluster.masters.map((m) => `${m.host}:${m.port}`).sort();
    const masterOf = async (tag: string): Promise<string> => {
      const slot = Number(await this.cmd(['CLUSTER', 'KEYSLOT', tagBase(this.options.prefix, tag)]));
      const m = link.cluster.slots[slot]?.master;
      return m ? `${m.host}:${m.port}` : '';
    };
    const first = masters.indexOf(await masterOf(''));
    for (let i = out.length; i < want; i++) {
      const target = masters[(Math.max(0, first) + i) % masters.length];
      let tag = `s${i}`;
      for (let k = 1; k < 256 && (await masterOf(tag)) !== target; k++) tag = `s${i}.${k}`;
      out.push(tag);
    }
    return out;
  }

  /** new shards get the datalake settings shard 0 has (lib.lua reads its own shard's copy) */
  private async copyLakeSettings(shards: RedisKeys[]): Promise<void> {
    const values = await this.cmd<(string | null)[]>(['HMGET', this.keys.config, ...LAKE_FIELDS]);
    const fields = LAKE_FIELDS.flatMap((f, i) => (values[i] === null ? [] : [f, values[i]!]));
    if (fields.length) await Promise.all(shards.map((k) => this.cmd(['HSET', k.config, ...fields])));
  }

  /** the shard a new job of `queue` goes to: round-robin, but the bot queue stays in shard 0 (with the bots) */
  private pickShard(queue: string | undefined): number {
    if (this.shardCount <= 1 || queue === (this.options.botQueue ?? DEFAULT_BOT_QUEUE)) return 0;
    return this.nextShard++ % this.shardCount;
  }

  /** a new job's id in shard n (it names its shard: shardOfJob) */
  private static newId(shard: number): string {
    return shardIdPrefix(shard) + randomUUID();
  }

  /** the shards in the order one claim tries them: every known one, from a rotating start */
  private claimOrder(): number[] {
    const n = this.shards.length;
    const start = this.claimCursor++ % n;
    return Array.from({ length: n }, (_, i) => (start + i) % n);
  }

  /** one value per shard, each read from its own keys */
  private perShard<T>(fn: (k: RedisKeys, shard: number) => Promise<T>): Promise<T[]> {
    return Promise.all(this.shards.map(fn));
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
  private async cmd<T = Reply>(args: (string | number)[], link: Conn = this.main, deadlineMs = this.options.commandTimeoutMs): Promise<T> {
    if (!link.isReady) throw this.unavailable(this.lastError || 'not connected');
    try {
      return (await link.call((c) => c.sendCommand(args.map(String)), deadlineMs)) as T;
    } catch (err) {
      this.demoted(err, link);
      throw this.classify(err);
    }
  }

  /**
   * READONLY: the node this connection reached is a replica now (a failover). The connection is
   * replaced, so it reconnects to where the master is now (the Sentinels are asked again; a
   * managed Redis's endpoint has moved by DNS) instead of staying on the demoted node.
   */
  private demoted(err: unknown, link: Conn): void {
    if (!(link instanceof Link) || !(err instanceof ErrorReply) || !err.message.startsWith('READONLY')) return;
    void this.options.sentinel?.refresh().catch(() => undefined);
    link.replace(link.client, 'READONLY: this node is a replica now');
  }

  /**
   * a write a user is told succeeded: with --durability replica it goes on a connection of its
   * own and is followed there by WAIT 1, and answered only once a replica has it. WAIT counts
   * what its connection wrote, so the write and the WAIT share one pinned connection (one
   * replaced between them fails, as unconfirmed); on a Cluster one to its slot's master
   * (cluster-durable.ts). Without durability: a plain command.
   */
  private async durable<T = Reply>(args: (string | number)[]): Promise<T> {
    if (this.options.durability !== 'replica') return this.cmd<T>(args);
    const l = this.durableLink(args);
    await this.ready(l);
    if (!l.isReady) throw this.unavailable(this.lastError || 'not connected');
    const pinned = l.client;
    try {
      const answer = (await l.call((c) => c.sendCommand(args.map(String)), this.options.commandTimeoutMs, pinned)) as T;
      await this.confirmedByReplica(l, pinned);
      return answer;
    } catch (err) {
      this.demoted(err, l);
      if (this.main instanceof ClusterLink && clusterUnavailable(err) && !slotMoving(err)) this.main.remake(errorMessage(err)); // MOVED, ASK: the slot is elsewhere now
      throw this.classify(err);
    }
  }

  /** a connection for a durable write: on a Cluster one to the master of its key's slot */
  private durableLink(args: (string | number)[]): Link {
    if (this.masterLinks) {
      const l = this.masterLinks.linkFor(firstKeyOf(args.map(String)) ?? '');
      if (!l) throw this.unavailable('no master known for the slot');
      return l;
    }
    let l = this.durableLinks[this.durableTurn++ % DURABLE_CONNECTIONS];
    if (!l) this.durableLinks.push((l = this.link()));
    return l;
  }

  /** WAIT 1 on the connection that wrote: a StoreUnavailableError (the write may have been applied) when no replica has it in time */
  private async confirmedByReplica(l: Link, pinned: Client): Promise<void> {
    const t = this.options.durabilityTimeoutMs;
    const acks = await l.call((c) => c.sendCommand(['WAIT', '1', String(t)]), t + this.options.commandTimeoutMs, pinned);
    if (Number(acks) < 1) throw new StoreUnavailableError(`Redis at ${this.location}: the write was not confirmed by a replica within ${t} ms (safe to retry)`, true);
  }

  /** an error of a call as the store reports it: Redis's own refusals stay ErrorReply */
  private classify(err: unknown): unknown {
    if (err instanceof WizardError) return err;
    if (err instanceof ErrorReply) {
      if (clusterUnavailable(err)) return this.unavailable(err);
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
  private async run<T = Reply>(name: ScriptName, args: (string | number)[], keys: RedisKeys = this.keys, durable = false): Promise<T> {
    const s: LuaScript = this.scripts[name];
    const o = this.options;
    const tail = ['2', keys.base, keys.guard, o.now ? o.now() : '', o.resultTtlMs, o.eventRetentionMs, ...args];
    const send = (a: (string | number)[]) => (durable ? this.durable<T>(a) : this.cmd<T>(a));
    try {
      return await send(['EVALSHA', s.sha, ...tail]);
    } catch (err) {
      if (err instanceof ErrorReply && err.message.startsWith('NOSCRIPT')) return send(['EVAL', s.source, ...tail]);
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

  /** write new jobs in one shard; answers them as created at Redis's time (a worker may already have claimed them) */
  private async insert(rows: JobRow[], shard: number): Promise<Job[]> {
    const [, now] = await this.run<[number, string]>('enqueueJobs', ['', '', ...rowArgs(rows)], this.shardKeys(shard), true);
    return rows.map((r) => createdJob(r, Number(now)));
  }

  /**
   * one call's jobs go to one shard (the next in turn; the bot queue's to shard 0), in one script:
   * a batch keeps its order, and calls spread over the shards
   */
  async enqueue(jobs: NewJob[]): Promise<Job[]> {
    const shard = jobs[0]?.id !== undefined ? shardOfJob(jobs[0].id) : this.pickShard(jobs[0]?.queue);
    return this.insert(jobs.map((j) => jobRow({ ...j, id: j.id ?? RedisStore.newId(shard) })), shard);
  }

  /** a prime count's parent and its chunks in one shard: the chord stays one script */
  async enqueueFlow(flow: FlowSpec): Promise<{ parent: Job; children: Job[] }> {
    const shard = this.pickShard(flow.children[0]?.queue);
    const withId = (j: NewJob): NewJob => ({ ...j, id: j.id ?? RedisStore.newId(shard) });
    const [parent, ...children] = await this.insert(flowRows({ parent: withId(flow.parent), children: flow.children.map(withId) }), shard);
    return { parent, children };
  }

  /**
   * one job or one flow in one shard. With an idempotency key the shard is the key's (hashed:
   * every node that is given the key looks in the one place it can be, and the enqueue script
   * checks and sets it with the job, atomically); the bot queue's jobs stay in shard 0
   */
  async submit(work: NewJob | FlowSpec): Promise<Submitted> {
    const first = 'parent' in work ? work.parent : work;
    const key = first.idempotencyKey ?? '';
    const queue = 'parent' in work ? work.children[0]?.queue : work.queue;
    const shard = key && queue !== (this.options.botQueue ?? DEFAULT_BOT_QUEUE) ? keyShard(key, this.shardCount) : this.pickShard(queue);
    const withId = (j: NewJob): NewJob => ({ ...j, id: j.id ?? RedisStore.newId(shard) });
    const rows = 'parent' in work ? flowRows({ parent: withId(work.parent), children: work.children.map(withId) }) : [jobRow(withId(work))];
    const [, now, existingId, , same] = await this.run<[number, string, string?, string?, number?]>(
      'enqueueJobs', [key, key ? fingerprint(first) : '', ...rowArgs(rows)], this.shardKeys(shard), true,
    );
    if (existingId === undefined) {
      const [job, ...children] = rows.map((r) => createdJob(r, Number(now)));
      return { job, children, existing: false };
    }
    if (same !== 1) throw idempotencyConflict(key, existingId);
    const job = await this.getJob(existingId);
    if (!job) throw new NotFoundError(`job ${existingId} not found`);
    return { job, children: [], existing: true };
  }

  /** in the job's shard (a prime count and its chunks share one) */
  async cancel(jobId: string): Promise<Job> {
    const [code, detail] = await this.run<[number, string?]>('cancelJob', [jobId], this.at(jobId), true);
    if (code === CONFLICT) throw cancelConflict(jobId, String(detail));
    this.checkCode(code, jobId);
    return (await this.getJob(String(detail)))!;
  }

  async cancelledAmong(jobIds: string[]): Promise<string[]> {
    const states = await Promise.all(jobIds.map((id) => this.cmd<string | null>(['HGET', this.at(id).job(id), 'state'])));
    return jobIds.filter((_, i) => states[i] === 'CANCELLED');
  }

  /** the paused flag is the member 'paused' of the queue's ready set in every shard (lib.lua's claimFrom reads it with the priorities) */
  async pauseQueue(queue: string): Promise<void> {
    await Promise.all([...this.shards.map((k) => this.durable(['ZADD', k.ready(queue), -1, 'paused'])), this.cmd(['SADD', this.keys.queues, queue])]);
  }

  async resumeQueue(queue: string): Promise<void> {
    await this.perShard((k) => this.durable(['ZREM', k.ready(queue), 'paused']));
    await this.perShard((k) => this.cmd(['ZADD', k.marker(queue), 0, 'm']));
  }

  /** paused as shard 0 says (pause and resume set every shard) */
  async listQueues(): Promise<QueueInfo[]> {
    const names = await this.knownQueues();
    return Promise.all(
      names.map(async (name) => {
        const [depth, paused] = await Promise.all([this.queueDepth(name), this.cmd<string | null>(['ZSCORE', this.keys.ready(name), 'paused'])]);
        return { name, ...depth, paused: paused !== null };
      }),
    );
  }

  /** every wait list of a queue in a shard, most urgent first */
  private static waitLists(k: RedisKeys, queue: string): string[] {
    const lists: string[] = [];
    for (let p = MIN_PRIORITY; p <= MAX_PRIORITY; p++) lists.push(p === DEFAULT_PRIORITY ? k.wait(queue) : k.waitAt(queue, p));
    return lists;
  }

  /**
   * the shards in the order one claim tries them: the most urgent first (each shard's most urgent
   * waiting priority, as looked at in the last URGENCY_MS), from a rotating start among equals
   */
  private async urgentOrder(queue: string): Promise<number[]> {
    const order = this.claimOrder();
    if (order.length === 1) return order;
    let u = this.urgency.get(queue);
    if (!u || Date.now() - u.at > URGENCY_MS) {
      const ranks = await this.perShard(async (k) => {
        const [ready, waiting] = await Promise.all([this.cmd<string[]>(['ZRANGE', k.ready(queue), 0, 1, 'WITHSCORES']), this.cmd<number>(['LLEN', k.wait(queue)])]);
        const urgent = ready[0] === 'paused' ? ready[2] : ready[0];
        return Math.min(urgent === undefined ? MAX_PRIORITY + 1 : Number(urgent), waiting > 0 ? DEFAULT_PRIORITY : MAX_PRIORITY + 1);
      });
      this.urgency.set(queue, (u = { at: Date.now(), ranks }));
    }
    const ranks = u.ranks;
    return order.sort((a, b) => (ranks[a] ?? MAX_PRIORITY) - (ranks[b] ?? MAX_PRIORITY)); // stable: the rotation among equals
  }

  async claim(queue: string, opts: ClaimOptions): Promise<ClaimResult> {
    return this.claimIn(queue, opts, await this.urgentOrder(queue));
  }

  /**
   * the completions acknowledged, each in its job's shard, and a claim: from the first shard in
   * this call's rotation (in the same script as the completions of that shard), then from the
   * next ones while slots are left. With one shard this is one script, as it always was.
   */
  async completeAndClaim(completions: Completion[], queue: string, opts: ClaimOptions): Promise<CompleteAndClaimResult> {
    const [first, ...rest] = await this.urgentOrder(queue);
    const byShard = groupByShard(completions);
    const mine = byShard.get(first) ?? [];
    byShard.delete(first);
    const codes = new Map<Completion, unknown>();
    const [[own, claimed]] = await Promise.all([
      this.claiming(queue, opts, first, (base) =>
        this.run<[number[], ClaimReply]>('completeAndClaim', [...completionArgs(mine), ...claimArgs(queue, opts, base)], this.shardKeys(first), true),
      ),
      ...[...byShard].map(async ([shard, cs]) => {
        const got = await this.run<number[]>('completeJobs', completionArgs(cs), this.shardKeys(shard), true);
        cs.forEach((c, i) => codes.set(c, got[i]));
      }),
    ]);
    mine.forEach((c, i) => codes.set(c, own[i]));
    let claim = claimResult(claimed, queue, opts.consumer);
    if (claim.jobs.length < opts.max && rest.length > 0) claim = merged(claim, await this.claimIn(queue, { ...opts, max: opts.max - claim.jobs.length }, rest));
    return { errors: completions.map((c) => this.codeError(codes.get(c), c.jobId)), claim };
  }

  /** a claim from the shards in `order`, each while slots are left */
  private async claimIn(queue: string, opts: ClaimOptions, order: number[]): Promise<ClaimResult> {
    let out: ClaimResult | null = null;
    for (const shard of order) {
      const max = opts.max - (out?.jobs.length ?? 0);
      if (out && max <= 0) break;
      const got = claimResult(
        await this.claiming(queue, opts, shard, (base) => this.run<ClaimReply>('claimJobs', claimArgs(queue, { ...opts, max }, base), this.shardKeys(shard))),
        queue,
        opts.consumer,
      );
      out = out ? merged(out, got) : got;
    }
    return out!;
  }

  /** a claim under a token base of its own; when its answer is lost, its jobs are given back (lost-claims.ts) */
  private async claiming<T>(queue: string, opts: ClaimOptions, shard: number, call: (base: string) => Promise<T>): Promise<T> {
    const base = tokenBase(opts.consumer);
    try {
      return await call(base);
    } catch (err) {
      if (opts.max > 0 && err instanceof StoreUnavailableError && err.maybeApplied) {
        if (shard !== 0) this.lostShard.set(base, shard);
        this.lost.add(queue, base, opts.leaseMs);
      }
      throw err;
    }
  }

  /**
   * Blocking commands get connections of their own, one per purpose (waiting for work, reading
   * events) and shard, so a worker and an event reader in one process never queue behind each
   * other. On a Cluster each is a cluster client of its own that connects only to the node its
   * shard is on.
   */
  private blockingLink(purpose: 'work' | 'events', shard = 0): Promise<Conn> {
    const key = `${purpose}:${shard}`;
    let l = this.blocking.get(key);
    if (!l) this.blocking.set(key, (l = this.cluster ? this.clusterLink(true) : this.link()));
    return this.ready(l);
  }

  /** the link, once it is connected (or commandTimeoutMs has passed) */
  private async ready<L extends Conn>(l: L): Promise<L> {
    if (!l.isReady) await withTimeout(l.connected, this.options.commandTimeoutMs);
    return l;
  }

  /**
   * Blocks until a job is put on `queue` in any shard (each shard's marker, BZPOPMIN on a
   * connection per shard), or timeoutMs. A shard's BZPOPMIN still blocked when another shard
   * woke this call is kept for the next call, not sent again, and what it pops then wakes that
   * call at once: no wake-up is lost and no empty shard is polled.
   */
  async waitForWork(queue: string, timeoutMs: number): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    for (let left = timeoutMs; left > 0; left = until - Date.now()) {
      const ws = this.shards.map((k, shard) => this.waker(queue, shard, left));
      let timer: NodeJS.Timeout | undefined;
      try {
        const got = await Promise.race([...ws.map((w) => w.p), new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), left)))]);
        if (got === 'timeout') return false;
        if (got) {
          ws.forEach((w, shard) => w.settled && this.wakers.delete(`${queue}\n${shard}`)); // woken: those that popped are used up
          return true;
        }
        // one kept from an earlier call timed out: it is sent again for the time left
      } finally {
        clearTimeout(timer);
      }
    }
    return false;
  }

  private waker(queue: string, shard: number, timeoutMs: number): { p: Promise<boolean>; settled: boolean } {
    const key = `${queue}\n${shard}`;
    const had = this.wakers.get(key);
    if (had) return had;
    const secs = Math.max(0.01, timeoutMs / 1000).toFixed(3);
    const w = {
      settled: false,
      p: (async () => {
        const l = await this.blockingLink('work', shard);
        return (await this.cmd<unknown[] | null>(['BZPOPMIN', this.shardKeys(shard).marker(queue), secs], l, timeoutMs + this.options.commandTimeoutMs)) !== null;
      })(),
    };
    this.wakers.set(key, w);
    w.p.then(
      (got) => {
        w.settled = true;
        if (!got && this.wakers.get(key) === w) this.wakers.delete(key);
      },
      () => {
        w.settled = true;
        if (this.wakers.get(key) === w) this.wakers.delete(key);
      },
    );
    return w;
  }

  async renew(jobId: string, token: string, leaseMs: number): Promise<void> {
    this.checkCode(await this.run('renewLease', [jobId, token, leaseMs], this.at(jobId)), jobId);
  }

  async reportProgress(jobId: string, token: string, p: Progress): Promise<void> {
    this.checkCode(await this.run('reportProgress', [jobId, token, p.completed, p.total], this.at(jobId)), jobId);
  }

  /** completions of one event-loop turn go to Redis together, in one completeJobs call per shard */
  complete(jobId: string, token: string, result: unknown, job?: Job): Promise<void> {
    return new Promise((resolve, reject) => {
      this.completions.push({ jobId, token, result, job, resolve, reject });
      if (this.completions.length === 1) setImmediate(() => void this.flushCompletions());
    });
  }

  private async flushCompletions(): Promise<void> {
    const all = this.completions.splice(0);
    await Promise.all([...groupByShard(all)].map(async ([shard, batch]) => {
      try {
        const codes = await this.run<number[]>('completeJobs', completionArgs(batch), this.shardKeys(shard), true);
        batch.forEach((c, i) => {
          const err = this.codeError(codes[i], c.jobId);
          if (err) c.reject(err);
          else c.resolve();
        });
      } catch (err) {
        batch.forEach((c) => c.reject(err));
      }
    }));
  }

  async fail(jobId: string, token: string, error: string, target: FailTarget): Promise<void> {
    this.checkCode(await this.run('failJob', [jobId, token, error, target.to, retryDelayOf(target)], this.at(jobId), true), jobId);
  }

  async release(jobId: string, token: string): Promise<void> {
    this.checkCode(await this.run('releaseJob', [jobId, token], this.at(jobId)), jobId);
  }

  /** every known shard's lapsed leases on `queue` */
  async reap(queue: string, limit = 500): Promise<ReapResult> {
    const got = await this.perShard((k) => this.run<[string[], string[]]>('reapExpiredLeases', [queue, limit], k));
    return { requeued: got.flatMap(([r]) => r), dead: got.flatMap(([, d]) => d) };
  }

  private async getJobs(ids: string[]): Promise<Job[]> {
    const replies = await Promise.all(ids.map((id) => this.cmd<string[]>(['HGETALL', this.at(id).job(id)])));
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
      flat = await this.run<string[]>('checkJob', [jobId, checkedBy], this.at(jobId));
    } catch (err) {
      if (!(err instanceof StoreOutOfMemoryError)) throw err;
      return this.getJob(jobId);
    }
    return flat.length ? decodeJob(pairsToRecord(flat), jobId) : null;
  }

  async listJobs(q: ListQuery): Promise<ListResult> {
    const offset = q.offset ?? 0;
    const limit = q.limit ?? 50;
    if (q.state && QUEUE_HELD.has(q.state)) return this.listQueueHeld(q.state, offset, limit);
    const state = q.state;
    return this.listIndex((k) => (state ? k.state(state) : k.jobs), offset, limit);
  }

  async listDead(offset = 0, limit = 50): Promise<ListResult> {
    return this.listIndex((k) => k.dlq, offset, limit);
  }

  /**
   * a page of an index (a zset per shard), newest first: each shard's first offset + limit
   * merged by score (ties by id, as ZRANGE REV orders them); with one shard, the page itself
   */
  private async listIndex(keyOf: (k: RedisKeys) => string, offset: number, limit: number): Promise<ListResult> {
    const from = this.shards.length === 1 ? offset : 0;
    const per = await this.perShard((k) =>
      Promise.all([
        this.cmd<number>(['ZCARD', keyOf(k)]),
        limit > 0 ? this.cmd<string[]>(['ZRANGE', keyOf(k), from, offset + limit - 1, 'REV', 'WITHSCORES']) : Promise.resolve([]),
      ]),
    );
    const found = per.flatMap(([, flat]) => scored(flat));
    const page = newestFirst(found).slice(offset - from, offset - from + limit);
    return { total: per.reduce((t, [n]) => t + n, 0), jobs: await this.getJobs(page.map((f) => f.id)) };
  }

  async retryDead(jobId: string): Promise<Job> {
    this.checkCode(await this.run('retryDeadJob', [jobId], this.at(jobId), true), jobId);
    return (await this.getJob(jobId))!;
  }

  async retryFailed(jobId: string): Promise<Job> {
    const code = await this.run('retryFailedJob', [jobId], this.at(jobId), true);
    if (code === CONFLICT) throw notRetryable(jobId);
    this.checkCode(code, jobId);
    return (await this.getJob(jobId))!;
  }

  async purgeDead(): Promise<number> {
    let total = 0;
    for (const k of this.shards) for (let n = -1; n !== 0; total += n) n = await this.run<number>('purgeDeadJobs', [1000], k);
    return total;
  }

  async listChildren(parentId: string): Promise<Job[]> {
    return this.getJobs(await this.cmd<string[]>(['LRANGE', this.at(parentId).children(parentId), 0, -1]));
  }

  async countByState(): Promise<Record<JobState, number>> {
    const per = await this.perShard((k) =>
      Promise.all([Promise.all(JOB_STATES.map((s) => this.cmd<number>(['ZCARD', k.state(s)]))), this.queueHeldCounts(k)]),
    );
    return Object.fromEntries(
      JOB_STATES.map((s, i) => [s, per.reduce((t, [indexed, counted]) => t + indexed[i] + (counted[s] ?? 0), 0)]),
    ) as Record<JobState, number>;
  }

  /** how many queued top-level jobs of a shard are PENDING and STARTED (lib.lua counts them: the index leaves them to the queues) */
  private async queueHeldCounts(k: RedisKeys): Promise<Partial<Record<JobState, number>>> {
    const states = [...QUEUE_HELD];
    const values = await this.cmd<(string | null)[]>(['HMGET', k.counts, ...states]);
    return Object.fromEntries(states.map((s, i) => [s, Number(values[i] ?? 0)]));
  }

  /**
   * PENDING or STARTED jobs, newest change first (then by id, as ZRANGE REV orders a tie): those the index holds (jobs on no queue: a
   * prime count's parent) and the top-level ones the queues hold, PENDING from each wait list
   * (most recently queued first, looked at up to QUEUE_SCAN entries deep: chunks and retries
   * share the list), STARTED from each lease set (as many as are held); every shard's, merged.
   */
  private async listQueueHeld(state: JobState, offset: number, limit: number): Promise<ListResult> {
    const want = offset + limit;
    const per = await this.perShard((k) => this.queueHeldIn(k, state, want));
    const page = newestFirst(per.flatMap((p) => p.found)).slice(offset, want).map((f) => f.id);
    return { total: per.reduce((t, p) => t + p.total, 0), jobs: await this.getJobs(page) };
  }

  /** one shard's part of listQueueHeld: its count and its first `want` jobs in `state` */
  private async queueHeldIn(k: RedisKeys, state: JobState, want: number): Promise<{ total: number; found: Found[] }> {
    const [indexedTotal, indexed, counted, queues] = await Promise.all([
      this.cmd<number>(['ZCARD', k.state(state)]),
      want > 0 ? this.cmd<string[]>(['ZRANGE', k.state(state), 0, want - 1, 'REV', 'WITHSCORES']) : Promise.resolve([]),
      this.queueHeldCounts(k),
      this.cmd<string[]>(['SMEMBERS', k.queues]),
    ]);
    const found: Found[] = scored(indexed);
    /** the top-level jobs among ids that are in `state`, with the time of their last change */
    const inState = async (ids: string[]): Promise<Found[]> => {
      const fields = await Promise.all(ids.map((id) => this.cmd<(string | null)[]>(['HMGET', k.job(id), 'state', 'parent_id', 'updated_at', 'created_at'])));
      return ids.flatMap((id, i) => {
        const [s, parent, updated, created] = fields[i];
        return s === state && !parent ? [{ id, at: Number(updated ?? created) }] : [];
      });
    };
    // pages about twice the page asked for: most of a wait list's head is what was asked for, unless chunks crowd it
    const pageSize = Math.min(QUEUE_SCAN_PAGE, Math.max(50, want * 2));
    const fromQueue = async (queue: string): Promise<Found[]> => {
      if (state === 'STARTED') return inState(await this.cmd<string[]>(['ZRANGE', k.active(queue), 0, -1]));
      const matches: Found[] = [];
      for (const list of RedisStore.waitLists(k, queue)) {
        for (let from = 0; matches.length < want && from < QUEUE_SCAN; from += pageSize) {
          const ids = await this.cmd<string[]>(['LRANGE', list, from, from + pageSize - 1]);
          if (ids.length === 0) break;
          matches.push(...(await inState(ids))); // whole pages: a batch queued at one time sorts by id, as the index does
        }
      }
      // delayed PENDING jobs wait in the delayed set
      if (state === 'PENDING') matches.push(...(await inState(await this.cmd<string[]>(['ZRANGE', k.delayed(queue), 0, QUEUE_SCAN_PAGE - 1]))));
      return matches;
    };
    if (want > 0) for (const matches of await Promise.all(queues.map(fromQueue))) found.push(...matches);
    return { total: indexedTotal + (counted[state] ?? 0), found };
  }

  async queueDepth(queue: string): Promise<{ waiting: number; active: number; delayed: number }> {
    const per = await this.perShard((k) =>
      Promise.all([
        Promise.all(RedisStore.waitLists(k, queue).map((list) => this.cmd<number>(['LLEN', list]))).then((ls) => ls.reduce((a, b) => a + b, 0)),
        this.cmd<number>(['ZCARD', k.active(queue)]),
        this.cmd<number>(['ZCARD', k.delayed(queue)]),
      ]),
    );
    const sum = (i: number) => per.reduce((t, p) => t + p[i], 0);
    return { waiting: sum(0), active: sum(1), delayed: sum(2) };
  }

  /** the position in the event log: a stream id, or with several shards one per shard, joined by commas */
  async lastEventId(): Promise<string> {
    const ids = await this.perShard(async (k) => {
      const last = await this.cmd<[string, string[]][]>(['XREVRANGE', k.events, '+', '-', 'COUNT', 1]);
      return last.length ? last[0][0] : '0';
    });
    return ids.join(',');
  }

  /**
   * events after a position. One shard: XREAD (blocking up to blockMs). Several: every shard's
   * stream read after its own part of the position, merged by time; each event's id is the
   * position after it. They block by reading again every EVENTS_POLL_MS while nothing came
   * (only while someone watches a job: the API's event hub).
   */
  async readEvents(afterId: string, blockMs: number, count = 500): Promise<JobEvent[]> {
    if (this.shards.length === 1) return this.readShardEvents(this.keys, afterId.split(',')[0], blockMs, count);
    const cursor = afterId.split(',');
    const until = Date.now() + blockMs;
    for (;;) {
      const per = await this.perShard((k, i) => this.readShardEvents(k, cursor[i] ?? '0', 0, count));
      const all = per.flatMap((events, shard) => events.map((e) => ({ e, shard }))).sort((a, b) => a.e.at - b.e.at);
      if (all.length > 0 || Date.now() >= until) {
        return all.map(({ e, shard }) => {
          cursor[shard] = e.id;
          return { ...e, id: this.shards.map((_, i) => cursor[i] ?? '0').join(',') };
        });
      }
      await sleep(Math.min(EVENTS_POLL_MS, Math.max(1, until - Date.now())));
    }
  }

  private async readShardEvents(k: RedisKeys, afterId: string, blockMs: number, count: number): Promise<JobEvent[]> {
    const args: (string | number)[] = ['XREAD', 'COUNT', count];
    if (blockMs > 0) args.push('BLOCK', blockMs);
    args.push('STREAMS', k.events, afterId);
    const link = blockMs > 0 ? await this.blockingLink('events') : this.main;
    const reply = await this.cmd<[string, [string, string[]][]][] | null>(args, link, blockMs + this.options.commandTimeoutMs);
    if (!reply) return [];
    return reply[0][1].flatMap(([id, flat]) => decodeEvents(id, flat));
  }

  /** heartbeatNode.lua: live for ttlMs from Redis's time, so a node's own clock does not matter */
  async heartbeat(role: string, nodeId: string, ttlMs: number, info: Record<string, unknown> = {}): Promise<void> {
    await this.run('heartbeatNode', [role, nodeId, ttlMs, JSON.stringify(info)], this.groups.nodes);
  }

  async removeNode(role: string, nodeId: string): Promise<void> {
    const k = this.groups.nodes;
    await Promise.all([this.cmd(['DEL', k.node(role, nodeId)]), this.cmd(['ZREM', k.nodes(role), nodeId])]);
  }

  /** liveNodes.lua: the nodes whose heartbeat has not lapsed by Redis's time */
  async liveNodes(role: string): Promise<NodeInfo[]> {
    const flat = await this.run<string[]>('liveNodes', [role], this.groups.nodes);
    const nodes: NodeInfo[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const { seenAt, ...info } = JSON.parse(flat[i + 1]) as { seenAt: number } & Record<string, unknown>;
      nodes.push({ nodeId: flat[i], role, seenAt, info });
    }
    return nodes;
  }

  async tryLock(name: string, holder: string, ttlMs: number): Promise<boolean> {
    return (await this.cmd<string | null>(['SET', this.groups.locks.lock(name), holder, 'NX', 'PX', ttlMs])) === 'OK';
  }

  // ---- seed 004: batches, leadership, bots, the datalake ----

  async enqueueOnce(onceKey: string, ttlMs: number, jobs: NewJob[]): Promise<Job[] | null> {
    return this.insertOnce(jobs, (rows) => this.run<[number, string?]>('enqueueBatch', [onceKey, ttlMs, ...rowArgs(rows)], this.keys, true));
  }

  async enqueueScheduled(schedule: string, slot: string, onceKey: string, ttlMs: number, jobs: ScheduledWork): Promise<Job[] | null> {
    const made = await this.insertOnce(jobs, (rows) => this.run<[number, string?]>('enqueueScheduled', [onceKey, ttlMs, schedule, slot, ...rowArgs(rows)], this.keys, true));
    return made && made.map((j) => ({ ...j, schedule, slot }));
  }

  /** a once-keyed enqueue's answer: null when its key was used */
  private async insertOnce(jobs: ScheduledWork, call: (rows: JobRow[]) => Promise<[number, string?]>): Promise<Job[] | null> {
    const rows = scheduledRows(jobs);
    const [created, now] = await call(rows);
    return created === 0 && rows.length > 0 ? null : rows.map((r) => createdJob(r, Number(now)));
  }

  async saveSchedule(schedule: Schedule, replace = false): Promise<boolean> {
    const value = encodeSchedule(schedule);
    if (replace) await this.cmd(['HSET', this.keys.schedules, schedule.name, value]);
    else if ((await this.cmd<number>(['HSETNX', this.keys.schedules, schedule.name, value])) === 0) return false;
    return true;
  }

  async listSchedules(): Promise<Schedule[]> {
    const flat = await this.cmd<string[]>(['HGETALL', this.keys.schedules]);
    return Object.values(pairsToRecord(flat)).map(decodeSchedule).sort((a, b) => a.name.localeCompare(b.name));
  }

  async removeSchedule(name: string): Promise<boolean> {
    return (await this.cmd<number>(['HDEL', this.keys.schedules, name])) === 1;
  }

  async knownQueues(): Promise<string[]> {
    const per = await this.perShard((k) => this.cmd<string[]>(['SMEMBERS', k.queues]));
    return [...new Set(per.flat())].sort();
  }

  async finishedSince(sinceMs: number): Promise<FinishedCounts> {
    const states = ['SUCCESS', 'FAILURE', 'DEAD', 'CANCELLED'] as const;
    const per = await this.perShard((k) => Promise.all(states.map((st) => this.cmd<number>(['ZCOUNT', k.state(st), sinceMs, '+inf']))));
    const sum = (i: number) => per.reduce((t, c) => t + c[i], 0);
    return { SUCCESS: sum(0), FAILURE: sum(1), DEAD: sum(2), CANCELLED: sum(3) };
  }

  async holdLock(name: string, holder: string, ttlMs: number): Promise<boolean> {
    return (await this.run<number>('holdLock', [name, holder, ttlMs], this.groups.locks)) === 1;
  }

  async releaseLock(name: string, holder: string): Promise<void> {
    await this.run('releaseLock', [name, holder], this.groups.locks);
  }

  async lockHolder(name: string): Promise<string | null> {
    return this.cmd<string | null>(['GET', this.groups.locks.lock(name)]);
  }

  async registerBot(botId: string, name: string, tokenHash: string): Promise<Bot> {
    return decodeBot(pairsToRecord(await this.run<string[]>('registerBot', [botId, name, tokenHash], this.keys, true)));
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
    this.checkBotCode(await this.run('completeBotJob', [jobId, botId, JSON.stringify(result ?? null)], this.keys, true), botId, jobId);
  }

  async failBotJob(botId: string, jobId: string, error: string, target: FailTarget): Promise<void> {
    this.checkBotCode(await this.run('failBotJob', [jobId, botId, error, target.to, retryDelayOf(target)], this.keys, true), botId, jobId);
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
    if (fields.length) await this.perShard((k) => this.cmd(['HSET', k.config, ...fields])); // each shard's scripts read their own copy
  }

  async datalakeDays(): Promise<LakeDay[]> {
    // every shard's days, their counts and counters summed
    const per = await this.perShard(async (k) => {
      const days = await this.cmd<string[]>(['ZRANGE', k.lakeDays, 0, -1, 'WITHSCORES']);
      return Promise.all(scored(days).map(async ({ id: d, at }) => {
        const [stats, count] = await Promise.all([this.cmd<string[]>(['HGETALL', k.lakeStats(d)]), this.cmd<number>(['LLEN', k.lake(d)])]);
        return { d, at, count, stats: pairsToRecord(stats) };
      }));
    });
    const days = new Map<string, { at: number; count: number; stats: Record<string, string> }>();
    for (const { d, at, count, stats } of per.flat()) {
      const had = days.get(d);
      if (!had) days.set(d, { at, count, stats });
      else {
        had.count += count;
        for (const [f, v] of Object.entries(stats)) had.stats[f] = String(Number(had.stats[f] ?? 0) + Number(v));
      }
    }
    return [...days].sort((a, b) => a[1].at - b[1].at || (a[0] < b[0] ? -1 : 1)).map(([d, v]) => decodeLakeDay(d, v.count, v.stats));
  }

  async readDatalake(day: string, offset: number, count: number): Promise<LakeRecord[]> {
    // the shards' lists of the day one after the other (shard 0's first), so paging by offset is exact
    const out: string[] = [];
    let skip = offset;
    for (const k of this.shards) {
      if (out.length >= count) break;
      const len = this.shards.length === 1 ? Infinity : await this.cmd<number>(['LLEN', k.lake(day)]);
      if (skip >= len) {
        skip -= len;
        continue;
      }
      out.push(...(await this.cmd<string[]>(['LRANGE', k.lake(day), skip, skip + count - out.length - 1])));
      skip = 0;
    }
    return out.map(lakeRecord);
  }

  async pruneDatalake(): Promise<string[]> {
    const per = await this.perShard((k) => this.run<string[]>('pruneDatalake', [], k));
    return [...new Set(per.flat())].sort();
  }

  // ---- abacus ----

  async abacusAdd(n: bigint | number, strategy: AbacusStrategy = 'atomic'): Promise<AbacusAddResult> {
    const addend = toAddend(n);
    if (strategy === 'optimistic') return this.addOptimistic(addend);
    const [code, sum] = await this.run<[number, string]>('addToSum', [addend.toString()], this.groups.abacus, true);
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
    const key = this.groups.abacus.abacus;
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
      if (this.options.durability === 'replica') await this.confirmedByReplica(l, pinned);
      return next;
    } catch (err) {
      if (err instanceof WatchError) return null;
      if (clusterUnavailable(err)) l.replace(pinned, errorMessage(err)); // the abacus's slot moved: WATCH on its new master
      throw this.classify(err);
    }
  }

  async abacusSum(): Promise<bigint> {
    return BigInt((await this.cmd<string | null>(['GET', this.groups.abacus.abacus])) ?? 0);
  }

  async abacusReset(): Promise<void> {
    await this.cmd(['DEL', this.groups.abacus.abacus]);
  }

  // ---- rate limits ----

  async hitRateLimit(buckets: string[], max: number, windowMs: number): Promise<RateLimitHit> {
    const member = `${this.instanceId}:${++this.hits}`;
    const [allowed, retryAfterMs, remaining] = await this.run<[number, number, number]>('hitRateLimit', [windowMs, max, member, ...buckets], this.groups.rate);
    return { allowed: allowed === 1, retryAfterMs, remaining };
  }

  async time(): Promise<number> {
    if (this.options.now) return this.options.now();
    const [secs, micros] = await this.cmd<[string, string]>(['TIME']);
    return Number(secs) * 1000 + Math.floor(Number(micros) / 1000);
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

  /**
   * what keeps Redis from serving now: unreachable (not connected, or no answer in time), or out
   * of memory (used memory past maxmemory: Redis refuses writes, as INFO memory shows it), or,
   * with --durability replica, no replica connected (replicaCondition)
   */
  async condition(): Promise<StoreState> {
    let info: Record<string, string>;
    let replicas: StoreState | null = null;
    try {
      info = pairsFromInfo(await this.cmd<string>(['INFO', 'memory']));
      if (this.options.durability === 'replica') replicas = replicaCondition(pairsFromInfo(await this.cmd<string>(['INFO', 'replication'])), this.location);
      if (this.main instanceof ClusterLink) {
        // a Cluster: every master must answer, and the one nearest its maxmemory speaks for all
        info = (await this.main.masterInfos('memory')).map(pairsFromInfo).sort((a, b) => fill(b) - fill(a))[0] ?? info;
      }
    } catch (err) {
      return { condition: 'unavailable', message: errorMessage(err) };
    }
    const max = Number(info.maxmemory ?? 0);
    const used = usedMemory(info);
    if (max > 0 && used > max && info.maxmemory_policy === 'noeviction') {
      return { condition: 'out of memory', message: `Redis at ${this.location} refuses writes: out of memory (${used} bytes used, maxmemory ${max})` };
    }
    return replicas ?? { condition: null, message: null };
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
    this.options.sentinel?.close();
    if (this.layoutTimer) clearInterval(this.layoutTimer);
    for (const l of this.links) l.close();
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

/** how often readEvents reads every shard's stream again while nothing came */
const EVENTS_POLL_MS = 100;

/** an id and its time (an index's score) */
type Found = { id: string; at: number };

/** ZRANGE ... WITHSCORES's flat answer as ids and scores */
function scored(flat: string[]): Found[] {
  const out: Found[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push({ id: flat[i], at: Number(flat[i + 1]) });
  return out;
}

/** newest first, then by id descending: the order ZRANGE REV gives one index */
function newestFirst(found: Found[]): Found[] {
  return found.sort((a, b) => b.at - a.at || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
}

/** completions by the shard of their job */
function groupByShard<C extends { jobId: string }>(items: C[]): Map<number, C[]> {
  const out = new Map<number, C[]>();
  for (const c of items) {
    const s = shardOfJob(c.jobId);
    const g = out.get(s);
    if (g) g.push(c);
    else out.set(s, [c]);
  }
  return out;
}

/** two claims' jobs as one; the next retry due is the earlier */
function merged(a: ClaimResult, b: ClaimResult): ClaimResult {
  const next = a.nextRunAt === null ? b.nextRunAt : b.nextRunAt === null ? a.nextRunAt : Math.min(a.nextRunAt, b.nextRunAt);
  return { nextRunAt: next, now: Math.max(a.now, b.now), jobs: [...a.jobs, ...b.jobs] };
}

/** failJob.lua's delayMs: a retry's, else unused */
const retryDelayOf = (target: FailTarget): number => (target.to === 'RETRY' ? target.delayMs : 0);

function withTimeout(p: Promise<void>, ms: number): Promise<void> {
  return Promise.race([p, new Promise<void>((r) => setTimeout(r, ms).unref())]);
}

/** how full a Redis is: used memory over maxmemory (0 without a maxmemory) */
function fill(info: Record<string, string>): number {
  const max = Number(info.maxmemory ?? 0);
  return max > 0 ? usedMemory(info) / max : 0;
}

/** the memory maxmemory is checked against (INFO memory) */
function usedMemory(info: Record<string, string>): number {
  return Number(info.used_memory ?? 0) - Number(info.mem_not_counted_for_evict ?? 0);
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
