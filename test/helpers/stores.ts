/** Both store adapters, built alike for the contract suite and other integration tests. */
import { RedisStore } from '../../src/store/redis';
import type { Store, StoreOptions } from '../../src/store/types';
import { AdapterName, chosenAdapters, sharedClusterPorts, testPrefix, testRedisUrl } from './env';
import { startRedisCluster, TestCluster, waitClusterHealthy } from './redis-cluster';

export type { AdapterName };

export const ADAPTERS: AdapterName[] = chosenAdapters(['redis', 'memory']);
/** the adapters and a Redis Cluster (3 masters, a replica each): call useTestCluster() in the file */
export const WITH_CLUSTER: AdapterName[] = chosenAdapters(['redis', 'memory', 'cluster']);

let cluster: { seed: string } | null = null;

/**
 * the run's shared Redis Cluster (the global setup starts it; each file keeps to its own key
 * prefix): waited for before the file's tests. Nothing when the cluster adapter is not chosen.
 */
export function useTestCluster(): void {
  beforeAll(async () => {
    if (!WITH_CLUSTER.includes('cluster')) return;
    const ports = sharedClusterPorts();
    await waitClusterHealthy(() => ports, 90_000);
    cluster = { seed: `redis://127.0.0.1:${ports[0]}` };
  }, 100_000);
  afterAll(() => {
    cluster = null;
  });
}

/** a Redis Cluster of the file's own, for tests that change its nodes (CONFIG SET, kills) */
export function useOwnTestCluster(): () => TestCluster {
  let own: TestCluster | null = null;
  beforeAll(async () => {
    own = await startRedisCluster();
    cluster = own;
  }, 60_000);
  afterAll(async () => {
    await own?.destroy();
    cluster = own = null;
  });
  return () => own!;
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
    if (!cluster)
      throw new Error('the cluster adapter needs useTestCluster() (or useOwnTestCluster()) in the test file');
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
