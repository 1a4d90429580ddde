/**
 * Starts the servers the whole run shares: one redis-server, and a Redis Cluster (3 masters, a
 * replica each) for the contract suites' cluster adapter. Each file keeps to a key prefix of its
 * own; tests that restart, kill or reconfigure Redis start their own (test/helpers/own-redis.ts,
 * useOwnTestCluster). The cluster is made in the background while the first files run: its ports
 * are known at once, and a file that needs it waits until it is healthy (useTestCluster). It is
 * not made when no file of the run uses it, or when WIZARD_TEST_STORES leaves the cluster out.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '@jest/types';
import { chosenAdapters } from './env';
import { startRedisCluster, TestCluster } from './redis-cluster';
import { freeClusterPorts, startRedisServer, TestRedis } from './redis-server';

export interface SharedServers {
  redis: TestRedis;
  cluster?: Promise<TestCluster | null>;
}

/** whether a file this run may run calls useTestCluster() */
function clusterWanted(config: Config.GlobalConfig): boolean {
  if (!chosenAdapters(['cluster']).length) return false;
  if (!config.testPathPatterns.isSet()) return true;
  const match = config.testPathPatterns.toExecutor({ rootDir: config.rootDir });
  const users = fs
    .readdirSync(path.join(config.rootDir, 'test'), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.test.ts'))
    .map((f) => path.join(config.rootDir, 'test', f))
    .filter((f) => fs.readFileSync(f, 'utf8').includes('useTestCluster()'));
  return users.some((f) => match.isMatch(f));
}

export default async function globalSetup(config: Config.GlobalConfig): Promise<void> {
  const redis = await startRedisServer();
  process.env.WIZARD_TEST_REDIS_URL = redis.url;
  const shared: SharedServers = { redis };
  if (clusterWanted(config)) {
    const ports = await freeClusterPorts(6, [redis.port]);
    process.env.WIZARD_TEST_CLUSTER_PORTS = ports.join(',');
    shared.cluster = startRedisCluster({ ports }).catch((err: unknown) => {
      process.stderr.write(`the shared test Redis Cluster did not start: ${String(err)}\n`);
      return null;
    });
  }
  (globalThis as { __wizardServers?: SharedServers }).__wizardServers = shared;
}
