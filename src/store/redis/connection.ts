/**
 * The Redis adapter's connections and calls: the main connection (one Redis, or a Cluster), the
 * blocking ones, the durable writes' (--durability replica), every command's deadline, the
 * errors a call can end in, and the scripts run by SHA. Each layer of the adapter extends the
 * one before: connection, shards, jobs, records, and RedisStore (../redis.ts).
 */
import { randomBytes } from 'node:crypto';
import { createClient, DisconnectsClientError, ErrorReply } from 'redis';
import {
  ConflictError,
  JobCancelledError,
  LeaseLostError,
  NotFoundError,
  StoreOutOfMemoryError,
  StoreUnavailableError,
  WizardError,
  errorMessage,
} from '../../core/errors';
import { badChunkResult, botErrors } from '../common';
import { ClusterLink, clusterUnavailable, firstKeyOf, seedUrls, slotMoving } from '../cluster';
import { MasterLinks } from '../cluster-durable';
import { keysAt, redisKeys, RedisKeys, shardOfJob, tagBase } from '../keys';
import { Client, Link } from '../link';
import { LostClaims } from '../lost-claims';
import { ConnectionPool } from '../pool';
import { urlAt } from '../sentinel';
import { LuaScript, ScriptName, scripts } from '../scripts';
import { DEFAULT_COMMAND_TIMEOUT_MS, DEFAULT_STORE_OPTIONS } from '../types';
import {
  DURABLE_CONNECTIONS,
  GROUPS,
  redactUrl,
  withTimeout,
  OK,
  MISSING,
  TOKEN_MISMATCH,
  BAD_RESULT,
  CONFLICT,
  NOT_HOLDER,
  BOT_MISSING,
  CANCELLED,
  type Reply,
  type RedisStoreOptions,
  type Conn,
  type Group,
  type Waker,
} from './shared';

export class RedisConnection {
  readonly location: string;
  readonly options: RedisStoreOptions;
  /** shard 0's keys, and what the whole prefix shares (config, format, bots) */
  readonly keys: RedisKeys;
  /** on a Redis Cluster */
  readonly cluster: boolean;
  /**
   * CPU jobs go to their queue's CPU lists (format 3): off on a prefix at format 2, where workers
   * of the previous release may run, which read only the ordinary lists (src/store/format.ts)
   */
  cpuLists = true;
  /** every known shard's keys (index: the shard number), those above the count too: they are drained */
  protected shards: RedisKeys[];
  /** how many shards new jobs go to */
  protected shardCount = 1;
  protected nextShard = Math.floor(Math.random() * 1024);
  protected claimCursor = Math.floor(Math.random() * 1024);
  /** per queue: each shard's most urgent waiting priority, and when that was looked at (urgentOrder) */
  protected readonly urgency = new Map<string, { at: number; ranks: number[] }>();
  protected readonly groups: Record<Group, RedisKeys>;
  protected layoutTimer: NodeJS.Timeout | null = null;
  /** the slot of the abacus (a Cluster's optimistic adds WATCH it on its master) */
  protected abacusSlot = -1;
  /** a lost claim's token base → its shard */
  protected readonly lostShard = new Map<string, number>();
  /** per queue, shard and lane: a BZPOPMIN in flight, kept across waitForWork calls (see there) */
  protected readonly wakers = new Map<string, Waker>();
  protected readonly main: Conn;
  protected readonly blocking = new Map<string, Conn>();
  protected readonly watchPool: ConnectionPool<Link>;
  /** connections for durable writes (--durability replica), opened on first use, taken in turn */
  protected readonly durableLinks: Link[] = [];
  protected durableTurn = 0;
  /** on a Cluster: durable writes' connections to each master instead (cluster-durable.ts) */
  protected readonly masterLinks: MasterLinks | null;
  protected readonly scripts = scripts();
  protected lastError = '';
  /** claims whose answer was lost (lost-claims.ts): given back once Redis answers again */
  protected readonly lost: LostClaims;
  protected closed = false;
  /** names this adapter's rate-limit hits apart from other nodes' */
  protected readonly instanceId = randomBytes(6).toString('hex');
  protected hits = 0;

  constructor(opts: Partial<RedisStoreOptions> & { url: string }) {
    this.options = {
      ...DEFAULT_STORE_OPTIONS,
      commandTimeoutMs: DEFAULT_COMMAND_TIMEOUT_MS,
      watchConnections: 1,
      durability: 'none',
      durabilityTimeoutMs: 1000,
      ...opts,
    };
    const { sentinel } = this.options;
    this.location = sentinel ? sentinel.location : redactUrl(this.options.url);
    this.keys = redisKeys(this.options.prefix);
    this.shards = [this.keys];
    this.cluster = this.options.cluster === true;
    const prefix = this.options.prefix;
    this.groups = Object.fromEntries(
      GROUPS.map((g) => [g, this.cluster ? keysAt(tagBase(prefix, g)) : this.keys]),
    ) as Record<Group, RedisKeys>;
    this.main = this.cluster ? this.clusterLink() : this.link(true);
    const main = this.main;
    this.masterLinks =
      main instanceof ClusterLink
        ? new MasterLinks({
            masterUrlOf: (slot) => main.masterUrlOf(slot),
            masters: () => main.masterAddresses(),
            makeLink: (url) => this.link(false, () => url),
          })
        : null;
    this.watchPool = new ConnectionPool(
      () => this.link(false, this.cluster ? () => this.abacusMasterUrl() : undefined),
      this.options.watchConnections,
    );
    this.lost = new LostClaims((queue, base) =>
      this.run<number>('releaseLostClaim', [queue, base], this.shardKeys(this.lostShard.get(base) ?? 0)),
    );
    sentinel?.onSwitch((to, from) =>
      this.followMaster(`the Sentinels moved the master from ${from.host}:${from.port} to ${to.host}:${to.port}`),
    );
  }

  /** every connection this store has open */
  protected get links(): Conn[] {
    return [
      this.main,
      ...this.blocking.values(),
      ...this.watchPool.members,
      ...this.durableLinks,
      ...(this.masterLinks?.all ?? []),
    ];
  }

  /** with Sentinel: a new master, so every connection is replaced by one to it (their calls in flight fail: 503, retried) */
  protected followMaster(why: string): void {
    if (this.closed) return;
    for (const l of this.links) if (l instanceof Link) l.replace(l.client, why);
  }

  /** --redis, or with Sentinel its scheme and credentials at the master's address as last told */
  protected currentUrl(): string {
    const master = this.options.sentinel?.current;
    return master ? urlAt(this.options.url, master) : this.options.url;
  }

  /** a connection to the Cluster (cluster.ts); `minimize`: only to the nodes it is asked of */
  protected clusterLink(minimize = false): ClusterLink {
    return new ClusterLink({
      seeds: seedUrls(this.options.url),
      ...(this.options.tls ? { tls: { tls: true as const, ...this.options.tls } } : {}),
      deadlineMs: this.options.commandTimeoutMs,
      onError: (message) => (this.lastError = message),
      minimize,
    });
  }

  /** the master that holds the abacus now (a WATCH must go to it) */
  protected abacusMasterUrl(): string {
    return (
      (this.main instanceof ClusterLink && this.abacusSlot >= 0 ? this.main.masterUrlOf(this.abacusSlot) : null) ??
      seedUrls(this.options.url)[0]
    );
  }

  /** a client; the main one (re)loads the scripts on every connect */
  protected makeClient(main: boolean, url?: () => string): Client {
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
        for (const s of Object.values(this.scripts))
          client.sendCommand(['SCRIPT', 'LOAD', s.source]).catch(() => undefined);
        void this.lost.settle();
      });
    }
    return client;
  }

  /** a connection with deadlines (link.ts), connecting in the background */
  protected link(main = false, url?: () => string): Link {
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

  // ---- shards (README "Architecture: keys and shards") ----

  /** the keys of shard n (a shard not known yet: shard 0's, where such a job is not found) */
  protected shardKeys(n: number): RedisKeys {
    return this.shards[n] ?? this.keys;
  }

  /** the keys of the shard a job id names */
  protected at(jobId: string): RedisKeys {
    return this.shardKeys(shardOfJob(jobId));
  }

  /** one value per shard, each read from its own keys */
  protected perShard<T>(fn: (k: RedisKeys, shard: number) => Promise<T>): Promise<T[]> {
    return Promise.all(this.shards.map(fn));
  }

  get isReady(): boolean {
    return this.main.isReady;
  }

  /** (maybeApplied: the call was sent, so it may have run) */
  protected unavailable(err: unknown, maybeApplied = false): StoreUnavailableError {
    const why = (err instanceof DisconnectsClientError ? '' : errorMessage(err)) || this.lastError || 'not connected';
    return new StoreUnavailableError(`Redis at ${this.location} is unavailable: ${why}`, maybeApplied);
  }

  /**
   * one command, with a deadline that holds after it is written; connection failures, a
   * deadline passed and the replies of a Redis that cannot serve become StoreUnavailableError
   * (StoreOutOfMemoryError for OOM)
   */
  protected async cmd<T = Reply>(
    args: (string | number)[],
    link: Conn = this.main,
    deadlineMs = this.options.commandTimeoutMs,
  ): Promise<T> {
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
  protected demoted(err: unknown, link: Conn): void {
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
  protected async durable<T = Reply>(args: (string | number)[]): Promise<T> {
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
      if (this.main instanceof ClusterLink && clusterUnavailable(err) && !slotMoving(err))
        this.main.remake(errorMessage(err)); // MOVED, ASK: the slot is elsewhere now
      throw this.classify(err);
    }
  }

  /** a connection for a durable write: on a Cluster one to the master of its key's slot */
  protected durableLink(args: (string | number)[]): Link {
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
  protected async confirmedByReplica(l: Link, pinned: Client): Promise<void> {
    const t = this.options.durabilityTimeoutMs;
    const acks = await l.call(
      (c) => c.sendCommand(['WAIT', '1', String(t)]),
      t + this.options.commandTimeoutMs,
      pinned,
    );
    if (Number(acks) < 1)
      throw new StoreUnavailableError(
        `Redis at ${this.location}: the write was not confirmed by a replica within ${t} ms (safe to retry)`,
        true,
      );
  }

  /** an error of a call as the store reports it: Redis's own refusals stay ErrorReply */
  protected classify(err: unknown): unknown {
    if (err instanceof WizardError) return err;
    if (err instanceof ErrorReply) {
      if (clusterUnavailable(err)) return this.unavailable(err);
      if (err.message.startsWith('OOM'))
        return new StoreOutOfMemoryError(
          `Redis at ${this.location} refuses writes: out of memory (${err.message.split('. script:')[0]})`,
        );
      if (!/^(LOADING|MASTERDOWN|READONLY|BUSY)/.test(err.message)) return err;
      return this.unavailable(err);
    }
    return this.unavailable(err, true);
  }

  /**
   * run a script by SHA; send its source when Redis does not have it. Its time is Redis's (lib.lua
   * reads TIME when ARGV[1] is ''), or a test's clock (options.now).
   */
  protected async run<T = Reply>(
    name: ScriptName,
    args: (string | number)[],
    keys: RedisKeys = this.keys,
    durable = false,
  ): Promise<T> {
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
  protected codeError(code: unknown, jobId: string): Error | null {
    if (code === OK) return null;
    if (code === MISSING) return new NotFoundError(`job ${jobId} not found`);
    if (code === TOKEN_MISMATCH) return new LeaseLostError(jobId);
    if (code === CANCELLED) return new JobCancelledError(jobId);
    if (code === CONFLICT)
      return new ConflictError(`job ${jobId} is not in the dead-letter queue, or its parent job has finished`);
    if (code === BAD_RESULT) return badChunkResult(jobId);
    return new Error(`unexpected script reply ${String(code)} for job ${jobId}`);
  }

  protected checkCode(code: unknown, jobId: string): void {
    const err = this.codeError(code, jobId);
    if (err) throw err;
  }

  /** the codes of a bot's transitions (lib.lua's botToken), then the common ones */
  protected checkBotCode(code: unknown, botId: string, jobId: string): void {
    if (code === NOT_HOLDER) throw botErrors.notHolder(botId, jobId);
    if (code === BOT_MISSING) throw botErrors.unknown(botId);
    this.checkCode(code, jobId);
  }

  /**
   * Blocking commands get connections of their own, one per purpose (waiting for work, reading
   * events) and shard, so a worker and an event reader in one process never queue behind each
   * other. On a Cluster each is a cluster client of its own that connects only to the node its
   * shard is on.
   */
  protected blockingLink(purpose: 'work' | 'cpu-work' | 'events', shard = 0): Promise<Conn> {
    const key = `${purpose}:${shard}`;
    let l = this.blocking.get(key);
    if (!l) this.blocking.set(key, (l = this.cluster ? this.clusterLink(true) : this.link()));
    return this.ready(l);
  }

  /** the link, once it is connected (or commandTimeoutMs has passed) */
  protected async ready<L extends Conn>(l: L): Promise<L> {
    if (!l.isReady) await withTimeout(l.connected, this.options.commandTimeoutMs);
    return l;
  }
}
