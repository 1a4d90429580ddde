/**
 * GET /health with --durability replica, on a real master: with no replica connected writes
 * answer 503, and /health says so (degraded, reason "no replica"); once a real replica has
 * synced it is healthy and writes are answered; without durability no replica is needed.
 */
import { startApi, RunningApi } from '../../src/roles/api';
import { openStore } from '../../src/store';
import type { Store } from '../../src/store/types';
import { silentLogger } from '../helpers/log';
import { http, waitUntil } from '../helpers/procs';
import { waitForSync } from '../helpers/redis-sentinel';
import { startRedisServer, TestRedis } from '../helpers/redis-server';

interface Health {
  status: string;
  condition?: { reason: string; message: string };
}

let master: TestRedis;
let replica: TestRedis | null = null;
const opened: Array<{ api: RunningApi; store: Store }> = [];

beforeAll(async () => {
  master = await startRedisServer();
});
afterAll(async () => {
  for (const { api, store } of opened) {
    await api.close(true);
    await store.close();
  }
  await replica?.destroy();
  await master.destroy();
});

async function apiOn(durability: 'none' | 'replica') {
  const store = await openStore({
    redisUrl: master.url,
    prefix: `health-${durability}`,
    durability,
    durabilityTimeoutMs: 1_500, // a loaded machine (the full suite) can take 300 ms to have the replica confirm a write
  });
  const api = await startApi(store, { nodeId: `api-${durability}`, port: 0, log: silentLogger });
  opened.push({ api, store });
  const health = async () => (await http<Health>('GET', `${api.url}/health`)).body;
  const write = async () => (await http('POST', `${api.url}/jobs`, { type: 'task', params: { a: 1, b: 2 } })).status;
  return { health, write };
}

test('with --durability replica and no replica, writes are 503 and /health is degraded naming it; with a replica, healthy', async () => {
  const durable = await apiOn('replica');
  const plain = await apiOn('none');
  expect(await durable.write()).toBe(503);
  const degraded = await durable.health();
  expect(degraded).toMatchObject({
    status: 'degraded',
    condition: {
      reason: 'no replica',
      message: `--durability replica: no replica is connected to Redis at ${master.url}, so writes are not confirmed and answer 503`,
    },
  });
  // the same Redis without durability: nothing is missing
  expect(await plain.health()).toMatchObject({ status: 'healthy' });
  expect((await plain.health()).condition).toBeUndefined();
  expect(await plain.write()).toBe(202);

  replica = await startRedisServer({ extraArgs: ['--replicaof', '127.0.0.1', String(master.port)] });
  await waitForSync(replica.port);
  const healthy = await waitUntil(
    async () => {
      const h = await durable.health();
      return h.status === 'healthy' && h;
    },
    10_000,
    '/health to be healthy with a replica',
  );
  expect(healthy.condition).toBeUndefined();
  expect(await durable.write()).toBe(202);

  await replica.stop();
  const again = await waitUntil(
    async () => {
      const h = await durable.health();
      return h.status === 'degraded' && h;
    },
    10_000,
    '/health to be degraded once the replica is gone',
  );
  expect(again.condition?.reason).toBe('no replica');
}, 60_000);
