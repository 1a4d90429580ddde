/**
 * The Redis adapter's one shared part (each concern's module holds it): the connections (one
 * Redis, or a Cluster; the blocking ones; the durable writes' for --durability replica; pools of
 * their own), every command's deadline, the errors a call can end in, the scripts run by SHA,
 * and the shard layout (README "Architecture: keys and shards"): how many shards, their keys,
 * the keys a group of its own gets on a Cluster. It knows keys and scripts by name, nothing of
 * what they hold: the parts hook in what they need (onReady, onNewShards, onClose).
 */
import { randomBytes } from 'node:crypto';
import { createClient, DisconnectsClientError, ErrorReply } from 'redis';
import { StoreOutOfMemoryError, StoreUnavailableError, WizardError, errorMessage } from '../../core/errors';
import { ClusterLink, clusterUnavailable, firstKeyOf, seedUrls, slotMoving } from '../cluster';
import { MasterLinks } from '../cluster-durable';
import { keysAt, redisKeys, RedisKeys, shardOfId, tagBase } from '../keys';
import { Client, Link } from '../link';
import { ConnectionPool } from '../pool';
import { urlAt } from '../sentinel';
import { library, LuaScript, ScriptName, scripts } from '../scripts';
import { DEFAULT_COMMAND_TIMEOUT_MS, DEFAULT_STORE_OPTIONS } from '../types';
import { EVENT_RESULT_MAX_BYTES } from '../shapes';
import type { WireArg } from '../wire';
import {
  DURABLE_CONNECTIONS,
  LAYOUT_EVERY_MS,
  SET_SHARDS,
  redactUrl,
  withTimeout,
  type Reply,
  type RedisStoreOptions,
  type Conn,
} from './shared';

/** an argument as node-redis takes it: a number as its digits, a Buffer (long JSON: wire.ts wireJson) as it is */
const onWire = (a: WireArg): string | Buffer => (typeof a === 'number' ? String(a) : a);
/** how long the scripts go by EVALSHA after the library was refused, before FCALL is tried again */
const FUNCTIONS_AGAIN_MS = 10_000;

export class RedisConn {
  readonly location: string;
  readonly options: RedisStoreOptions;
  /** shard 0's keys, and what the whole prefix shares */
  readonly keys: RedisKeys;
  /** on a Redis Cluster */
  readonly cluster: boolean;
  /** names this process's writes apart from other nodes' (a member of a shared set) */
  readonly instanceId = randomBytes(6).toString('hex');
  /**
   * CPU jobs go to their queue's CPU lists, and SUCCESS events carry small results (format 3): off
   * on a prefix at format 2, where roles of the previous release may run, which read only the
   * ordinary lists and events without results (src/store/format.ts)
   */
  cpuLists = true;

  /** the largest result a SUCCESS event carries (the completion scripts' argument): none below format 3 */
  get eventResultMax(): number {
    return this.cpuLists ? EVENT_RESULT_MAX_BYTES : 0;
  }
  /** a claim and a completion leave a job's updated_at out (format 3: lib.lua's leanMoves); not below it, where the previous release reads it */
  get leanMoves(): boolean {
    return this.cpuLists;
  }
  /** every known shard's keys (index: the shard number), those above the count too: they are drained */
  shards: RedisKeys[];
  /** how many shards new keys go to */
  shardCount = 1;
  readonly main: Conn;
  lastError = '';
  closed = false;
  private layoutTimer: NodeJS.Timeout | null = null;
  private readonly blocking = new Map<string, Conn>();
  private readonly pools: ConnectionPool<Link>[] = [];
  /** connections for durable writes (--durability replica), opened on first use, taken in turn */
  private readonly durableLinks: Link[] = [];
  private durableTurn = 0;
  /** on a Cluster: durable writes' connections to each master instead (cluster-durable.ts) */
  private readonly masterLinks: MasterLinks | null;
  private readonly scripts = scripts();
  private readonly library = library();
  /** when FUNCTION LOAD (or FCALL) was last refused: the scripts go by EVALSHA for FUNCTIONS_AGAIN_MS after */
  private functionsRefusedAt = -Infinity;
  private readonly readyHooks: (() => void)[] = [];
  private readonly closeHooks: (() => void)[] = [];
  private readonly newShardHooks: ((shards: RedisKeys[]) => Promise<void>)[] = [];

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
    sentinel?.onSwitch((to, from) =>
      this.followMaster(`the Sentinels moved the master from ${from.host}:${from.port} to ${to.host}:${to.port}`),
    );
  }

  /** run `fn` each time the main connection is (re)made, and once connected to a Cluster */
  onReady(fn: () => void): void {
    this.readyHooks.push(fn);
  }

  onClose(fn: () => void): void {
    this.closeHooks.push(fn);
  }

  /** run `fn` with the keys of shards the layout names for the first time (before they are used) */
  onNewShards(fn: (shards: RedisKeys[]) => Promise<void>): void {
    this.newShardHooks.push(fn);
  }

  /** the keys of a group of its own (a tag of its own on a Cluster, spreading the load; on a plain Redis shard 0's) */
  group(name: string): RedisKeys {
    return this.cluster ? keysAt(tagBase(this.options.prefix, name)) : this.keys;
  }

  /** resolves when connected or after waitMs, whichever is first */
  async connect(waitMs = 5000): Promise<void> {
    await withTimeout(this.main.connected, waitMs);
    await this.loadLayout().catch(() => undefined); // away: read again in LAYOUT_EVERY_MS
    if (this.main instanceof ClusterLink) {
      void this.main.everyMaster(['FUNCTION', 'LOAD', this.library.source]); // as a plain Redis's on connect
      for (const fn of this.readyHooks) fn();
    }
    this.layoutTimer ??= setInterval(() => void this.loadLayout().catch(() => undefined), LAYOUT_EVERY_MS);
    this.layoutTimer.unref();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const fn of this.closeHooks) fn();
    this.options.sentinel?.close();
    if (this.layoutTimer) clearInterval(this.layoutTimer);
    for (const l of this.links) l.close();
  }

  /** every connection this store has open */
  private get links(): Conn[] {
    return [
      this.main,
      ...this.blocking.values(),
      ...this.pools.flatMap((p) => p.members),
      ...this.durableLinks,
      ...(this.masterLinks?.all ?? []),
    ];
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

  /** the master that holds this slot now (a seed node while unknown) */
  masterUrlOf(slot: number): string {
    return (
      (this.main instanceof ClusterLink && slot >= 0 ? this.main.masterUrlOf(slot) : null) ??
      seedUrls(this.options.url)[0]
    );
  }

  /** a pool of up to `size` connections of its own, each to `url` (default: --redis), closed with the store */
  pool(size: number, url?: () => string): ConnectionPool<Link> {
    const p = new ConnectionPool(() => this.link(false, url), size);
    this.pools.push(p);
    return p;
  }

  /** a client; the main one runs the ready hooks, and (re)loads the scripts, on every connect */
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
    // load the library on every connect (a restarted Redis may have lost it): a Redis that has
    // it answers at once, before compiling anything; one refusing it is asked again by run()
    if (main) {
      client.on('ready', () => {
        client.sendCommand(['FUNCTION', 'LOAD', this.library.source]).catch(() => undefined);
        for (const fn of this.readyHooks) fn();
      });
    }
    return client;
  }

  /** a connection with deadlines (link.ts), connecting in the background */
  link(main = false, url?: () => string): Link {
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

  /** the keys of shard n (a shard not known yet: shard 0's, where such a key is not found) */
  shardKeys(n: number): RedisKeys {
    return this.shards[n] ?? this.keys;
  }

  /** the keys of the shard an id names */
  at(id: string): RedisKeys {
    return this.shardKeys(shardOfId(id));
  }

  /** one value per shard, each read from its own keys */
  perShard<T>(fn: (k: RedisKeys, shard: number) => Promise<T>): Promise<T[]> {
    return Promise.all(this.shards.map(fn));
  }

  /** how many shards new keys go to, and how many are known */
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
      const [setCount, setTags] = await this.evalOnce<(string | null)[]>(
        SET_SHARDS,
        [this.keys.config],
        [n === want ? '' : want, JSON.stringify(grown)],
      );
      n = Number(setCount);
      list = JSON.parse(setTags!) as string[];
    }
    const known = list.map((tag) => (tag === '' ? this.keys : keysAt(tagBase(this.options.prefix, tag))));
    if (known.length > this.shards.length)
      for (const fn of this.newShardHooks) await fn(known.slice(this.shards.length));
    this.shards = known;
    this.shardCount = Math.max(1, Math.min(n ?? 1, known.length));
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

  // ---- calls ----

  get isReady(): boolean {
    return this.main.isReady;
  }

  /** (maybeApplied: the call was sent, so it may have run) */
  unavailable(err: unknown, maybeApplied = false): StoreUnavailableError {
    const why = (err instanceof DisconnectsClientError ? '' : errorMessage(err)) || this.lastError || 'not connected';
    return new StoreUnavailableError(`Redis at ${this.location} is unavailable: ${why}`, maybeApplied);
  }

  /**
   * one command, with a deadline that holds after it is written; connection failures, a
   * deadline passed and the replies of a Redis that cannot serve become StoreUnavailableError
   * (StoreOutOfMemoryError for OOM)
   */
  async cmd<T = Reply>(
    args: WireArg[],
    link: Conn = this.main,
    deadlineMs = this.options.commandTimeoutMs,
  ): Promise<T> {
    if (!link.isReady) throw this.unavailable(this.lastError || 'not connected');
    try {
      return (await link.call((c) => c.sendCommand(args.map(onWire)), deadlineMs)) as T;
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
  async durable<T = Reply>(args: WireArg[]): Promise<T> {
    if (this.options.durability !== 'replica') return this.cmd<T>(args);
    const l = this.durableLink(args);
    await this.ready(l);
    if (!l.isReady) throw this.unavailable(this.lastError || 'not connected');
    const pinned = l.client;
    try {
      const answer = (await l.call((c) => c.sendCommand(args.map(onWire)), this.options.commandTimeoutMs, pinned)) as T;
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
  private durableLink(args: WireArg[]): Link {
    if (this.masterLinks) {
      const l = this.masterLinks.linkFor(firstKeyOf(args.map(onWire)) ?? '');
      if (!l) throw this.unavailable('no master known for the slot');
      return l;
    }
    let l = this.durableLinks[this.durableTurn++ % DURABLE_CONNECTIONS];
    if (!l) this.durableLinks.push((l = this.link()));
    return l;
  }

  /** WAIT 1 on the connection that wrote: a StoreUnavailableError (the write may have been applied) when no replica has it in time */
  async confirmedByReplica(l: Link, pinned: Client): Promise<void> {
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
  classify(err: unknown): unknown {
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
   * run a script: its function of the library (FCALL), loaded where Redis does not have it (a
   * first use, a restart or a failover that lost it, FUNCTION FLUSH); when the library cannot be
   * loaded (OOM: FUNCTION LOAD is refused as a write; an ACL without it) the script by SHA, sent
   * whole on NOSCRIPT. Its time is Redis's (lib-call.lua reads TIME when ARGV[1] is ''), or a
   * test's clock (options.now). `on`: sent on that connection with that deadline instead (a
   * script written behind a blocking command: jobs.ts waitAndClaim).
   */
  async run<T = Reply>(
    name: ScriptName,
    args: WireArg[],
    keys: RedisKeys = this.keys,
    durable = false,
    on?: { link: Conn; deadlineMs: number },
  ): Promise<T> {
    const s: LuaScript = this.scripts[name];
    const o = this.options;
    const tail = ['2', keys.base, keys.guard, o.now ? o.now() : '', o.resultTtlMs, o.eventRetentionMs, ...args];
    const send = (a: WireArg[]) =>
      on ? this.cmd<T>(a, on.link, on.deadlineMs) : durable ? this.durable<T>(a) : this.cmd<T>(a);
    for (let loaded = false; Date.now() - this.functionsRefusedAt >= FUNCTIONS_AGAIN_MS; loaded = true) {
      try {
        return await send(['FCALL', s.fn, ...tail]);
      } catch (err) {
        if (!(err instanceof ErrorReply)) throw err;
        if (err.message.startsWith('NOPERM')) {
          this.functionsRefusedAt = Date.now(); // an ACL without FCALL
          break;
        }
        if (!err.message.startsWith('ERR Function not found')) throw err;
      }
      if (loaded || !(await this.loadLibrary(keys.base))) break; // (nothing ran: the script then)
    }
    try {
      return await send(['EVALSHA', s.sha, ...tail]);
    } catch (err) {
      if (err instanceof ErrorReply && err.message.startsWith('NOSCRIPT')) return send(['EVAL', s.source, ...tail]);
      throw err;
    }
  }

  /**
   * FUNCTION LOAD on the Redis (on a Cluster: the master) of the base `at`: whether it has the
   * library now. Loaded already (by another process since) is had; a refusal is remembered
   * (functionsRefusedAt); a Redis away is the store's unavailability, as any call's.
   */
  private async loadLibrary(at: string): Promise<boolean> {
    const args = ['FUNCTION', 'LOAD', this.library.source];
    const main = this.main;
    try {
      if (!(main instanceof ClusterLink)) await this.cmd(args);
      else if (!main.isReady) throw this.unavailable(this.lastError || 'not connected');
      else await main.sendAt(at, args);
      return true;
    } catch (e) {
      const err = this.classify(e);
      if (err instanceof ErrorReply && err.message.includes('already exists')) return true;
      if (!(err instanceof ErrorReply) && !(err instanceof StoreOutOfMemoryError)) throw err;
      this.functionsRefusedAt = Date.now();
      return false;
    }
  }

  /** a script run once, sent whole (not by SHA, not prefixed with lib.lua): joinFormat.lua */
  async evalOnce<T = Reply>(source: string, keys: string[], args: (string | number)[]): Promise<T> {
    return this.cmd<T>(['EVAL', source, keys.length, ...keys, ...args]);
  }

  /** the store's time (ms): Redis's clock (TIME), or a test's (options.now) */
  async time(): Promise<number> {
    if (this.options.now) return this.options.now();
    const [secs, micros] = await this.cmd<[string, string]>(['TIME']);
    return Number(secs) * 1000 + Math.floor(Number(micros) / 1000);
  }

  /**
   * Blocking commands get connections of their own, one per purpose and shard, so a worker and
   * an event reader in one process never wait behind each other. On a Cluster each is a
   * cluster client of its own that connects only to the node its shard is on.
   */
  blockingLink(purpose: string, shard = 0): Promise<Conn> {
    const key = `${purpose}:${shard}`;
    let l = this.blocking.get(key);
    if (!l) this.blocking.set(key, (l = this.cluster ? this.clusterLink(true) : this.link()));
    return this.ready(l);
  }

  /** the link, once it is connected (or commandTimeoutMs has passed) */
  async ready<L extends Conn>(l: L): Promise<L> {
    if (!l.isReady) await withTimeout(l.connected, this.options.commandTimeoutMs);
    return l;
  }
}
