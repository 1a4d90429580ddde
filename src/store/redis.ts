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
import {
  AbacusAddResult,
  AbacusStrategy,
  fitsInt64,
  OPTIMISTIC_MAX_ATTEMPTS,
  optimisticJitterMs,
  sumOutOfRange,
  SumConflictError,
  toAddend,
} from '../core/abacus';
import { errorMessage } from '../core/errors';
import { evictingMessage, evictionVerdict, NodePolicy, SAFE_POLICY } from '../core/eviction';
import type { HistoryBucket } from '../core/history';
import { pairsToRecord } from './codec';
import { ClusterLink, clusterUnavailable } from './cluster';
import { Link } from './link';
import { replicaCondition } from './replicas';
import type { BudgetSpend, EvictionState, RateLimitHit, ServerInfo, ServerStats, Store, StoreState } from './types';
import { isStorableJobId, OPEN_JOBS_SCAN, OWNED_TTL_MS } from './common';
import { FINAL_STATES, JobState } from '../core/job';
import { sleep } from '../util/time';
import { fill, usedMemory, pairsFromInfo, OUT_OF_RANGE } from './redis/shared';
import { RedisRecords } from './redis/records';

export type { RedisStoreOptions, RedisTls } from './redis/shared';
export { decodeEvents, pairsFromInfo, redactUrl } from './redis/shared';

/** a Redis's policy as INFO memory reports it (missing: null, as hidden as an empty one) */
const policyOf = ({ node, info }: { node: string; info: Record<string, string> }): NodePolicy => ({
  node,
  policy: info.maxmemory_policy ?? null,
});

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
    const [allowed, retryAfterMs, remaining] = await this.run<[number, number, number]>(
      'hitRateLimit',
      [windowMs, max, member, ...buckets],
      this.groups.rate,
    );
    return { allowed: allowed === 1, retryAfterMs, remaining };
  }

  // ---- quotas ----

  async spendBudget(bucket: string, cost: number, capacity: number, windowMs: number): Promise<BudgetSpend> {
    const [allowed, retryAfterMs, remaining] = await this.run<[number, number, number]>(
      'spendBudget',
      [bucket, cost, capacity, windowMs],
      this.groups.rate,
    );
    return { allowed: allowed === 1, retryAfterMs, remaining };
  }

  async addOpenJob(owner: string, jobId: string): Promise<void> {
    const key = this.groups.rate.owned(owner);
    await Promise.all([this.cmd(['ZADD', key, await this.time(), jobId]), this.cmd(['PEXPIRE', key, OWNED_TTL_MS])]);
  }

  /** the owned zset, scored by when each job was last looked at: the oldest looks are renewed or dropped */
  async openJobs(owner: string, atMost: number): Promise<number> {
    const key = this.groups.rate.owned(owner);
    const count = await this.cmd<number>(['ZCARD', key]);
    if (count < atMost) return count;
    const ids = await this.cmd<string[]>(['ZRANGE', key, 0, OPEN_JOBS_SCAN - 1]);
    const states = await Promise.all(
      ids.map((id) => (isStorableJobId(id) ? this.cmd<string | null>(['HGET', this.at(id).job(id), 'state']) : null)),
    );
    const finished = (i: number) => states[i] === null || FINAL_STATES.has(states[i] as JobState);
    const done = ids.filter((_, i) => finished(i));
    const open = ids.filter((_, i) => !finished(i));
    const now = await this.time();
    if (done.length > 0) await this.cmd(['ZREM', key, ...done]);
    if (open.length > 0) await this.cmd(['ZADD', key, 'XX', ...open.flatMap((id) => [now, id])]);
    return this.cmd<number>(['ZCARD', key]);
  }

  async time(): Promise<number> {
    if (this.options.now) return this.options.now();
    const [secs, micros] = await this.cmd<[string, string]>(['TIME']);
    return Number(secs) * 1000 + Math.floor(Number(micros) / 1000);
  }

  // ---- the dashboard's history ----

  async recordHistory(
    bucketMs: number,
    keepMs: number,
    add: Record<string, number>,
    set: Record<string, string> = {},
  ): Promise<void> {
    const adds = Object.entries(add);
    await this.run('recordHistory', [bucketMs, keepMs, adds.length, ...adds.flat(), ...Object.entries(set).flat()]);
  }

  async readHistory(bucketMs: number, windowMs: number): Promise<HistoryBucket[]> {
    const flat = await this.run<(string | string[])[]>('readHistory', [bucketMs, windowMs]);
    const out: HistoryBucket[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2)
      out.push({ at: Number(flat[i]), fields: pairsToRecord(flat[i + 1] as string[]) });
    return out;
  }

  async ping(): Promise<ServerInfo> {
    const started = process.hrtime.bigint();
    await this.cmd(['PING']);
    const latency = Number(process.hrtime.bigint() - started) / 1e6;
    const info = pairsFromInfo(
      (await this.cmd<string>(['INFO', 'server'])) + (await this.cmd<string>(['INFO', 'replication'])),
    );
    return {
      latency_ms: Math.round(latency * 1000) / 1000,
      version: info.valkey_version ?? info.redis_version ?? 'unknown',
      role: info.role ?? 'unknown',
      mode: info.redis_mode ?? info.server_mode ?? 'standalone',
    };
  }

  /** `INFO <section>` of each Redis that holds the data: the one Redis, or every master of a Cluster (as host:port) */
  protected async infos(section: string): Promise<{ node: string; info: Record<string, string> }[]> {
    if (this.main instanceof ClusterLink)
      return (await this.main.masterInfos(section)).map(({ node, text }) => ({ node, info: pairsFromInfo(text) }));
    return [{ node: this.location, info: pairsFromInfo(await this.cmd<string>(['INFO', section])) }];
  }

  /**
   * what keeps Redis from serving now: unreachable (not connected, or no answer in time), or out
   * of memory (used memory past maxmemory: Redis refuses writes, as INFO memory shows it), or,
   * with --durability replica, no replica connected (replicaCondition); and, while it serves, a
   * maxmemory-policy that can evict keys (on a Cluster, any master's: src/core/eviction.ts)
   */
  async condition(): Promise<StoreState> {
    let memory: { node: string; info: Record<string, string> }[];
    let replicas: StoreState | null = null;
    try {
      memory = await this.infos('memory');
      if (this.options.durability === 'replica')
        replicas = replicaCondition(pairsFromInfo(await this.cmd<string>(['INFO', 'replication'])), this.location);
    } catch (err) {
      return { condition: 'unavailable', message: errorMessage(err) };
    }
    // the master nearest its maxmemory speaks for all
    const info = [...memory].sort((a, b) => fill(b.info) - fill(a.info))[0]?.info ?? {};
    const max = Number(info.maxmemory ?? 0);
    const used = usedMemory(info);
    if (max > 0 && used > max && info.maxmemory_policy === SAFE_POLICY) {
      return {
        condition: 'out of memory',
        message: `Redis at ${this.location} refuses writes: out of memory (${used} bytes used, maxmemory ${max})`,
      };
    }
    if (replicas) return replicas;
    const { evicting } = evictionVerdict(memory.map(policyOf));
    if (evicting.length > 0) return { condition: 'eviction', message: evictingMessage(evicting, !this.cluster) };
    return { condition: null, message: null };
  }

  /** each Redis's maxmemory-policy (a Cluster's every master's) and the keys they evicted (INFO memory, INFO stats) */
  async eviction(): Promise<EvictionState> {
    const [memory, stats] = await Promise.all([this.infos('memory'), this.infos('stats')]);
    return {
      nodes: memory.map(policyOf),
      evictedKeys: stats.reduce((sum, s) => sum + Number(s.info.evicted_keys ?? 0), 0),
      single: !this.cluster,
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
    this.lost.close();
    this.options.sentinel?.close();
    if (this.layoutTimer) clearInterval(this.layoutTimer);
    for (const l of this.links) l.close();
  }
}
