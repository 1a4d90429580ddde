/** Open the store a role runs on: Redis when a URL (or Sentinels) is given, else the in-memory adapter. */
import { detectCluster } from './cluster';
import { MemoryStore } from './memory';
import { RedisStore, RedisTls } from './redis';
import type { SentinelOptions } from './sentinel';
import { DEFAULT_STORE_OPTIONS, Durability, Store, StoreOptions } from './types';

export interface OpenStoreOptions extends Partial<StoreOptions> {
  /** redis:// or rediss:// URL; undefined → in-memory */
  redisUrl?: string;
  /** CA, client certificate and key for a rediss:// URL */
  redisTls?: RedisTls;
  /** the master is the one these Sentinels name (redisUrl then gives only its scheme and credentials) */
  sentinel?: SentinelOptions;
  /** 'replica': writes a user is told succeeded wait for a replica (WAIT 1) */
  durability?: Durability;
  durabilityTimeoutMs?: number;
  /** a Redis call with no answer in this time fails (--store-timeout-ms; default DEFAULT_COMMAND_TIMEOUT_MS) */
  commandTimeoutMs?: number;
  /** the shard count to set (`--shards`); unset: the one the prefix has (README "Redis Cluster") */
  shards?: number;
  /** the queue bots claim from (its jobs stay in shard 0, with the bots) */
  botQueue?: string;
}

export async function openStore(opts: OpenStoreOptions): Promise<Store> {
  const { redisUrl, redisTls, sentinel, durability, durabilityTimeoutMs, commandTimeoutMs, shards, botQueue, ...rest } =
    opts;
  const options = { ...DEFAULT_STORE_OPTIONS, ...rest };
  const ha = {
    ...(durability ? { durability } : {}),
    ...(durabilityTimeoutMs ? { durabilityTimeoutMs } : {}),
    ...(commandTimeoutMs ? { commandTimeoutMs } : {}),
  };
  const sharding = { ...(shards ? { shards } : {}), ...(botQueue ? { botQueue } : {}) };
  if (sentinel) {
    const { SentinelMaster } = await import('./sentinel');
    const master = new SentinelMaster(sentinel);
    try {
      await master.resolve(); // Sentinels that are away at start are waited for, as a Redis is
    } catch (err) {
      master.close();
      throw err;
    }
    const url = redisUrl ?? 'redis://sentinel-master';
    return new RedisStore({
      ...options,
      ...ha,
      ...sharding,
      url,
      sentinel: master,
      ...(redisTls ? { tls: redisTls } : {}),
    }).connect();
  }
  if (!redisUrl) return new MemoryStore(options);
  // a Cluster answers `INFO cluster` with cluster_enabled:1 (several seed nodes always are one)
  // asked again for up to 5 s while nothing answers (a role waits that long for its store anyway)
  let detected: boolean | null = null;
  for (
    const until = Date.now() + 5000;
    detected === null && Date.now() < until;
    await new Promise((r) => setTimeout(r, 250))
  ) {
    detected = await detectCluster(redisUrl, redisTls ? { tls: true, ...redisTls } : undefined);
  }
  const cluster = detected === true;
  const extra = { ...(redisTls ? { tls: redisTls } : {}), ...sharding, ...(cluster ? { cluster } : {}) };
  return new RedisStore({ ...options, ...ha, url: redisUrl, ...extra }).connect();
}

export type { Store } from './types';
