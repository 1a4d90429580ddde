/** Open the store a role runs on: Redis when a URL is given, else the in-memory adapter. */
import { MemoryStore } from './memory';
import { RedisStore, RedisTls } from './redis';
import { DEFAULT_STORE_OPTIONS, Store, StoreOptions } from './types';

export interface OpenStoreOptions extends Partial<StoreOptions> {
  /** redis:// or rediss:// URL; undefined → in-memory */
  redisUrl?: string;
  /** CA, client certificate and key for a rediss:// URL */
  redisTls?: RedisTls;
}

export async function openStore(opts: OpenStoreOptions): Promise<Store> {
  const { redisUrl, redisTls, ...rest } = opts;
  const options = { ...DEFAULT_STORE_OPTIONS, ...rest };
  if (!redisUrl) return new MemoryStore(options);
  return new RedisStore({ ...options, url: redisUrl, ...(redisTls ? { tls: redisTls } : {}) }).connect();
}

export type { Store } from './types';
