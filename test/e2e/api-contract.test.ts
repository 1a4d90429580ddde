/**
 * The OpenAPI document is a contract the server keeps (issue 14, item 6): real answers of real
 * `wizard api` processes, checked against the document with ajv (JSON Schema 2020-12, formats):
 * every operation's 2xx answers, its 4xx answers (bad bodies, unknown ids, a literal path's 405,
 * conflicts, oversized and non-JSON bodies, the sum's bound), 401/403 with API tokens on, 429
 * with the rate limit on, and 503 while the test's own Redis is stopped. Each answer's status
 * must be listed for its operation, its content type listed, its body valid, and the headers the
 * document requires (Retry-After, Allow, Location) present.
 */
import { INT64_MAX } from '../../src/core/abacus';
import { RedisStore } from '../../src/store/redis';
import { call, DOC, operationOf, Rand, valid, paramText } from '../helpers/contract';
import { testPrefix } from '../helpers/env';
import { ownRedisServer } from '../helpers/own-redis';
import { spawnWizard, waitUntil } from '../helpers/procs';
import { seededRandom } from '../helpers/prng';
import { freePort } from '../helpers/redis-server';

const redis = ownRedisServer();
const prefix = testPrefix('contract');
const ADMIN = 'contract-admin-token-0123';
const CLIENT = 'contract-client-token-0123';
const admin = { authorization: `Bearer ${ADMIN}` };
const json = (body: unknown, headers: Record<string, string> = {}): RequestInit => ({
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
});

/** every operation of the document, as "METHOD /express/:path" */
const KEYS = Object.entries(DOC.paths).flatMap(([path, ops]) =>
  Object.keys(ops).map((m) => `${m.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`),
);

let A: string; // ADMIN_TOKEN set, no limit
let T: string; // API tokens on (client and bot roles), no admin token
let L: string; // a rate limit of 3 requests
let store: RedisStore;
/** what was wrong with any answer, over the whole file */
const problems: string[] = [];
/** the statuses seen per operation */
const seen = new Map<string, Set<number>>();

async function check(key: string, base: string, path: string, init: RequestInit = {}) {
  const a = await call(key, base, path, init);
  problems.push(...a.problems);
  if (!seen.has(key)) seen.set(key, new Set());
  seen.get(key)!.add(a.status);
  return a;
}

async function api(id: string, env: Record<string, string>): Promise<string> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const p = spawnWizard(
    ['api', '--node-id', id, '--port', String(port)],
    {
      REDIS_URL: redis().url,
      WIZARD_PREFIX: prefix,
      ADMIN_TOKEN: '',
      PROCESSING_DURATION_MS: '10',
      FAILURE_RATE: '0',
      BATCH_SIZE: '2',
      ...env,
    },
    id,
  );
  await waitUntil(
    async () =>
      p.proc.exitCode === null &&
      (await fetch(`${base}/healthz`).then(
        (r) => r.ok,
        () => false,
      )),
    15_000,
    `${id}: ${p.output()}`,
  );
  return base;
}

/** a request for the operation drawn from its schemas: ids that name nothing, a valid query and body */
function sample(key: string, r: Rand): { path: string; init: RequestInit } {
  const [method, route] = key.split(' ');
  const op = operationOf(key);
  const params = op.parameters ?? [];
  const path = route.replace(/:(\w+)/g, (_m, name: string) =>
    encodeURIComponent(paramText(r, params.find((p) => p.name === name)!.schema)),
  );
  const query = params
    .filter((p) => p.in === 'query' && p.required)
    .map((p) => `${p.name}=${encodeURIComponent(paramText(r, p.schema))}`)
    .join('&');
  const schema = op.requestBody?.content['application/json'].schema;
  const body = method !== 'GET' && schema ? (valid(r, schema) as Record<string, unknown>) : undefined;
  if (body && typeof body === 'object' && body.delay_ms !== undefined) delete body.run_at; // the one rule across fields: one of them
  const init: RequestInit = body !== undefined ? json(body) : {};
  return { path: query ? `${path}?${query}` : path, init };
}

beforeAll(async () => {
  [A, T, L] = await Promise.all([
    api('contract-a', { ADMIN_TOKEN: ADMIN }),
    api('contract-t', { WIZARD_API_TOKENS: `cli:client:${CLIENT},fleet:bot:contract-bot-role-token-0123` }),
    api('contract-l', { RATE_LIMIT_MAX: '3', RATE_LIMIT_WINDOW_MS: '60000' }),
  ]);
  spawnWizard(
    ['worker', '--node-id', 'contract-worker', '--concurrency', '4', '--threads', '2'],
    { REDIS_URL: redis().url, WIZARD_PREFIX: prefix },
    'worker',
  );
  store = await new RedisStore({ url: redis().url, prefix }).connect();
}, 40_000);
afterAll(async () => {
  await store?.close();
});

test('every operation answers a 2xx the document describes', async () => {
  for (const key of [
    'GET /healthz',
    'GET /health',
    'GET /metrics',
    'GET /openapi.json',
    'GET /docs',
    'GET /docs/init.js',
    'GET /whoami',
    'GET /valkey_test',
    'GET /bots',
    'GET /metrics/summary',
    'GET /datalake/stats',
    'GET /abacus/sum',
    'GET /workers',
    'GET /queues',
  ]) {
    await check(key, A, key.split(' ')[1]);
  }
  await check('GET /add', A, '/add?a=2&b=3.5&op=mul');
  await check('GET /metrics/history', A, '/metrics/history?window=5m');
  await check('GET /', A, '/', { headers: { accept: 'text/html' } });
  await check('GET /', A, '/');
  await check('GET /vendor/:file', A, '/vendor/alpine-csp.min.js');
  await check('GET /vendor/:file', A, '/vendor/pico.min.css');

  const task = (await check('POST /task', A, '/task', json({ a: 2, b: 3 }))).json as { task_id: string };
  await waitUntil(
    async () =>
      ((await check('GET /tasks/:id/status', A, `/tasks/${task.task_id}/status`)).json as { status: string }).status ===
      'SUCCESS',
    15_000,
    'the task',
  );
  const count = (await check('POST /api/count-primes', A, '/api/count-primes', json({ n: 100_000, chunks: 4 })))
    .json as { job_id: string };
  await waitUntil(
    async () =>
      ((await check('GET /api/jobs/:id', A, `/api/jobs/${count.job_id}`)).json as { state: string }).state ===
      'SUCCESS',
    15_000,
    'the count',
  );
  await check('GET /api/jobs/:id/events', A, `/api/jobs/${count.job_id}/events`); // final: the stream sends it and closes
  await check('GET /jobs/:id/chunks', A, `/jobs/${count.job_id}/chunks`);
  await check('GET /jobs/:id', A, `/jobs/${count.job_id}`);
  await check('GET /jobs/:id/log', A, `/jobs/${count.job_id}/log`);
  await check('GET /jobs', A, '/jobs?status=success&limit=5');
  await check('GET /datalake/export/:date', A, `/datalake/export/${new Date().toISOString().slice(0, 10)}`);

  // job control: a delayed job of priority 2 made once under a key, cancelled; the queues, one paused and resumed
  const options = { type: 'task', params: { a: 1, b: 2 }, delay_ms: 60_000, priority: 2 };
  const made = (await check('POST /jobs', A, '/jobs', json(options, { 'idempotency-key': 'contract-1' }))).json as {
    job_id: string;
    status: string;
  };
  expect(made.status).toBe('PENDING');
  const again = await check('POST /jobs', A, '/jobs', json(options, { 'idempotency-key': 'contract-1' }));
  expect([again.status, (again.json as { job_id: string }).job_id]).toEqual([200, made.job_id]);
  expect(
    (await check('POST /task', A, '/task', json({ a: 1, b: 2, idempotency_key: 'contract-2', priority: 1 }))).status,
  ).toBe(202);
  expect((await check('POST /task', A, '/task', json({ a: 1, b: 2, idempotency_key: 'contract-2' }))).status).toBe(200);
  expect(
    (
      await check(
        'POST /api/count-primes',
        A,
        '/api/count-primes',
        json({ n: 20_000, chunks: 1, idempotency_key: 'contract-3' }),
      )
    ).status,
  ).toBe(202);
  expect(
    (
      await check(
        'POST /api/count-primes',
        A,
        '/api/count-primes',
        json({ n: 20_000, chunks: 1, idempotency_key: 'contract-3' }),
      )
    ).status,
  ).toBe(200);
  const bulk = json(
    {
      jobs: [
        { type: 'task', params: { a: 1, b: 2 } },
        { ...options, priority: 1 },
      ],
    },
    { 'idempotency-key': 'contract-bulk' },
  );
  const bulkMade = (await check('POST /jobs/bulk', A, '/jobs/bulk', bulk)).json as { jobs: { existing: boolean }[] };
  expect(bulkMade.jobs.map((j) => j.existing)).toEqual([false, false]);
  expect(
    (
      (await check('POST /jobs/:id/cancel', A, `/jobs/${made.job_id}/cancel`, { method: 'POST' })).json as {
        state: string;
      }
    ).state,
  ).toBe('CANCELLED');
  const flowMade = (
    await check(
      'POST /flows',
      A,
      '/flows',
      json({
        name: 'contract',
        nodes: [
          // a bot's type: no bot claims it here, so the flow is still running when it is cancelled
          { id: 'a', type: 'sim', params: { duration_ms: 60_000, failure_rate: 0 } },
          { id: 'b', type: 'task', params: { a: 1, b: 2 }, deps: ['a'] },
        ],
      }),
    )
  ).json as { flow_id: string };
  await check('GET /flows', A, '/flows');
  await check('GET /flows/:id', A, `/flows/${flowMade.flow_id}`);
  await check('POST /flows/:id/cancel', A, `/flows/${flowMade.flow_id}/cancel`, { method: 'POST' });
  await check('GET /flows/:id/events', A, `/flows/${flowMade.flow_id}/events`); // ended: the stream sends it and closes
  await check('GET /queues', A, '/queues');
  expect(
    (
      (await check('POST /queues/:name/pause', A, '/queues/contract-q/pause', { method: 'POST', headers: admin }))
        .json as { paused: boolean }
    ).paused,
  ).toBe(true);
  expect(
    (
      (await check('POST /queues/:name/resume', A, '/queues/contract-q/resume', { method: 'POST', headers: admin }))
        .json as { paused: boolean }
    ).paused,
  ).toBe(false);
  // a queue's limits and a group's (docs/flow-control.md): set (admin), then read
  const limits = { concurrency: 4, group_concurrency: 2 };
  expect((await check('PUT /queues/:name/limits', A, '/queues/contract-q/limits', json(limits, admin))).status).toBe(
    200,
  );
  expect((await check('GET /queues/:name/limits', A, '/queues/contract-q/limits')).json).toMatchObject(limits);
  const one = '/queues/contract-q/groups/acme/limits';
  expect((await check('PUT /queues/:name/groups/:group/limits', A, one, json({ concurrency: 1 }, admin))).status).toBe(
    200,
  );
  expect((await check('GET /queues/:name/groups/:group/limits', A, one)).json).toMatchObject({ concurrency: 1 });
  expect((await check('POST /queues', A, '/queues', json({ name: 'contract-declared' }, admin))).status).toBe(201);
  expect(
    (await check('DELETE /queues/:name', A, '/queues/contract-declared', { method: 'DELETE', headers: admin })).status,
  ).toBe(204);

  await check('POST /abacus/number', A, '/abacus/number', json({ number: 5 }));
  await check('DELETE /abacus/sum', A, '/abacus/sum', { headers: admin });

  // the bots' whole round: a batch, a bot that completes one job, fails one, and lets one die
  await check('POST /jobs/populate', A, '/jobs/populate', json({ count: 2 }, admin));
  const bot = (await check('POST /bots/register', A, '/bots/register', json({ name: 'contract-bot' }))).json as {
    bot_id: string;
    token: string;
  };
  const as = { authorization: `Bearer ${bot.token}` };
  await check('POST /bots/heartbeat', A, '/bots/heartbeat', { method: 'POST', headers: as });
  const claim = async () =>
    ((await check('POST /jobs/claim', A, '/jobs/claim', json({}, as))).json as { job: { job_id: string } } | null)?.job
      .job_id;
  const first = (await claim())!;
  await check('POST /jobs/:id/start', A, `/jobs/${first}/start`, { method: 'POST', headers: as });
  await check('POST /jobs/:id/complete', A, `/jobs/${first}/complete`, json({ result: { ok: true } }, as));
  const second = (await claim())!;
  await check('POST /jobs/:id/fail', A, `/jobs/${second}/fail`, json({ error: 'no luck', permanent: true }, as));
  await check('POST /jobs/:id/retry', A, `/jobs/${second}/retry`, { method: 'POST', headers: admin }); // FAILURE: back on its queue
  expect(await claim()).toBe(second);
  await check('POST /jobs/:id/fail', A, `/jobs/${second}/fail`, json({ error: 'no luck again', permanent: true }, as));
  const [mortal] = await store.jobs.enqueue([
    { type: 'sim', queue: 'bots', params: { duration_ms: 10, failure_rate: 0 }, maxAttempts: 1 },
  ]);
  expect(await claim()).toBe(mortal.id);
  await check('POST /jobs/:id/fail', A, `/jobs/${mortal.id}/fail`, json({ error: 'out of attempts' }, as));
  expect(await claim()).toBeUndefined(); // 204: nothing left
  await check('GET /dlq', A, '/dlq?limit=10', { headers: admin });
  await check('POST /dlq/:id/retry', A, `/dlq/${mortal.id}/retry`, { method: 'POST', headers: admin });
  await check('DELETE /dlq', A, '/dlq', { headers: admin });
  await check('POST /jobs/retry', A, '/jobs/retry', json({ queue: 'bots', type: 'sim' }, admin));
  await check('POST /jobs/cancel', A, '/jobs/cancel', json({ queue: 'bots', status: 'pending' }, admin));
  await check('GET /jobs', A, '/jobs?type=sim&queue=bots&status=cancelled');
  await check('DELETE /jobs', A, '/jobs?type=sim&queue=bots&status=cancelled', { headers: admin });
  await check('POST /bots/deregister', A, '/bots/deregister', { method: 'POST', headers: as });
  const other = (await check('POST /bots/register', A, '/bots/register', json({}))).json as { bot_id: string };
  await check('DELETE /bots/:id', A, `/bots/${other.bot_id}`, { headers: admin });

  await check(
    'POST /schedules',
    A,
    '/schedules',
    json({ name: 'contract', type: 'sim', cron: '0 3 * * *', tz: 'Asia/Tokyo' }, admin),
  );
  await check('GET /schedules', A, '/schedules');
  await check('DELETE /schedules/:name', A, '/schedules/contract', { headers: admin });

  expect(problems).toEqual([]);
  const without2xx = KEYS.filter((k) => ![...(seen.get(k) ?? [])].some((s) => s >= 200 && s < 300));
  expect(without2xx).toEqual([]);
}, 40_000);

test("4xx answers are the document's: bad bodies and queries, unknown ids, a literal path's 405, conflicts, big and non-JSON bodies, the bound", async () => {
  const before = problems.length;
  const bad = [
    ['POST /task', '/task', json({ a: 'x', b: 1 })],
    ['POST /api/count-primes', '/api/count-primes', json({ n: 5, chunks: 1 })],
    ['POST /abacus/number', '/abacus/number', json({ number: 1.5 })],
    ['POST /jobs/claim', '/jobs/claim', { headers: { 'content-type': 'application/json' }, body: '{"queue":' }],
    ['POST /jobs/:id/complete', '/jobs/x/complete', { headers: { 'content-type': 'application/json' }, body: '[' }],
    ['POST /bots/register', '/bots/register', json({ name: '' })],
    ['POST /jobs/populate', '/jobs/populate', json({ type: 'primes' }, admin)],
    ['GET /add', '/add?a=1e308&b=1e308&op=mul', {}],
    ['GET /jobs', '/jobs?limit=0', {}],
    ['GET /dlq', '/dlq?offset=-1', { headers: admin }],
    ['GET /datalake/export/:date', '/datalake/export/2026-02-30', {}],
    ['POST /jobs', '/jobs', json({ type: 'task', params: { a: 1 } })],
    ['POST /jobs', '/jobs', json({ type: 'task', params: { a: 1, b: 2 }, priority: 10 })],
    [
      'POST /jobs',
      '/jobs',
      json({ type: 'task', params: { a: 1, b: 2 }, delay_ms: 5, run_at: '2030-01-01T00:00:00Z' }),
    ],
    ['POST /queues/:name/pause', '/queues/bad%20name/pause', { headers: admin }],
    ['POST /jobs/retry', '/jobs/retry', json({ status: 'PENDING' }, admin)],
    ['POST /jobs/cancel', '/jobs/cancel', json({ queue: 'bad name' }, admin)],
    ['DELETE /jobs', '/jobs?status=pending', { headers: admin }],
    ['GET /jobs', '/jobs?type=bad%20type', {}],
  ] as const;
  for (const [key, path, init] of bad)
    expect([key, (await check(key, A, path, { method: key.split(' ')[0], ...init })).status]).toEqual([key, 400]);

  for (const key of KEYS.filter((k) => k.includes('/:id'))) {
    const res = await check(key, A, key.split(' ')[1].replace(':id', 'no-such-id'), {
      headers: admin,
      method: key.split(' ')[0],
    });
    // a bot route asks for the bot first; retry is an admin route (the admin token is sent), cancel a client's
    const botRoute =
      key.includes('/jobs/:id/') &&
      key.startsWith('POST') &&
      key !== 'POST /jobs/:id/retry' &&
      !key.endsWith('/cancel');
    expect([key, res.status]).toEqual([key, botRoute ? 401 : 404]);
  }
  const shadowed = await check('GET /jobs/:id', A, '/jobs/claim');
  expect([shadowed.status, shadowed.headers.get('allow')]).toEqual([405, 'OPTIONS, POST']);
  expect((await check('DELETE /bots/:id', A, '/bots/register', { headers: admin })).status).toBe(405);

  for (const key of [
    'POST /jobs/populate',
    'DELETE /abacus/sum',
    'GET /dlq',
    'DELETE /dlq',
    'DELETE /bots/:id',
    'POST /dlq/:id/retry',
    'POST /jobs/retry',
    'POST /jobs/cancel',
    'DELETE /jobs',
  ]) {
    expect([
      key,
      (await check(key, A, key.split(' ')[1].replace(':id', 'x'), { method: key.split(' ')[0] })).status,
    ]).toEqual([key, 401]);
  }
  await store.jobs.enqueue([
    { type: 'sim', queue: 'bots', params: { duration_ms: 10, failure_rate: 0 } },
    { type: 'sim', queue: 'bots', params: { duration_ms: 10, failure_rate: 0 } },
  ]);
  const bot = (await check('POST /bots/register', A, '/bots/register', json({}))).json as { token: string };
  const as = { authorization: `Bearer ${bot.token}` };
  const held = ((await check('POST /jobs/claim', A, '/jobs/claim', json({}, as))).json as { job: { job_id: string } })
    .job.job_id;
  expect((await check('POST /jobs/claim', A, '/jobs/claim', json({}, as))).status).toBe(409);
  expect((await check('POST /jobs/claim', A, '/jobs/claim', json({ queue: 'default' }, as))).status).toBe(403);
  expect((await check('POST /dlq/:id/retry', A, `/dlq/${held}/retry`, { method: 'POST', headers: admin })).status).toBe(
    409,
  );
  const stranger = (await check('POST /bots/register', A, '/bots/register', json({}))).json as { token: string };
  expect(
    (
      await check('POST /jobs/:id/start', A, `/jobs/${held}/start`, {
        method: 'POST',
        headers: { authorization: `Bearer ${stranger.token}` },
      })
    ).status,
  ).toBe(409);

  const done = (
    await check('POST /jobs', A, '/jobs', json({ type: 'task', params: { a: 1, b: 2 }, idempotency_key: 'contract-4' }))
  ).json as { job_id: string };
  expect(
    (
      await check(
        'POST /jobs',
        A,
        '/jobs',
        json({ type: 'task', params: { a: 9, b: 2 }, idempotency_key: 'contract-4' }),
      )
    ).status,
  ).toBe(409);
  await waitUntil(async () => (await store.reads.job(done.job_id))?.state === 'SUCCESS', 15_000, 'the job');
  expect((await check('POST /jobs/:id/cancel', A, `/jobs/${done.job_id}/cancel`, { method: 'POST' })).status).toBe(409);

  expect((await check('POST /task', A, '/task', json({ a: 1, b: 2, pad: 'x'.repeat(70_000) }))).status).toBe(413);
  expect(
    (await check('POST /task', A, '/task', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'a=1' }))
      .status,
  ).toBe(415);
  await store.abacus.reset();
  await store.abacus.add(INT64_MAX);
  expect((await check('POST /abacus/number', A, '/abacus/number', json({ number: 1 }))).status).toBe(422);
  expect(problems.slice(before)).toEqual([]);
}, 40_000);

test('with API tokens on: every operation without a token, and admin and bot operations with a client token, answer as documented (401, 403)', async () => {
  const before = problems.length;
  const r = seededRandom(7);
  for (const key of KEYS) {
    const { path, init } = sample(key, r);
    const res = await check(key, T, path, { method: key.split(' ')[0], ...init });
    if (operationOf(key).security) expect([key, res.status]).toEqual([key, 401]);
  }
  for (const key of ['POST /jobs/populate', 'DELETE /abacus/sum', 'POST /jobs/claim', 'POST /bots/heartbeat']) {
    const { path, init } = sample(key, r);
    const res = await check(key, T, path, {
      method: key.split(' ')[0],
      ...init,
      headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${CLIENT}` },
    });
    expect([key, res.status]).toEqual([key, 403]);
  }
  expect(problems.slice(before)).toEqual([]);
});

test('with the rate limit on, every operation but /healthz answers 429 with Retry-After once it is spent', async () => {
  const before = problems.length;
  for (let i = 0; i < 3; i++) await check('GET /whoami', L, '/whoami');
  const r = seededRandom(8);
  for (const key of KEYS) {
    const { path, init } = sample(key, r);
    const res = await check(key, L, path, { method: key.split(' ')[0], ...init });
    expect([key, res.status]).toEqual([key, key === 'GET /healthz' ? 200 : 429]);
  }
  expect(problems.slice(before)).toEqual([]);
});

test('with Redis stopped, every operation answers as documented: 503 with Retry-After (GET /health with its own body and details), or what needs no store', async () => {
  const before = problems.length;
  await redis().stop();
  const r = seededRandom(9);
  const statuses: Record<string, number> = {};
  for (const key of KEYS) {
    const { path, init } = sample(key, r);
    statuses[key] = (
      await check(key, A, path, {
        method: key.split(' ')[0],
        ...init,
        headers: { ...(init.headers as Record<string, string>), ...admin },
      })
    ).status;
  }
  expect(statuses['GET /health']).toBe(503);
  expect(statuses['POST /task']).toBe(503);
  expect(statuses['GET /whoami']).toBe(200);
  expect(Object.values(statuses).filter((s) => s === 503).length).toBeGreaterThanOrEqual(25);
  // with tokens on, an unknown token is looked up in the store: that too is a documented 503
  const gate = await check('GET /whoami', T, '/whoami', {
    headers: { authorization: 'Bearer not-a-known-token-at-all' },
  });
  expect(gate.status).toBe(503);
  expect(problems.slice(before)).toEqual([]);
});
