/** Both store adapters, built alike for the contract suite and other integration tests. */
import { RedisStore } from '../../src/store/redis';
import type { Store, StoreOptions } from '../../src/store/types';
import { testPrefix, testRedisUrl } from './env';
import { startRedisCluster, TestCluster } from './redis-cluster';

export type AdapterName = 'redis' | 'memory' | 'cluster';
export const ADAPTERS: AdapterName[] = ['redis', 'memory'];
/** the adapters and a Redis Cluster (3 masters, a replica each): call useTestCluster() in the file */
export const WITH_CLUSTER: AdapterName[] = [...ADAPTERS, 'cluster'];

let cluster: TestCluster | null = null;

/** start a Redis Cluster before the file's tests (for the 'cluster' adapter) and stop it after */
export function useTestCluster(): () => TestCluster {
  beforeAll(async () => {
    cluster = await startRedisCluster();
  }, 60_000);
  afterAll(async () => {
    await cluster?.destroy();
    cluster = null;
  });
  return () => cluster!;
}

export async function makeStore(
  adapter: AdapterName,
  name: string,
  opts: Partial<StoreOptions> & { shards?: number } = {},
): Promise<Store> {
  if (adapter === 'memory') {
    const { MemoryStore } = await import('../../src/store/memory');
    return new MemoryStore(opts);
  }
  if (adapter === 'cluster') {
    if (!cluster) throw new Error('the cluster adapter needs useTestCluster() in the test file');
    const store = new RedisStore({ url: cluster.seed, cluster: true, prefix: testPrefix(name), ...opts });
    await store.connect();
    return store;
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
