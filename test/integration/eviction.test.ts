/**
 * Redis's eviction policy on real servers: every policy family, a Redis whose CONFIG is renamed
 * away (the policy is read from INFO memory), one that hides its policy (a proxy rewrites INFO's
 * answer, as a managed service that reports none), a Cluster with one master misconfigured, and
 * the watch of a running role (src/roles/eviction-watch.ts): warnings repeated, a change of
 * policy, keys Redis did evict.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createClient } from 'redis';
import { UsageError } from '../../src/core/errors';
import { openStore } from '../../src/store';
import { RedisStore } from '../../src/store/redis';
import type { Store } from '../../src/store/types';
import { watchEviction } from '../../src/roles/eviction-watch';
import { testPrefix } from '../helpers/env';
import { recordingLogger } from '../helpers/log';
import { waitUntil } from '../helpers/procs';
import { startRedisCluster, TestCluster } from '../helpers/redis-cluster';
import { startRedisServer, TestRedis } from '../helpers/redis-server';
import { startTcpProxy, TcpProxy } from '../helpers/tcp-proxy';

const FIX = 'CONFIG SET maxmemory-policy noeviction';
type Client = ReturnType<typeof createClient>;

/** a client of the test's own, to configure the server */
async function admin(url: string): Promise<Client> {
  const c = createClient({ url });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

/** what watchEviction does at start: resolves (then closes the watch) or rejects */
async function startCheck(store: Store, allow: boolean) {
  const { log, lines } = recordingLogger();
  const watch = await watchEviction(store, { allow, log });
  await watch.close();
  return lines.filter((l) => l.level !== 'debug');
}

describe('one Redis', () => {
  let redis: TestRedis;
  let client: Client;
  let store: RedisStore;
  beforeAll(async () => {
    redis = await startRedisServer();
    client = await admin(redis.url);
    store = await new RedisStore({ url: redis.url, prefix: testPrefix('eviction') }).connect();
  });
  afterAll(async () => {
    await store?.close();
    await client?.quit();
    await redis?.destroy();
  });

  test.each([
    'allkeys-lru',
    'allkeys-lfu',
    'allkeys-random',
    'volatile-lru',
    'volatile-lfu',
    'volatile-random',
    'volatile-ttl',
  ])(
    '%s can evict: the role refuses to start (exit 2: a UsageError naming it and the fix), /health is degraded',
    async (policy) => {
      await client.configSet('maxmemory-policy', policy);
      expect(await store.server.eviction()).toEqual({
        nodes: [{ node: store.location, policy }],
        evictedKeys: 0,
        single: true,
      });
      const state = await store.server.condition();
      expect(state.condition).toBe('eviction');
      expect(state.message).toContain(`(maxmemory-policy ${policy})`);
      const refused = await startCheck(store, false).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(UsageError);
      expect((refused as Error).message).toMatch(
        new RegExp(
          `^Redis at ${store.location} can evict keys \\(maxmemory-policy ${policy}\\): .*${FIX}.*--allow-eviction`,
        ),
      );
      expect((refused as Error).message).not.toContain('\n');
      // accepted: a warning, and the role starts
      const lines = await startCheck(store, true);
      expect(lines.map((l) => [l.level, l.msg])).toEqual([
        ['warn', `${state.message} (--allow-eviction: running anyway)`],
      ]);
    },
  );

  test('noeviction: no word, healthy', async () => {
    await client.configSet('maxmemory-policy', 'noeviction');
    expect(await startCheck(store, false)).toEqual([]);
    expect(await store.server.condition()).toEqual({ condition: null, message: null });
  });

  test('a running role: the warning again every warnEveryMs, a change of policy either way, and keys Redis evicted', async () => {
    await client.configSet('maxmemory-policy', 'allkeys-lru');
    const { log, lines } = recordingLogger();
    const watch = await watchEviction(store, { allow: true, log, everyMs: 50, warnEveryMs: 300 });
    try {
      const warnings = () => lines.filter((l) => l.level === 'warn' && l.msg.includes('can evict keys')).length;
      await waitUntil(async () => warnings() >= 3, 20_000, 'the warning repeated');
      // keys evicted: maxmemory just above what is used, then 8 MB written
      const used = Number(/used_memory:(\d+)/.exec(await client.info('memory'))![1]);
      await client.configSet('maxmemory', String(used + 2 * 1024 * 1024));
      for (let i = 0; i < 64; i++) await client.set(`junk:${i}`, 'x'.repeat(128 * 1024));
      const evicted = await waitUntil(
        async () => lines.find((l) => l.msg.startsWith('Redis evicted keys')),
        20_000,
        'the evictions logged',
      );
      expect(evicted.level).toBe('warn');
      expect(evicted.fields.evicted).toBeGreaterThan(0);
      expect((await store.server.eviction()).evictedKeys).toBeGreaterThanOrEqual(evicted.fields.evicted as number);
      await client.configSet('maxmemory', '0');
      // the policy changes while the role runs: said both ways
      await client.configSet('maxmemory-policy', 'noeviction');
      await waitUntil(
        async () =>
          lines.some((l) => l.level === 'info' && l.msg === 'Redis no longer evicts keys: maxmemory-policy noeviction'),
        20_000,
        'the change to noeviction',
      );
      await client.configSet('maxmemory-policy', 'volatile-lru');
      const changed = await waitUntil(
        async () => lines.find((l) => l.msg.includes('volatile-lru')),
        20_000,
        'the change to volatile-lru',
      );
      expect(changed).toMatchObject({ level: 'warn' });
      expect(changed.msg).toMatch(/\(the policy changed while this role runs\)$/);
    } finally {
      await watch.close();
      await client.configSet('maxmemory', '0');
      await client.configSet('maxmemory-policy', 'noeviction');
    }
  });
});

test('a Redis whose CONFIG is renamed away: its policy is read from INFO memory all the same', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wizard-renamed-'));
  const configFile = path.join(dir, 'redis.conf');
  fs.writeFileSync(configFile, 'rename-command CONFIG ""\nmaxmemory-policy allkeys-lfu\n');
  const redis = await startRedisServer({ configFile });
  const client = await admin(redis.url);
  const store = await new RedisStore({ url: redis.url, prefix: testPrefix('eviction-renamed') }).connect();
  try {
    await expect(client.sendCommand(['CONFIG', 'GET', 'maxmemory-policy'])).rejects.toThrow(/unknown command/i);
    expect((await store.server.eviction()).nodes).toEqual([{ node: store.location, policy: 'allkeys-lfu' }]);
    await expect(startCheck(store, false)).rejects.toThrow(/can evict keys \(maxmemory-policy allkeys-lfu\)/);
  } finally {
    await store.close();
    await client.quit();
    await redis.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

describe('a Redis that hides its policy (INFO answers it empty, or not at all, as some managed services do)', () => {
  let redis: TestRedis;
  let client: Client;
  const proxies: TcpProxy[] = [];
  beforeAll(async () => {
    redis = await startRedisServer();
    client = await admin(redis.url);
    await client.configSet('maxmemory-policy', 'allkeys-lru'); // what is behind it: nobody can tell
  });
  afterAll(async () => {
    for (const p of proxies) await p.close();
    await client?.quit();
    await redis?.destroy();
  });

  test.each([
    // same lengths as the real answer: a RESP bulk string announces its length
    ['empty', 'maxmemory_policy:           ', ''],
    ['missing', 'xaxmemory_policy:allkeys-lru', null],
  ] as const)('%s: a warning at start, not an error; /health stays healthy', async (_name, replacement, seen) => {
    const real = Buffer.from('maxmemory_policy:allkeys-lru');
    const proxy = await startTcpProxy(redis.port, {
      rewrite: (d) => {
        const at = d.indexOf(real);
        if (at < 0) return d;
        const out = Buffer.from(d);
        out.write(replacement, at);
        return out;
      },
    });
    proxies.push(proxy);
    const store = await new RedisStore({ url: proxy.url, prefix: testPrefix('eviction-hidden') }).connect();
    try {
      expect((await store.server.eviction()).nodes).toEqual([{ node: store.location, policy: seen }]);
      const lines = await startCheck(store, false);
      expect(lines.map((l) => [l.level, l.msg])).toEqual([
        [
          'warn',
          `Redis at ${store.location} does not report its maxmemory-policy (a managed service may hide it): make sure it is noeviction in the service's settings, or jobs can vanish under memory pressure`,
        ],
      ]);
      expect(await store.server.condition()).toEqual({ condition: null, message: null });
    } finally {
      await store.close();
    }
  });
});

describe('a Redis Cluster with one master misconfigured', () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startRedisCluster({ replicas: 0 });
  }, 60_000);
  afterAll(async () => {
    await cluster?.destroy();
  });

  test('each master is asked: the one that evicts is named, by its address', async () => {
    const [, bad] = await cluster.masters();
    await cluster.cli(bad.port, 'CONFIG', 'SET', 'maxmemory-policy', 'volatile-ttl');
    const store = await openStore({ redisUrl: cluster.seed, prefix: testPrefix('eviction-cluster') });
    try {
      const { nodes, single } = await store.server.eviction();
      expect(single).toBe(false);
      expect(nodes.map((n) => n.policy).sort()).toEqual(['noeviction', 'noeviction', 'volatile-ttl']);
      expect(nodes.find((n) => n.policy === 'volatile-ttl')!.node).toBe(`127.0.0.1:${bad.port}`);
      const state = await store.server.condition();
      expect(state.condition).toBe('eviction');
      expect(state.message).toMatch(
        new RegExp(`^Redis master 127\\.0\\.0\\.1:${bad.port} can evict keys \\(maxmemory-policy volatile-ttl\\)`),
      );
      await expect(startCheck(store, false)).rejects.toThrow(
        new RegExp(
          `^Redis master 127\\.0\\.0\\.1:${bad.port} can evict keys \\(maxmemory-policy volatile-ttl\\):.*${FIX}`,
        ),
      );
      await cluster.cli(bad.port, 'CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
      expect(await startCheck(store, false)).toEqual([]);
    } finally {
      await store.close();
    }
  });
});
