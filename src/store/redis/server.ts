/** Redis itself (store.server): its clock, its answer, its memory and eviction policy, its counters. */
import { errorMessage } from '../../core/errors';
import { evictingMessage, evictionVerdict, NodePolicy, SAFE_POLICY } from '../../core/eviction';
import { ClusterLink } from '../cluster';
import type { ServerStore } from '../concerns';
import { replicaCondition } from '../replicas';
import type { EvictionState, ServerInfo, ServerStats, StoreState } from '../types';
import { fill, usedMemory, pairsFromInfo } from './shared';
import type { RedisConn } from './conn';

/** a Redis's policy as INFO memory reports it (missing: null, as hidden as an empty one) */
const policyOf = ({ node, info }: { node: string; info: Record<string, string> }): NodePolicy => ({
  node,
  policy: info.maxmemory_policy ?? null,
});

export class RedisServer implements ServerStore {
  constructor(private readonly c: RedisConn) {}

  time(): Promise<number> {
    return this.c.time();
  }

  async ping(): Promise<ServerInfo> {
    const started = process.hrtime.bigint();
    await this.c.cmd(['PING']);
    const latency = Number(process.hrtime.bigint() - started) / 1e6;
    const info = pairsFromInfo(
      (await this.c.cmd<string>(['INFO', 'server'])) + (await this.c.cmd<string>(['INFO', 'replication'])),
    );
    return {
      latency_ms: Math.round(latency * 1000) / 1000,
      version: info.valkey_version ?? info.redis_version ?? 'unknown',
      role: info.role ?? 'unknown',
      mode: info.redis_mode ?? info.server_mode ?? 'standalone',
    };
  }

  /** `INFO <section>` of each Redis that holds the data: the one Redis, or every master of a Cluster (as host:port) */
  private async infos(section: string): Promise<{ node: string; info: Record<string, string> }[]> {
    if (this.c.main instanceof ClusterLink)
      return (await this.c.main.masterInfos(section)).map(({ node, text }) => ({ node, info: pairsFromInfo(text) }));
    return [{ node: this.c.location, info: pairsFromInfo(await this.c.cmd<string>(['INFO', section])) }];
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
      if (this.c.options.durability === 'replica')
        replicas = replicaCondition(pairsFromInfo(await this.c.cmd<string>(['INFO', 'replication'])), this.c.location);
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
        message: `Redis at ${this.c.location} refuses writes: out of memory (${used} bytes used, maxmemory ${max})`,
      };
    }
    if (replicas) return replicas;
    const { evicting } = evictionVerdict(memory.map(policyOf));
    if (evicting.length > 0) return { condition: 'eviction', message: evictingMessage(evicting, !this.c.cluster) };
    return { condition: null, message: null };
  }

  /** each Redis's maxmemory-policy (a Cluster's every master's) and the keys they evicted (INFO memory, INFO stats) */
  async eviction(): Promise<EvictionState> {
    const [memory, stats] = await Promise.all([this.infos('memory'), this.infos('stats')]);
    return {
      nodes: memory.map(policyOf),
      evictedKeys: stats.reduce((sum, s) => sum + Number(s.info.evicted_keys ?? 0), 0),
      single: !this.c.cluster,
    };
  }

  async stats(): Promise<ServerStats> {
    const info = pairsFromInfo(await this.c.cmd<string>(['INFO']));
    const n = (v: string | undefined) => (v === undefined ? null : Number(v));
    return {
      connected_clients: n(info.connected_clients),
      total_commands_processed: n(info.total_commands_processed),
      used_memory_human: info.used_memory_human ?? null,
    };
  }
}
