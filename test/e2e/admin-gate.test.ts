/**
 * Issue 14, item 3, on real `wizard api` processes: while no admin token is configured every
 * admin route (the abacus reset included) is a 403 `admin_token_not_configured`, whatever is
 * sent, and nothing changes; GET /whoami says whether admin routes can be used, never the token;
 * bots still register as `wizard bot` does (registration is the bots' route, not an admin one).
 */
import { RedisStore } from '../../src/store/redis';
import { OPERATIONS, operationNeed } from '../../src/roles/api/openapi';
import { testPrefix, testRedisUrl } from '../helpers/env';
import { http, killAll, spawnWizard } from '../helpers/procs';
import { freePort } from '../helpers/redis-server';

const prefix = testPrefix('admin-gate');
const ADMIN = 'gate-admin-token-0123456789';
const CLIENT = 'gate-client-token-0123456789';
const BOTS = 'gate-bot-role-token-0123456789';
type ErrorBody = { error: { code: string; message: string } };

let store: RedisStore;
const nodes: Record<'bare' | 'tokens' | 'admin', string> = { bare: '', tokens: '', admin: '' };

async function api(id: string, env: Record<string, string>): Promise<string> {
  const port = await freePort();
  const p = spawnWizard(
    ['api', '--node-id', id, '--port', String(port)],
    { REDIS_URL: testRedisUrl(), WIZARD_PREFIX: prefix, ADMIN_TOKEN: '', ...env },
    id,
  );
  await p.waitForOutput(/api listening/);
  return `http://127.0.0.1:${port}`;
}

beforeAll(async () => {
  store = await new RedisStore({ url: testRedisUrl(), prefix }).connect();
  [nodes.bare, nodes.tokens, nodes.admin] = await Promise.all([
    api('gate-bare', {}),
    api('gate-tokens', { WIZARD_API_TOKENS: `cli:client:${CLIENT},fleet:bot:${BOTS}` }),
    api('gate-admin', { ADMIN_TOKEN: ADMIN }),
  ]);
}, 30_000);
afterAll(async () => {
  await store.close();
  await killAll();
});

/** every admin operation of the document, with a concrete path */
const ADMIN_OPS = Object.entries(OPERATIONS)
  .filter(([key]) => operationNeed(key) === 'admin')
  .map(([key]) => key.split(' ') as [string, string])
  .map(([method, route]) => [method, route.replace(/:\w+/g, 'some-id')] as const);

test('the admin routes are the eighteen docs/http-api.md lists', () => {
  expect(ADMIN_OPS.map(([m, p]) => `${m} ${p}`).sort()).toEqual([
    'DELETE /abacus/sum',
    'DELETE /bots/some-id',
    'DELETE /dlq',
    'DELETE /jobs',
    'DELETE /queues/some-id',
    'DELETE /schedules/some-id',
    'GET /dlq',
    'POST /dlq/some-id/retry',
    'POST /jobs/cancel',
    'POST /jobs/populate',
    'POST /jobs/retry',
    'POST /jobs/some-id/retry',
    'POST /queues',
    'POST /queues/some-id/pause',
    'POST /queues/some-id/resume',
    'POST /schedules',
    'PUT /queues/some-id/groups/some-id/limits',
    'PUT /queues/some-id/limits',
  ]);
});

test('with no admin token configured, every admin route is a 403 admin_token_not_configured, with any token or none, and nothing changes', async () => {
  await store.abacus.add(7);
  const bot = (await http<{ bot_id: string }>('POST', `${nodes.bare}/bots/register`, { name: 'kept' })).body.bot_id;
  const before = {
    sum: String(await store.abacus.sum()),
    bots: (await store.bots.list()).length,
    counts: await store.reads.countByState(),
  };
  const seen: string[] = [];
  for (const [method, path] of ADMIN_OPS) {
    const tries: Record<string, string>[] = [{}, { authorization: `Bearer ${ADMIN}` }, { 'x-admin-token': 'anything' }];
    for (const headers of tries) {
      const target = path.replace('some-id', bot);
      const res = await http<ErrorBody>(method, `${nodes.bare}${target}`, method === 'POST' ? {} : undefined, headers);
      seen.push(`${method} ${path} ${res.status} ${res.body.error?.code}`);
    }
  }
  expect(seen).toEqual(ADMIN_OPS.flatMap(([m, p]) => Array(3).fill(`${m} ${p} 403 admin_token_not_configured`)));
  expect({
    sum: String(await store.abacus.sum()),
    bots: (await store.bots.list()).length,
    counts: await store.reads.countByState(),
  }).toEqual(before);
  const reset = await http<ErrorBody>('DELETE', `${nodes.bare}/abacus/sum`);
  expect(reset.body.error.message).toMatch(/no admin token \(ADMIN_TOKEN\) is configured/);
});

test('with API tokens but none of role admin, a client token asking for an admin route is told no admin token is configured', async () => {
  const res = await http<ErrorBody>('DELETE', `${nodes.tokens}/abacus/sum`, undefined, {
    authorization: `Bearer ${CLIENT}`,
  });
  expect([res.status, res.body.error.code]).toEqual([403, 'admin_token_not_configured']);
  // no token at all is still a 401: the caller is not known
  expect((await http('DELETE', `${nodes.tokens}/abacus/sum`)).status).toBe(401);
});

test('GET /whoami says whether admin routes can be used here, and never the token', async () => {
  const bare = await http<Record<string, unknown>>('GET', `${nodes.bare}/whoami`);
  expect(bare.body).toMatchObject({ node_id: 'gate-bare', admin: 'not configured' });
  const withAdmin = await http<Record<string, unknown>>('GET', `${nodes.admin}/whoami`);
  expect(withAdmin.body).toMatchObject({ node_id: 'gate-admin', admin: 'configured' });
  expect(JSON.stringify(withAdmin.body)).not.toContain(ADMIN);
  const tokens = await http<Record<string, unknown>>('GET', `${nodes.tokens}/whoami`, undefined, {
    authorization: `Bearer ${CLIENT}`,
  });
  expect(tokens.body).toMatchObject({ admin: 'not configured' });
});

test('with the admin token configured, the reset needs it (401 without) and works with it', async () => {
  expect((await http('DELETE', `${nodes.admin}/abacus/sum`)).status).toBe(401);
  expect((await http('DELETE', `${nodes.admin}/abacus/sum`, undefined, { 'x-admin-token': ADMIN })).status).toBe(200);
  expect(String(await store.abacus.sum())).toBe('0');
});

test('registering a bot is not an admin route: open with no API tokens, a bot-role token with them', async () => {
  expect((await http('POST', `${nodes.bare}/bots/register`, { name: 'open' })).status).toBe(201);
  expect(
    (await http('POST', `${nodes.tokens}/bots/register`, { name: 'fleet' }, { authorization: `Bearer ${BOTS}` }))
      .status,
  ).toBe(201);
  expect(
    (await http('POST', `${nodes.tokens}/bots/register`, { name: 'client' }, { authorization: `Bearer ${CLIENT}` }))
      .status,
  ).toBe(403);
});
