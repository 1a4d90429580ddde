/**
 * The Redis adapter (node-redis v5). Every multi-key change is one Lua script (src/store/lua);
 * reads are plain commands. The client reconnects by itself forever; while Redis is away every
 * call fails fast with StoreUnavailableError naming the URL (no offline queue), and every call
 * has a deadline that holds after it was written (link.ts): in a partition a call fails after
 * commandTimeoutMs and its connection is replaced, so the API answers 503 and the roles back
 * off and resume on their own. An out-of-memory Redis is a store condition too
 * (StoreOutOfMemoryError): every script is refused whole before it runs, reads go on.
 */
import { WatchError } from 'redis';
import { AbacusAddResult, AbacusStrategy, fitsInt64, OPTIMISTIC_MAX_ATTEMPTS, optimisticJitterMs, sumOutOfRange, SumConflictError, toAddend } from '../core/abacus';
import { errorMessage } from '../core/errors';
import type { HistoryBucket } from '../core/history';
import { pairsToRecord } from './codec';
import { ClusterLink, clusterUnavailable } from './cluster';
import { Link } from './link';
import { replicaCondition } from './replicas';
import type { RateLimitHit, ServerInfo, ServerStats, Store, StoreState } from './types';
import { sleep } from '../util/time';
import { fill, usedMemory, pairsFromInfo, OUT_OF_RANGE } from './redis/shared';
import { RedisRecords } from './redis/records';

export type { RedisStoreOptions, RedisTls } from './redis/shared';
export { decodeEvents, pairsFromInfo, redactUrl } from './redis/shared';

export class RedisStore extends RedisRecords implements Store {
  readonly kind = 'redis' as const;

  // ---- abacus ----

  async abacusAdd(n: bigint | number, strategy: AbacusStrategy = 'atomic'): Promise<AbacusAddResult> {
    const addend = toAddend(n);
    if (strategy === 'optimistic') return this.addOptimistic(addend);
    const [code, sum] = await this.run<[number, string]>('addToSum', [addend.toString()], this.groups.abacus, true);
    if (code === OUT_OF_RANGE) throw sumOutOfRange(addend);
    return { sum: BigInt(sum), conflicts: 0 };
  }

  /** the abacus's optimistic locking: retried with jitter while the sum moves under it, then 409 */
  protected async addOptimistic(n: bigint): Promise<AbacusAddResult> {
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
  protected async tryAddWatched(l: Link, n: bigint): Promise<bigint | null> {
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
