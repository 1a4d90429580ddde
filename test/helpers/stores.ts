/** Both store adapters, built alike for the contract suite and other integration tests. */
import { RedisStore } from '../../src/store/redis';
import type { Store, StoreOptions } from '../../src/store/types';
import { testPrefix, testRedisUrl } from './env';

export type AdapterName = 'redis' | 'memory';
export const ADAPTERS: AdapterName[] = ['redis', 'memory'];

export async function makeStore(adapter: AdapterName, name: string, opts: Partial<StoreOptions> = {}): Promise<Store> {
  if (adapter === 'memory') {
    const { MemoryStore } = await import('../../src/store/memory');
    return new MemoryStore(opts);
  }
  const store = new RedisStore({ url: testRedisUrl(), prefix: testPrefix(name), ...opts });
  await store.connect();
  return store;
}

/** a clock the test moves by hand */
export function manualClock(start = Date.now()) {
  let t = start;
  return {
    now: () => t,
    advance(ms: number) {
      t += ms;
    },
  };
}
