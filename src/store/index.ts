/** Open the store a role runs on: Redis when a URL (or Sentinels) is given, else the in-memory adapter. */
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
}

export async function openStore(opts: OpenStoreOptions): Promise<Store> {
  const { redisUrl, redisTls, sentinel, durability, durabilityTimeoutMs, ...rest } = opts;
  const options = { ...DEFAULT_STORE_OPTIONS, ...rest };
  const ha = { ...(durability ? { durability } : {}), ...(durabilityTimeoutMs ? { durabilityTimeoutMs } : {}) };
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
    return new RedisStore({ ...options, ...ha, url, sentinel: master, ...(redisTls ? { tls: redisTls } : {}) }).connect();
  }
  if (!redisUrl) return new MemoryStore(options);
  return new RedisStore({ ...options, ...ha, url: redisUrl, ...(redisTls ? { tls: redisTls } : {}) }).connect();
}

export type { Store } from './types';
