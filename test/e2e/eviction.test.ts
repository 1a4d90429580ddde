/**
 * Eviction refused, across real processes on a Redis whose maxmemory-policy is allkeys-lru (the
 * policy the Distributed Prime Counter's troubleshooting advised): every role that opens Redis
 * exits 2 with one line naming the policy and the fix; --allow-eviction (or
 * WIZARD_ALLOW_EVICTION=yes) starts it with a warning, /health says degraded with the reason and
 * /metrics shows the policy and the keys Redis evicted (promtool accepts it). The in-memory
 * store has no policy: not a word.
 */
import { createClient } from 'redis';
import { testPrefix } from '../helpers/env';
import { ownRedisServer } from '../helpers/own-redis';
import { http, killAll, runWizardAsync, spawnWizard, waitUntil } from '../helpers/procs';
import { promtool } from '../helpers/promtool';
import { freePort } from '../helpers/redis-server';

const ownRedis = ownRedisServer({ extraArgs: ['--maxmemory-policy', 'allkeys-lru'] });
afterAll(killAll);

const refusal = (url: string) =>
  new RegExp(
    `^error: Redis at ${url.replace(/[./]/g, '\\$&')} can evict keys \\(maxmemory-policy allkeys-lru\\): queued jobs, leases and chord counters would vanish under memory pressure; run CONFIG SET maxmemory-policy noeviction \\(and set it in its config\\), or start with --allow-eviction \\(WIZARD_ALLOW_EVICTION=yes\\) to accept that\\n$`,
  );

test.each([
  ['api', ['api', '--port', '0'], {}],
  ['worker', ['worker', '--threads', '1'], {}],
  ['scheduler', ['scheduler'], {}],
  ['worker with WIZARD_ALLOW_EVICTION=no', ['worker', '--threads', '1'], { WIZARD_ALLOW_EVICTION: 'no' }],
] as const)(
  '%s on a Redis that can evict: exit 2, one line naming the policy and the fix, nothing written',
  async (_name, args, extra) => {
    const prefix = testPrefix('eviction-refused');
    const r = await runWizardAsync([...args], { REDIS_URL: ownRedis().url, WIZARD_PREFIX: prefix, ...extra });
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 2, stdout: '' });
    expect(r.stderr).toMatch(refusal(ownRedis().url));
    // it stopped before it joined: the prefix has no format key
    const c = createClient({ url: ownRedis().url });
    await c.connect();
    expect(await c.keys(`{${prefix}}*`)).toEqual([]);
    await c.quit();
  },
);

test('WIZARD_ALLOW_EVICTION takes yes or no', async () => {
  const r = await runWizardAsync(['worker'], { REDIS_URL: ownRedis().url, WIZARD_ALLOW_EVICTION: 'maybe' });
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/--allow-eviction takes yes or no, got 'maybe'/);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
});

test('accepted: a warning at start, /health degraded with the reason, /metrics shows the policy and the keys evicted', async () => {
  const env = { REDIS_URL: ownRedis().url, WIZARD_PREFIX: testPrefix('eviction-allowed') };
  const port = await freePort();
  const api = spawnWizard(['api', '--port', String(port), '--allow-eviction'], env, 'api');
  const worker = spawnWizard(['worker', '--threads', '1'], { ...env, WIZARD_ALLOW_EVICTION: 'yes' }, 'worker');
  await Promise.all([api.waitForOutput(/api listening/), worker.waitForOutput(/worker started/)]);
  for (const p of [api, worker]) {
    const line = JSON.parse(
      p
        .output()
        .split('\n')
        .find((l) => l.includes('can evict keys'))!,
    );
    expect(line).toMatchObject({
      level: 'warn',
      msg: expect.stringMatching(
        /maxmemory-policy allkeys-lru\).*CONFIG SET maxmemory-policy noeviction.*\(--allow-eviction: running anyway\)$/,
      ),
    });
  }
  const u = `http://127.0.0.1:${port}`;
  const task = await http<{ task_id: string }>('POST', `${u}/task`, { a: 2, b: 3 });
  expect(task.status).toBe(202);
  await waitUntil(
    async () =>
      (await http<{ status: string }>('GET', `${u}/tasks/${task.body.task_id}/status`)).body.status === 'SUCCESS',
    20_000,
    'the task done',
  );

  const health = await http<{ status: string; condition: { reason: string; message: string } }>('GET', `${u}/health`);
  expect(health.status).toBe(200);
  expect(health.body).toMatchObject({
    status: 'degraded',
    condition: { reason: 'eviction', message: expect.stringContaining('(maxmemory-policy allkeys-lru)') },
  });

  // Redis evicts: maxmemory just above what it uses, then 8 MB written beside wizard's keys
  const c = createClient({ url: ownRedis().url });
  await c.connect();
  try {
    const used = Number(/used_memory:(\d+)/.exec(await c.info('memory'))![1]);
    await c.configSet('maxmemory', String(used + 2 * 1024 * 1024));
    for (let i = 0; i < 64; i++) await c.set(`junk:${i}`, 'x'.repeat(128 * 1024));
    const evicted = Number(/evicted_keys:(\d+)/.exec(await c.info('stats'))![1]);
    expect(evicted).toBeGreaterThan(0);
    await c.configSet('maxmemory', '0');

    const text = (await http<string>('GET', `${u}/metrics`)).body;
    expect(text).toContain('wizard_store_condition{reason="eviction"} 1');
    expect(text).toContain(`wizard_store_maxmemory_policy{node="${ownRedis().url}",policy="allkeys-lru"} 1`);
    expect(Number(/^wizard_store_evicted_keys_total (\d+)$/m.exec(text)?.[1])).toBeGreaterThanOrEqual(evicted);
    expect(promtool(text)).toEqual({ code: 0, output: '' });

    // the policy fixed while it runs: healthy at once (/health reads it each time)
    await c.configSet('maxmemory-policy', 'noeviction');
    expect((await http<{ status: string }>('GET', `${u}/health`)).body.status).toBe('healthy');
    expect((await http<string>('GET', `${u}/metrics`)).body).toContain('wizard_store_condition{reason="eviction"} 0');
  } finally {
    await c.configSet('maxmemory', '0').catch(() => undefined);
    await c.configSet('maxmemory-policy', 'allkeys-lru');
    await c.quit();
  }
  expect(await worker.kill('SIGTERM')).toBe(0);
  expect(await api.kill('SIGTERM')).toBe(0);
}, 60_000);

test('the in-memory store (wizard up with no Redis) has no policy: healthy, not a word of it', async () => {
  const port = await freePort();
  const up = spawnWizard(['up', '--port', String(port), '--bots', '0', '--threads', '1'], { REDIS_URL: '' }, 'up');
  await up.waitForOutput(/listening/);
  const health = await http<{ status: string }>('GET', `http://127.0.0.1:${port}/health`);
  expect(health.body.status).toBe('healthy');
  const text = (await http<string>('GET', `http://127.0.0.1:${port}/metrics`)).body;
  expect(text).not.toContain('wizard_store_maxmemory_policy{');
  expect(text).toContain('wizard_store_condition{reason="eviction"} 0');
  expect(up.output()).not.toMatch(/maxmemory|evict/);
  expect(await up.kill('SIGTERM')).toBe(0);
}, 60_000);
