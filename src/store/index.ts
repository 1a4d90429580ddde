/** Open the store a role runs on: Redis when a URL is given, else the in-memory adapter. */
import { detectCluster } from './cluster';
import { MemoryStore } from './memory';
import { RedisStore, RedisTls } from './redis';
import { DEFAULT_STORE_OPTIONS, Store, StoreOptions } from './types';

export interface OpenStoreOptions extends Partial<StoreOptions> {
  /** redis:// or rediss:// URL; undefined → in-memory */
  redisUrl?: string;
  /** CA, client certificate and key for a rediss:// URL */
  redisTls?: RedisTls;
  /** the shard count to set (`--shards`); unset: the one the prefix has (README "Redis Cluster") */
  shards?: number;
  /** the queue bots claim from (its jobs stay in shard 0, with the bots) */
  botQueue?: string;
}

export async function openStore(opts: OpenStoreOptions): Promise<Store> {
  const { redisUrl, redisTls, shards, botQueue, ...rest } = opts;
  const options = { ...DEFAULT_STORE_OPTIONS, ...rest };
  if (!redisUrl) return new MemoryStore(options);
  // a Cluster answers `INFO cluster` with cluster_enabled:1 (several seed nodes always are one)
  // asked again for up to 5 s while nothing answers (a role waits that long for its store anyway)
  let detected: boolean | null = null;
  for (const until = Date.now() + 5000; detected === null && Date.now() < until; await new Promise((r) => setTimeout(r, 250))) {
    detected = await detectCluster(redisUrl, redisTls ? { tls: true, ...redisTls } : undefined);
  }
  const cluster = detected === true;
  const extra = { ...(redisTls ? { tls: redisTls } : {}), ...(shards ? { shards } : {}), ...(botQueue ? { botQueue } : {}), ...(cluster ? { cluster } : {}) };
  return new RedisStore({ ...options, url: redisUrl, ...extra }).connect();
}

export type { Store } from './types';
