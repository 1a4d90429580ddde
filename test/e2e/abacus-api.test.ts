/**
 * The abacus API and CLI as people use them, on one `wizard api` process with ADMIN_TOKEN set:
 * bad bodies are 400s naming the field, an add past the 64-bit bound is a 422, resetting needs
 * the token, and none of these moves the sum. `wizard abacus` takes negative numbers as they are.
 */
import { spawnSync } from 'node:child_process';
import { INT64_MAX, INT64_MIN } from '../../src/core/abacus';
import { RedisStore } from '../../src/store/redis';
import { freePort } from '../helpers/redis-server';
import { testPrefix, testRedisUrl } from '../helpers/env';
import { floodKey } from '../helpers/flood';
import { http, killAll, spawnWizard, WIZARD_BIN } from '../helpers/procs';

const TOKEN = 'abacus-admin-token';
const prefix = testPrefix('abacus-api');
let api: string;
let store: RedisStore;

interface ErrorReply {
  error: { code: string; message: string; details: { field: string; message: string }[] };
}

beforeAll(async () => {
  const port = await freePort();
  const proc = spawnWizard(['api', '--node-id', 'api-1', '--port', String(port)], {
    REDIS_URL: testRedisUrl(),
    WIZARD_PREFIX: prefix,
    ADMIN_TOKEN: TOKEN,
  });
  await proc.waitForOutput(/api listening/);
  api = `http://127.0.0.1:${port}`;
  // the same sum, reached directly: to put it near a bound without 1,000 requests
  store = await new RedisStore({ url: testRedisUrl(), prefix }).connect();
});
afterAll(async () => {
  await store.close();
  await killAll();
});
beforeEach(async () => {
  await store.abacus.reset();
  await store.abacus.add(100);
});

async function raw(method: string, path: string, body: string | undefined, headers: Record<string, string> = {}) {
  const res = await fetch(`${api}${path}`, { method, headers, body });
  return { status: res.status, body: (await res.json()) as ErrorReply & Record<string, unknown> };
}
const sumNow = async () => (await http<{ sum: number | string }>('GET', `${api}/abacus/sum`)).body.sum;

test('an add answers the new sum, what was added, when and where', async () => {
  const res = await http<Record<string, unknown>>('POST', `${api}/abacus/number`, { number: -142 });
  expect(res.status).toBe(200);
  expect(res.body).toEqual({
    new_sum: -42,
    added: -142,
    timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    node_id: 'api-1',
    conflicts: 0,
  });
  expect(await http('GET', `${api}/abacus/sum`)).toMatchObject({
    status: 200,
    body: { sum: -42, node_id: 'api-1', timestamp: expect.any(String) },
  });
});

const JSON_TYPE = { 'content-type': 'application/json' };
test.each([
  ['a float', '{"number": 1.5}', JSON_TYPE, 'number must be an integer'],
  ['a string', '{"number": "5"}', JSON_TYPE, 'number must be an integer'],
  ['a NaN-ish string', '{"number": "NaN"}', JSON_TYPE, 'number must be an integer'],
  ['Infinity as a string', '{"number": "Infinity"}', JSON_TYPE, 'number must be an integer'],
  ['null', '{"number": null}', JSON_TYPE, 'number must be an integer'],
  [
    'a number past 2^53-1',
    '{"number": 9007199254740993}',
    JSON_TYPE,
    'number must be an integer from -9007199254740991 to 9007199254740991',
  ],
  ['a missing field', '{}', JSON_TYPE, 'number must be an integer'],
  ['a nested number', '{"number": {"value": 5}}', JSON_TYPE, 'number must be an integer'],
  ['an array', '{"number": [5]}', JSON_TYPE, 'number must be an integer'],
  ['an extra field', '{"number": 5, "extra": 1}', JSON_TYPE, 'unknown field: extra'],
  ['a body that is not an object', '[5]', JSON_TYPE, 'body must be a JSON object {number}'],
  ['a bare number', '5', JSON_TYPE, 'body must be a JSON object {number}'],
  ['no body at all', undefined, {}, 'body must be a JSON object {number}'],
  ['invalid JSON', '{"number": NaN}', JSON_TYPE, 'body must be valid JSON'],
])('%s → 400 naming the field, the sum unchanged', async (_what, body, headers, message) => {
  const res = await raw('POST', '/abacus/number', body, headers);
  expect(res.status).toBe(400);
  expect(res.body.error.code).toBe('validation_failed');
  expect(res.body.error.message).toContain(message);
  expect(res.body.error.details.length).toBeGreaterThan(0);
  expect(await sumNow()).toBe(100);
});

test('a wrong content type → 415 naming the type, the sum unchanged', async () => {
  const res = await raw('POST', '/abacus/number', '{"number": 5}', { 'content-type': 'text/plain' });
  expect(res.status).toBe(415);
  expect(res.body.error.code).toBe('unsupported_media_type');
  expect(res.body.error.message).toContain('text/plain');
  expect(await sumNow()).toBe(100);
});

test('an add past 2^63-1 → 422 naming the bound, the sum unchanged; exactly to the bound is fine', async () => {
  await store.abacus.add(INT64_MAX - 100n - 10n);
  const over = await http<ErrorReply>('POST', `${api}/abacus/number`, { number: 11 });
  expect(over.status).toBe(422);
  expect(over.body.error).toMatchObject({
    code: 'unprocessable',
    message: expect.stringContaining('9223372036854775807'),
  });
  expect(await sumNow()).toBe('9223372036854775797'); // beyond 2^53: an exact decimal string
  const to = await http<{ new_sum: string }>('POST', `${api}/abacus/number`, { number: 10 });
  expect(to).toMatchObject({ status: 200, body: { new_sum: '9223372036854775807', added: 10 } });
  const health = await http<{ current_sum: string; abacus: { out_of_range: number } }>('GET', `${api}/health`);
  expect(health.body.current_sum).toBe('9223372036854775807');
  expect(health.body.abacus.out_of_range).toBe(1);
});

test('an add below -2^63 → 422 naming the bound, the sum unchanged', async () => {
  await store.abacus.add(-100);
  await store.abacus.add(INT64_MIN + 5n);
  const under = await http<ErrorReply>('POST', `${api}/abacus/number`, { number: -6 });
  expect(under.status).toBe(422);
  expect(under.body.error.message).toContain('-9223372036854775808');
  expect(await sumNow()).toBe((INT64_MIN + 5n).toString());
});

test.each([
  ['no token', {}],
  ['a wrong bearer token', { authorization: 'Bearer nope' }],
  ['a wrong X-Admin-Token', { 'x-admin-token': `${TOKEN}x` }],
  ['the token in the wrong scheme', { authorization: `Basic ${TOKEN}` }],
])('DELETE /abacus/sum with %s → 401, the sum unchanged', async (_what, headers) => {
  const res = await raw('DELETE', '/abacus/sum', undefined, headers);
  expect(res.status).toBe(401);
  expect(res.body.error.code).toBe('unauthorized');
  expect(await sumNow()).toBe(100);
});

test.each([
  ['Authorization: Bearer', { authorization: `Bearer ${TOKEN}` }],
  ['X-Admin-Token', { 'x-admin-token': TOKEN }],
])('DELETE /abacus/sum with the token in %s resets the sum to 0', async (_what, headers) => {
  const res = await raw('DELETE', '/abacus/sum', undefined, headers);
  expect(res).toMatchObject({
    status: 200,
    body: { message: 'Sum successfully reset to 0', node_id: 'api-1', timestamp: expect.any(String) },
  });
  expect(await sumNow()).toBe(0);
});

test('/health has the current sum and the Redis stats', async () => {
  const { status, body } = await http<Record<string, unknown>>('GET', `${api}/health`);
  expect(status).toBe(200);
  expect(body).toMatchObject({
    status: 'healthy',
    node_id: 'api-1',
    redis_connected: true,
    current_sum: 100,
    stats: {
      connected_clients: expect.any(Number),
      total_commands_processed: expect.any(Number),
      used_memory_human: expect.any(String),
    },
    abacus: { strategy: 'atomic' },
  });
});

test('optimistic: when the sum moves under every attempt, the add is a 409 and adds nothing', async () => {
  const port = await freePort();
  const optimistic = spawnWizard(
    ['api', '--node-id', 'api-opt', '--port', String(port)],
    { REDIS_URL: testRedisUrl(), WIZARD_PREFIX: prefix, ABACUS_STRATEGY: 'optimistic' },
    'api-opt',
  );
  await optimistic.waitForOutput(/api listening/);
  const url = `http://127.0.0.1:${port}`;
  // other clients touch the sum without changing it (INCRBY 0), as fast as Redis takes them
  const flood = await floodKey(testRedisUrl(), ['INCRBY', store.keys.abacus, '0']);
  let applied = 0;
  let refused: { status: number; body: ErrorReply } | null = null;
  try {
    for (let i = 0; i < 40 && !refused; i++) {
      const res = await http<ErrorReply>('POST', `${url}/abacus/number`, { number: 1 });
      if (res.status === 200) applied++;
      else refused = res;
    }
  } finally {
    await flood.stop();
  }
  expect(refused).toMatchObject({
    status: 409,
    body: { error: { code: 'conflict', message: expect.stringContaining('nothing was added') } },
  });
  expect(await sumNow()).toBe(100 + applied);
  const health = await http<{ abacus: { strategy: string; retries_exhausted: number; conflicts: number } }>(
    'GET',
    `${url}/health`,
  );
  expect(health.body.abacus).toMatchObject({ strategy: 'optimistic', retries_exhausted: 1 });
  expect(health.body.abacus.conflicts).toBeGreaterThanOrEqual(10);
  expect(await optimistic.kill('SIGTERM')).toBe(0);
});

describe('wizard abacus', () => {
  /** `wizard abacus <sub> --api <url> ...rest` */
  const run = ([sub, ...rest]: string[], env: Record<string, string> = {}) => {
    const r = spawnSync(process.execPath, [WIZARD_BIN, 'abacus', sub, '--api', api, ...rest], {
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1', ...env },
      timeout: 20_000,
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  test('add takes negative numbers as they are and after --; sum and --json', () => {
    expect(run(['add', '-5'])).toMatchObject({ code: 0, stdout: 'sum 95 (added -5 on api-1)\n' });
    expect(run(['add', '--', '-7']).stdout).toBe('sum 88 (added -7 on api-1)\n');
    expect(run(['add', '12'])).toMatchObject({ code: 0, stdout: 'sum 100 (added 12 on api-1)\n' });
    expect(run(['sum'])).toMatchObject({ code: 0, stdout: 'sum 100 (on api-1)\n' });
    const json = run(['add', '1', '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ new_sum: 101, added: 1, node_id: 'api-1' });
  });

  test.each([['1.5'], ['abc'], ['9007199254740992'], ['-x']])(
    'add %s → exit 2 with one line naming the argument',
    (arg) => {
      const { code, stdout, stderr } = run(['add', arg]);
      expect(code).toBe(2);
      expect(stdout).toBe('');
      expect(stderr.trim().split('\n')).toHaveLength(1);
      expect(stderr).toMatch(/number|-x/);
    },
  );

  test('reset needs the token: without it exit 1 and the sum stays; with --token it is 0', () => {
    const denied = run(['reset']);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain('admin token');
    expect(run(['sum', '--json']).stdout).toContain('"sum":100');
    expect(run(['reset', '--token', TOKEN])).toMatchObject({
      code: 0,
      stdout: 'Sum successfully reset to 0 (on api-1)\n',
    });
    expect(run(['sum']).stdout).toBe('sum 0 (on api-1)\n');
  });

  test('an add past the bound → exit 1 with the reason, nothing added', async () => {
    await store.abacus.add(INT64_MAX - 100n);
    const { code, stderr } = run(['add', '1']);
    expect(code).toBe(1);
    expect(stderr).toContain('9223372036854775807');
    expect(await store.abacus.sum()).toBe(INT64_MAX);
  });
});
