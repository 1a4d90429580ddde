/**
 * Issue #7 over real HTTP, on a real Redis: tokens and roles (401 without a known token, 403 with
 * the wrong role), ADMIN_TOKEN as an admin token, bots registering with a bot-role token and
 * acting only on their own jobs, removed bot tokens refused; body limits; CORS; the rate limit
 * per IP behind a trusted proxy and per token.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseTokenFile, parseTokenList, TokenTable } from '../../src/core/tokens';
import { routeNeed } from '../../src/roles/api/routes';
import { BATCH_DEFAULTS } from '../../src/core/batch';
import { startApi, RunningApi } from '../../src/roles/api';
import { dashboardPaths, tokenTable } from '../../src/roles/api/access-gate';
import { JSON_MAX_DEPTH, OPEN_SECURITY } from '../../src/roles/api/security';
import { MemoryStore } from '../../src/store/memory';
import type { Store } from '../../src/store/types';
import { silentLogger } from '../helpers/log';
import { http } from '../helpers/procs';
import { makeStore } from '../helpers/stores';

const T = { admin: 'admin-token-0123456789', client: 'client-token-0123456789', bot: 'bot-role-token-0123456789' };
const LEGACY_ADMIN = 'legacy-admin-token';
const processing = {
  botQueue: 'bots',
  botLeaseMs: 60_000,
  batch: { ...BATCH_DEFAULTS, size: 2, processingDurationMs: 10, failureRate: 0 },
};
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
type ErrorBody = { error: { code: string; message: string } };

let store: Store;
let api: RunningApi;
const url = (p: string) => `${api.url}${p}`;

beforeAll(async () => {
  store = await makeStore('redis', 'access');
  const tokens = tokenTable(
    parseTokenList(`ops:admin:${T.admin},cli:client:${T.client},fleet:bot:${T.bot}`),
    LEGACY_ADMIN,
  );
  api = await startApi(store, {
    nodeId: 'api-sec',
    port: 0,
    log: silentLogger,
    adminToken: LEGACY_ADMIN,
    botWork: processing,
    security: { ...OPEN_SECURITY, tokens, corsOrigins: ['http://localhost:3000'] },
  });
});
afterAll(async () => {
  await api.close(true);
  await store.close();
});

const register = async (name: string) => {
  const res = await http<{ bot_id: string; token: string }>('POST', url('/bots/register'), { name }, bearer(T.bot));
  expect(res.status).toBe(201);
  return res.body;
};

describe('tokens and roles', () => {
  test('without a token every endpoint but /healthz and the dashboard is a 401 JSON error', async () => {
    for (const [method, p] of [
      ['GET', '/whoami'],
      ['GET', '/jobs'],
      ['POST', '/task'],
      ['GET', '/abacus/sum'],
      ['DELETE', '/abacus/sum'],
      ['POST', '/bots/register'],
      ['GET', '/nope'],
    ]) {
      const res = await http<ErrorBody>(method, url(p), method === 'POST' ? {} : undefined);
      expect([p, res.status, res.body.error.code]).toEqual([p, 401, 'unauthorized']);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    }
    expect((await http('GET', url('/healthz'))).status).toBe(200);
    expect((await http('GET', url('/'))).status).not.toBe(401); // the dashboard asks for the token itself
  });

  test('an unknown token is a 401; the wrong role a 403 that names the role needed', async () => {
    expect((await http('GET', url('/whoami'), undefined, bearer('not-a-token-at-all'))).status).toBe(401);
    const populate = await http<ErrorBody>('POST', url('/jobs/populate'), {}, bearer(T.client));
    expect(populate.status).toBe(403);
    expect(populate.body.error.message).toMatch(/needs an admin token.*'cli' has the role client/);
    expect((await http('POST', url('/task'), { a: 1, b: 2 }, bearer(T.bot))).status).toBe(403); // a bot-role token only registers
    expect((await http('POST', url('/bots/register'), {}, bearer(T.client))).status).toBe(403);
    expect((await http('POST', url('/jobs/claim'), {}, bearer(T.client))).status).toBe(403);
    expect((await http('DELETE', url('/dlq/some-job'), undefined, bearer(T.client))).status).toBe(403); // admin-only, whoever adds the route
  });

  test('a client submits and reads; an admin (a configured one or ADMIN_TOKEN, either header) does admin work', async () => {
    const task = await http<{ task_id: string }>('POST', url('/task'), { a: 2, b: 3 }, bearer(T.client));
    expect(task.status).toBe(202);
    expect((await http('GET', url(`/tasks/${task.body.task_id}/status`), undefined, bearer(T.client))).status).toBe(
      200,
    );
    expect((await http('GET', url('/abacus/sum'), undefined, bearer(T.client))).status).toBe(200);
    expect((await http('DELETE', url('/abacus/sum'), undefined, bearer(T.client))).status).toBe(403);
    expect((await http('DELETE', url('/abacus/sum'), undefined, bearer(T.admin))).status).toBe(200);
    expect((await http('DELETE', url('/abacus/sum'), undefined, bearer(LEGACY_ADMIN))).status).toBe(200);
    expect((await http('DELETE', url('/abacus/sum'), undefined, { 'x-admin-token': LEGACY_ADMIN })).status).toBe(200);
    expect((await http('POST', url('/jobs/populate'), { count: 1 }, bearer(T.admin))).status).toBe(201);
  });

  test('a bot registers with a bot-role token, then acts with its own token on its own job only', async () => {
    await http('POST', url('/jobs/populate'), { count: 2 }, bearer(T.admin));
    const [a, b] = [await register('bot-a'), await register('bot-b')];
    const claimed = await http<{ job: { job_id: string } }>('POST', url('/jobs/claim'), {}, bearer(a.token));
    expect(claimed.status).toBe(200);
    const id = claimed.body.job.job_id;
    // b acts on a's job: refused, and the job is untouched
    expect((await http('POST', url(`/jobs/${id}/start`), {}, bearer(b.token))).status).toBe(409);
    expect((await http('POST', url(`/jobs/${id}/complete`), { result: 1 }, bearer(b.token))).status).toBe(409);
    expect((await http<{ state: string }>('GET', url(`/jobs/${id}`), undefined, bearer(a.token))).body.state).toBe(
      'STARTED',
    );
    // a per-bot token does bot work only: no submitting, no registering more bots
    expect((await http('POST', url('/task'), { a: 1, b: 1 }, bearer(a.token))).status).toBe(403);
    expect((await http('POST', url('/bots/register'), {}, bearer(a.token))).status).toBe(403);
    expect((await http('POST', url(`/jobs/${id}/start`), {}, bearer(a.token))).status).toBe(200);
    expect(
      (await http<{ state: string }>('POST', url(`/jobs/${id}/complete`), { result: 1 }, bearer(a.token))).body.state,
    ).toBe('SUCCESS');
  });

  test('a removed bot token is refused: after deregistering, and after an admin deletes the bot', async () => {
    const [a, b] = [await register('gone-a'), await register('gone-b')];
    expect((await http('POST', url('/bots/deregister'), {}, bearer(a.token))).status).toBe(204);
    expect((await http<ErrorBody>('POST', url('/bots/heartbeat'), {}, bearer(a.token))).status).toBe(401);
    expect((await http('DELETE', url(`/bots/${b.bot_id}`), undefined, bearer(T.admin))).status).toBe(204);
    expect((await http('POST', url('/jobs/claim'), {}, bearer(b.token))).status).toBe(401);
    expect((await http('GET', url('/jobs'), undefined, bearer(b.token))).status).toBe(401);
  });
});

describe('bodies', () => {
  test('a body over 64 kB is a 413, one nested deeper than the limit a 400 naming it', async () => {
    const big = await http<ErrorBody>('POST', url('/task'), { a: 1, b: 2, pad: 'x'.repeat(70_000) }, bearer(T.client));
    expect([big.status, big.body.error.code]).toEqual([413, 'payload_too_large']);
    let deep: unknown = 1;
    for (let i = 0; i < JSON_MAX_DEPTH + 1; i++) deep = { d: deep };
    const res = await http<ErrorBody>('POST', url('/task'), deep, bearer(T.client));
    expect(res.status).toBe(400);
    expect(res.body.error.message).toBe(`the JSON body is nested deeper than ${JSON_MAX_DEPTH} levels`);
    // brackets inside strings are not nesting
    expect((await http('POST', url('/task'), { a: 1, b: 2, op: '[[[['.repeat(20) }, bearer(T.client))).status).toBe(
      400,
    ); // (a bad op, not too deep)
    expect(
      (await http<ErrorBody>('POST', url('/task'), { a: 1, b: 2, op: '[[[['.repeat(20) }, bearer(T.client))).body.error
        .message,
    ).not.toMatch(/nested/);
  });

  test('errors never carry a stack trace', async () => {
    const res = await fetch(url('/task'), {
      method: 'POST',
      headers: { ...bearer(T.client), 'content-type': 'application/json' },
      body: '{"a":',
    });
    const text = await res.text();
    expect(res.status).toBe(400);
    expect(text).not.toMatch(/at .*\.(js|ts):\d+|node_modules/);
  });
});

describe('CORS', () => {
  const preflight = (origin: string) =>
    fetch(url('/task'), {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type',
      },
    });

  test('a preflight from an allowed origin gets the CORS headers, without a token', async () => {
    const res = await preflight('http://localhost:3000');
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('http://localhost:3000');
    expect(res.headers.get('access-control-allow-headers')).toMatch(/authorization/);
    expect(res.headers.get('access-control-allow-methods')).toMatch(/POST/);
  });

  test('OPTIONS without an Origin needs no token: it answers the methods of the path (Allow), as the public document does', async () => {
    const res = await fetch(url('/bots/register'), { method: 'OPTIONS' });
    expect([res.status, res.headers.get('allow')]).toEqual([204, 'OPTIONS, POST']);
    // its own method is still behind the gate; one it lacks is a 405 whoever asks
    expect((await http('POST', url('/bots/register'), { name: 'x' })).status).toBe(401);
    expect((await http('DELETE', url('/bots/register'))).status).toBe(405);
  });

  test('a preflight from a refused origin is a 403 JSON error with no CORS headers', async () => {
    const res = await preflight('https://evil.example');
    expect(res.status).toBe(403);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    expect(((await res.json()) as ErrorBody).error.code).toBe('forbidden');
    // a plain request from that origin is answered without CORS headers: its browser hides the answer
    const get = await http('GET', url('/whoami'), undefined, { origin: 'https://evil.example', ...bearer(T.client) });
    expect(get.headers.get('access-control-allow-origin')).toBeNull();
  });

  test('security headers: the dashboard CSP, nosniff, no HSTS over plain HTTP', async () => {
    const res = await http('GET', url('/healthz'));
    expect(res.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('strict-transport-security')).toBeNull();
    expect(res.headers.get('x-powered-by')).toBeNull();
  });
});

describe('the rate limit (memory store, one node)', () => {
  let limited: RunningApi;
  const mem = new MemoryStore();
  beforeAll(async () => {
    limited = await startApi(mem, {
      nodeId: 'api-rl',
      port: 0,
      log: silentLogger,
      security: {
        ...OPEN_SECURITY,
        tokens: new TokenTable(parseTokenList(`c1:client:${T.client}`)),
        rateLimit: { max: 3, windowMs: 60_000 },
        trustProxy: 'loopback',
      },
    });
  });
  afterAll(async () => {
    await limited.close(true);
    await mem.close();
  });
  const get = (headers: Record<string, string>) =>
    http<ErrorBody>('GET', `${limited.url}/whoami`, undefined, { ...bearer(T.client), ...headers });

  test('per client IP from a trusted proxy: each X-Forwarded-For address has its own budget, then 429 with Retry-After', async () => {
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await get({ 'x-forwarded-for': '203.0.113.7' })).status);
    const refused = await get({ 'x-forwarded-for': '203.0.113.7' });
    expect([...statuses, refused.status]).toEqual([200, 200, 200, 429]);
    expect(refused.body.error.code).toBe('rate_limited');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(59);
    expect((await http('GET', `${limited.url}/healthz`)).status).toBe(200); // exempt
  });

  test('per token: one token from many addresses shares one budget', async () => {
    // the token spent 3 above (from one address): any address is refused with it now
    expect((await get({ 'x-forwarded-for': '198.51.100.1' })).status).toBe(429);
    expect((await http('GET', `${limited.url}/whoami`, undefined, { 'x-forwarded-for': '198.51.100.2' })).status).toBe(
      401,
    ); // no token: its IP's budget, then the gate
  });
});

test('without --trust-proxy, X-Forwarded-For is not believed: every address a client claims shares its budget', async () => {
  const mem = new MemoryStore();
  const direct = await startApi(mem, {
    nodeId: 'api-direct',
    port: 0,
    log: silentLogger,
    security: { ...OPEN_SECURITY, rateLimit: { max: 2, windowMs: 60_000 } },
  });
  try {
    const statuses = [];
    for (const ip of ['192.0.2.1', '192.0.2.2', '192.0.2.3'])
      statuses.push((await http('GET', `${direct.url}/whoami`, undefined, { 'x-forwarded-for': ip })).status);
    expect(statuses).toEqual([200, 200, 429]);
  } finally {
    await direct.close(true);
    await mem.close();
  }
});

describe('units', () => {
  test('tokens: the list and the file, each bad entry a usage error naming where', () => {
    expect(parseTokenList(`a:admin:${T.admin}, b:client:${T.client}:with:colons`)).toEqual([
      { name: 'a', role: 'admin', token: T.admin },
      { name: 'b', role: 'client', token: `${T.client}:with:colons` },
    ]);
    expect(parseTokenFile(`# name role token\nops admin ${T.admin}\n\nfleet bot ${T.bot}\n`)).toHaveLength(2);
    expect(() => parseTokenList('a:root:0123456789abcdef')).toThrow(
      /--api-tokens entry 1: the role of 'a' must be one of admin, bot, client/,
    );
    expect(() => parseTokenList('a:admin:short')).toThrow(/at least 16 characters/);
    expect(() => parseTokenFile(`ops admin ${T.admin}\nbroken line`)).toThrow(/--tokens-file line 2/);
    expect(() => new TokenTable(parseTokenList(`a:admin:${T.admin},b:client:${T.admin}`))).toThrow(/used twice/);
  });

  test('route needs: reads any token, submits a client, bot work a bot, the rest an admin', () => {
    expect(routeNeed('GET', '/healthz')).toBe('public');
    expect(routeNeed('GET', '/vendor/alpine-csp.min.js')).toBe('public'); // the dashboard loads before it can ask for a token
    expect(routeNeed('GET', '/vendor/../jobs')).toBe('read');
    expect(routeNeed('GET', '/jobs/abc')).toBe('read');
    expect(routeNeed('POST', '/api/count-primes')).toBe('submit');
    expect(routeNeed('POST', '/jobs/abc/complete')).toBe('bot');
    expect(routeNeed('POST', '/bots/register')).toBe('register');
    expect(routeNeed('DELETE', '/bots/x')).toBe('admin');
    expect(routeNeed('POST', '/dlq/x/retry')).toBe('admin');
    expect(routeNeed('GET', '/dlq')).toBe('admin');
    expect(routeNeed('PUT', '/something/new')).toBe('admin');
  });

  test("the dashboard's files are the folder's files and /", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dash-'));
    fs.mkdirSync(path.join(dir, 'js'));
    fs.writeFileSync(path.join(dir, 'index.html'), '');
    fs.writeFileSync(path.join(dir, 'js', 'app.js'), '');
    expect([...dashboardPaths(dir)].sort()).toEqual(['/', '/index.html', '/js', '/js/', '/js/app.js']);
    expect([...dashboardPaths(path.join(dir, 'missing'))]).toEqual(['/']);
    fs.rmSync(dir, { recursive: true });
  });
});
