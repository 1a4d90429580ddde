/**
 * --store-timeout-ms (WIZARD_STORE_TIMEOUT_MS): the deadline of every Redis call, for each role
 * that opens the store. A bad value stops the role at once (exit 2, one line naming the flag);
 * a good one is the deadline a cut Redis is reported with.
 */
import { testPrefix } from '../helpers/env';
import { http, killAll, runWizard, spawnWizard, waitUntil } from '../helpers/procs';
import { freePort, startRedisServer, TestRedis } from '../helpers/redis-server';
import { startTcpProxy, TcpProxy } from '../helpers/tcp-proxy';

let redis: TestRedis;
let proxy: TcpProxy;
beforeAll(async () => {
  redis = await startRedisServer();
  proxy = await startTcpProxy(redis.port);
});
afterAll(async () => {
  await killAll();
  await proxy.close();
  await redis.destroy();
});

test.each(['api', 'worker', 'scheduler', 'up'])(
  '%s: a --store-timeout-ms that is not a positive integer is exit 2 naming the flag',
  (role) => {
    const env = { REDIS_URL: redis.url, WIZARD_PREFIX: testPrefix('store-timeout-bad') };
    const runs = [
      ...['0', '-5', 'soon', '1.5'].map((v) => runWizard([role, '--store-timeout-ms', v], env)),
      runWizard([role], { ...env, WIZARD_STORE_TIMEOUT_MS: '0' }),
    ];
    for (const r of runs) {
      expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 2, stdout: '' });
      expect(r.stderr.trim().split('\n')).toEqual([
        expect.stringContaining('--store-timeout-ms must be an integer from 1 to 600000'),
      ]);
    }
  },
);

test('an API with --store-timeout-ms 400 reports a cut Redis with that deadline', async () => {
  const port = await freePort();
  const api = `http://127.0.0.1:${port}`;
  const p = spawnWizard(
    ['api', '--port', String(port), '--store-timeout-ms', '400'],
    { REDIS_URL: proxy.url, WIZARD_PREFIX: testPrefix('store-timeout'), ADMIN_TOKEN: '' },
    'api',
  );
  await p.waitForOutput(/api listening/);
  expect((await http<{ status: string }>('GET', `${api}/health`)).body.status).toBe('healthy');
  proxy.cut();
  try {
    const down = await waitUntil(
      async () => {
        const r = await http<{ status: string; condition: { reason: string; message: string } }>(
          'GET',
          `${api}/health`,
        );
        return r.status === 503 && r;
      },
      15_000,
      '/health to be 503',
    );
    expect(down.body).toMatchObject({ status: 'unhealthy', condition: { reason: 'unavailable' } });
    expect(down.body.condition.message).toContain('no answer within 400 ms');
  } finally {
    proxy.heal();
  }
  expect(await p.kill('SIGTERM')).toBe(0);
}, 60_000);
