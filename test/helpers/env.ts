/** Per-file test context: the shared test Redis and Cluster, and a key prefix of the file's own. */
import { randomBytes } from 'node:crypto';

export function testRedisUrl(): string {
  const url = process.env.WIZARD_TEST_REDIS_URL;
  if (!url)
    throw new Error('WIZARD_TEST_REDIS_URL is not set: run the tests through jest (globalSetup starts redis-server)');
  return url;
}

/** the ports of the run's shared Redis Cluster (the global setup starts it) */
export function sharedClusterPorts(): number[] {
  const ports = process.env.WIZARD_TEST_CLUSTER_PORTS;
  if (!ports)
    throw new Error(
      'WIZARD_TEST_CLUSTER_PORTS is not set: run the tests through jest (globalSetup starts the cluster)',
    );
  return ports.split(',').map(Number);
}

/** a prefix no other test file uses: `t-<name>-<random>` */
export function testPrefix(name: string): string {
  return `t-${name}-${randomBytes(3).toString('hex')}`;
}

export type AdapterName = 'redis' | 'memory' | 'cluster';

/**
 * the adapters the contract suites run on: all of them, or those WIZARD_TEST_STORES names
 * (`npm run test:fast` sets memory)
 */
export function chosenAdapters(all: AdapterName[], env = process.env.WIZARD_TEST_STORES): AdapterName[] {
  const names = env?.split(',').map((s) => s.trim()) ?? [];
  return names.length && names.some(Boolean) ? all.filter((a) => names.includes(a)) : all;
}
