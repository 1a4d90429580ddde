/**
 * Issue #7 with real processes: one rate-limit budget shared by two `wizard api` nodes on one
 * Redis; HTTPS with a self-signed certificate the test makes, and the CLI trusting it (--ca or
 * NODE_EXTRA_CA_CERTS); rediss:// with a CA and a client certificate; an open API refuses to
 * listen beyond loopback; with tokens on, a wrong method is a 405 before any 401 or 403.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { storeFromFlags } from '../../src/commands/store-options';
import { testPrefix, testRedisUrl } from '../helpers/env';
import { selfSignedCert } from '../helpers/tls';
import { http, killAll, runWizard, spawnWizard } from '../helpers/procs';
import { freePort, startRedisServer, TestRedis } from '../helpers/redis-server';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wizard-sec-'));
const cert = path.join(dir, 'cert.pem');
const key = path.join(dir, 'key.pem');
const CLIENT = 'e2e-client-token-0123456789';

beforeAll(() => {
  selfSignedCert(dir);
  fs.writeFileSync(path.join(dir, 'tokens'), `# name role token\ncli client ${CLIENT}\n`);
});
afterAll(async () => {
  await killAll();
  fs.rmSync(dir, { recursive: true, force: true });
});

const startApi = async (args: string[], env: Record<string, string> = {}) => {
  const port = await freePort();
  const p = spawnWizard(
    ['api', '--port', String(port), ...args],
    { REDIS_URL: testRedisUrl(), LOG_LEVEL: 'info', ...env },
    'api',
  );
  await p.waitForOutput(/api listening/);
  return { proc: p, port };
};

test('two API nodes on one Redis share one budget: exactly RATE_LIMIT_MAX answers, the rest 429 with Retry-After', async () => {
  const env = { WIZARD_PREFIX: testPrefix('sec-rate'), RATE_LIMIT_MAX: '20', RATE_LIMIT_WINDOW_MS: '60000' };
  const [a, b] = await Promise.all([startApi(['--node-id', 'rate-a'], env), startApi(['--node-id', 'rate-b'], env)]);
  const answers = await Promise.all(
    Array.from({ length: 30 }, (_, i) =>
      http<{ node_id?: string; error?: { code: string } }>('GET', `http://127.0.0.1:${i % 2 ? a.port : b.port}/whoami`),
    ),
  );
  const ok = answers.filter((r) => r.status === 200);
  const refused = answers.filter((r) => r.status === 429);
  expect([ok.length, refused.length]).toEqual([20, 10]);
  expect(new Set(ok.map((r) => r.body.node_id))).toEqual(new Set(['rate-a', 'rate-b']));
  for (const r of refused) {
    expect(r.body.error?.code).toBe('rate_limited');
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(Number(r.headers.get('retry-after'))).toBeLessThanOrEqual(60);
  }
  expect((await http('GET', `http://127.0.0.1:${a.port}/healthz`)).status).toBe(200); // exempt
  await Promise.all([a.proc.kill(), b.proc.kill()]);
});

test('with tokens on, a method a route does not serve is a 405 with Allow whoever asks, before any 401 or 403', async () => {
  const { proc, port } = await startApi(['--tokens-file', path.join(dir, 'tokens')], {
    WIZARD_PREFIX: testPrefix('sec-405'),
    ADMIN_TOKEN: 'sec-405-admin-token-0123456789',
  });
  const client = { Authorization: `Bearer ${CLIENT}` };
  const at = (p: string) => `http://127.0.0.1:${port}${p}`;
  // an admin route (DELETE /abacus/sum) asked with a method it lacks: by a client token, by nobody
  for (const headers of [client, {}]) {
    const r = await http<{ error: { code: string } }>('PUT', at('/abacus/sum'), undefined, headers);
    expect([r.status, r.headers.get('allow'), r.body.error.code]).toEqual([
      405,
      'DELETE, GET, HEAD, OPTIONS',
      'method_not_allowed',
    ]);
  }
  // the methods it has are still guarded
  expect((await http('DELETE', at('/abacus/sum'), undefined, client)).status).toBe(403);
  expect((await http('DELETE', at('/abacus/sum'))).status).toBe(401);
  await proc.kill();
});

test('HTTPS with a self-signed certificate: the CLI trusts it with --ca or NODE_EXTRA_CA_CERTS, not otherwise', async () => {
  const { proc, port } = await startApi(
    ['--tls-cert', cert, '--tls-key', key, '--tokens-file', path.join(dir, 'tokens')],
    { WIZARD_PREFIX: testPrefix('sec-tls') },
  );
  const api = `https://127.0.0.1:${port}`;
  expect(proc.output()).toContain(`"url":"${api}"`);
  const ok = runWizard(['abacus', 'sum', '--api', api, '--ca', cert, '--json'], { WIZARD_TOKEN: CLIENT }); // a --token flag would add a warning (ps shows it)
  expect([ok.code, ok.stderr]).toEqual([0, '']);
  expect(JSON.parse(ok.stdout)).toMatchObject({ sum: 0 });
  expect(
    runWizard(['abacus', 'add', '5', '--api', api, '--json'], { NODE_EXTRA_CA_CERTS: cert, WIZARD_TOKEN: CLIENT }).code,
  ).toBe(0);
  const untrusted = runWizard(['abacus', 'sum', '--api', api, '--token', CLIENT]);
  expect(untrusted.code).toBe(3);
  expect(untrusted.stderr).toMatch(/cannot reach the API at https:\/\/127\.0\.0\.1.*pass --ca <file> or set WIZARD_CA/);
  const noToken = runWizard(['abacus', 'sum', '--api', api, '--ca', cert]);
  expect(noToken.code).toBe(1);
  expect(noToken.stderr).toMatch(/pass --token or set WIZARD_TOKEN/); // the CLI's words, not HTTP's
  expect(noToken.stderr).not.toMatch(/Authorization/);
  await proc.kill();
});

test('an API with no tokens on a non-loopback --host exits 2 naming --host and --insecure; --insecure serves it', async () => {
  const refused = runWizard(['api', '--host', '0.0.0.0', '--port', '0'], { REDIS_URL: testRedisUrl() });
  expect(refused.code).toBe(2);
  expect(refused.stderr.trim().split('\n')).toHaveLength(1);
  expect(refused.stderr).toMatch(/--host 0\.0\.0\.0.*--insecure/);
  const { proc } = await startApi(['--host', '0.0.0.0', '--insecure'], { WIZARD_PREFIX: testPrefix('sec-open') });
  await proc.waitForOutput(/no API tokens are set/);
  await proc.kill();
});

describe('rediss://', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    const port = await freePort();
    redis = await startRedisServer({
      port,
      extraArgs: [
        '--port',
        '0',
        '--tls-port',
        String(port),
        '--tls-cert-file',
        cert,
        '--tls-key-file',
        key,
        '--tls-ca-cert-file',
        cert,
        '--tls-auth-clients',
        'yes',
      ],
    });
  });
  afterAll(() => redis.destroy());

  test('the store connects with --redis-ca and a client certificate, and not without them', async () => {
    const url = `rediss://127.0.0.1:${redis.port}`;
    const store = await storeFromFlags({
      redis: url,
      prefix: testPrefix('sec-rediss'),
      redisCa: cert,
      redisCert: cert,
      redisKey: key,
    });
    expect((await store.server.ping()).version).toMatch(/^\d/);
    await store.abacus.add(2);
    expect(await store.abacus.sum()).toBe(2n);
    await store.close();
    const untrusted = await storeFromFlags({ redis: url, prefix: 'x' });
    await expect(untrusted.server.ping()).rejects.toThrow(/unavailable/);
    await untrusted.close();
    await expect(storeFromFlags({ redis: testRedisUrl(), prefix: 'x', redisCa: cert })).rejects.toThrow(
      /need a rediss:\/\/ --redis URL/,
    );
  });
});
