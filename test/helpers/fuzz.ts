/**
 * Input fuzzing (test/e2e/fuzz-*.test.ts, each a share of the routes, so they run side by
 * side): for every route of the app, a seeded generator sends at least 1,000 malformed
 * requests (wrong types, huge numbers, unicode, deep JSON, empty bodies, wrong content types,
 * oversized bodies, garbage ids and queries). Every answer must be a JSON error in the 4xx range
 * (routes that take no input may answer 200), never a 5xx; the server must survive; and nothing
 * in the store may change.
 */
import { createApp } from '../../src/roles/api/app';
import { createApiMetrics } from '../../src/roles/api/metrics';
import { listRoutes } from '../../src/roles/api/routes-list';
import { silentLogger } from '../../src/util/log';
import { RedisStore } from '../../src/store/redis';
import { testPrefix, testRedisUrl } from './env';
import { killAll, spawnWizard } from './procs';
import { seededRandom } from './prng';
import { freePort } from './redis-server';

const PER_ROUTE = Number(process.env.FUZZ_PER_ROUTE ?? 1000);

type Rand = () => number;
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];

/** values no field of ours accepts where a number is asked for */
const NOT_NUMBERS: unknown[] = [null, true, false, '', '1', 'NaN', 'Infinity', '🧙‍♂️', 'a'.repeat(300), [], [1], {}, { n: 1 }, '\u0000', '１２'];
/** numbers that are out of every integer field's bounds here */
const BAD_INTEGERS: unknown[] = [1.5, -0.5, 1e308, -1e308, 2 ** 53, -(2 ** 53), 1e13, 9007199254740993];
const GARBAGE_IDS = ['nope', '%F0%9F%A7%99', 'a'.repeat(2000), '..%2F..%2Fetc', '%00', '-1', '{x}', "'or'1'='1"];

/** per field: what is never valid there */
const INVALID: Record<string, unknown[]> = {
  n: [...NOT_NUMBERS, ...BAD_INTEGERS, 0, 9999, -5],
  chunks: [...NOT_NUMBERS, ...BAD_INTEGERS, 0, 129, -1],
  a: NOT_NUMBERS,
  b: NOT_NUMBERS,
  op: [...NOT_NUMBERS.filter((v) => typeof v !== 'string' || v === ''), 'pow', 'ADD', 'add '],
  number: [...NOT_NUMBERS, ...BAD_INTEGERS.filter((v) => !Number.isSafeInteger(v))],
  name: [null, true, 1, '', 'n'.repeat(129), [], {}],
  status: ['RUNNING!', 'done', '', '🧙', 'PENDING;DROP', 'x'.repeat(300)],
  offset: ['-1', 'x', '1.5', '1e99', ''],
  limit: ['0', '501', '-3', 'x', '2.5'],
  count: [...NOT_NUMBERS, ...BAD_INTEGERS, 0, 1001],
  error: [null, 1, '', [], {}, 'e'.repeat(2001)],
  result: [],
  queue: [1, '', 'bad queue', '../x', 'q'.repeat(65)],
};

interface RouteSpec {
  /** JSON body fields (a malformed body breaks at least one) */
  body?: string[];
  /** query fields */
  query?: string[];
  /** the route takes no input: a request it ignores may answer 2xx */
  noInput?: boolean;
  /** needs an admin token: without one every request is refused */
  admin?: boolean;
  /** every body field is optional: an empty body is a valid request, not a malformed one */
  optionalBody?: boolean;
  /** what a 2xx answer is when not JSON (errors are JSON all the same) */
  produces?: string;
}

const SPECS: Record<string, RouteSpec> = {
  'GET /healthz': { noInput: true },
  'GET /health': { noInput: true },
  'GET /whoami': { noInput: true },
  'GET /valkey_test': { noInput: true },
  'GET /add': { query: ['a', 'b', 'op'] },
  'POST /task': { body: ['a', 'b', 'op'] },
  'GET /tasks/:id/status': {},
  'POST /api/count-primes': { body: ['n', 'chunks'] },
  'GET /api/jobs/:id': {},
  'GET /api/jobs/:id/events': {},
  'GET /jobs/:id': {},
  'GET /jobs/:id/chunks': {},
  'POST /abacus/number': { body: ['number'] },
  'GET /abacus/sum': { noInput: true },
  'DELETE /abacus/sum': { admin: true },
  'GET /jobs': { query: ['status', 'offset', 'limit'] },
  'POST /jobs/populate': { body: ['count'], admin: true },
  'POST /jobs/claim': { body: ['queue'] },
  'POST /jobs/:id/start': {},
  'POST /jobs/:id/complete': { body: ['result'] },
  'POST /jobs/:id/fail': { body: ['error'] },
  'POST /bots/register': { body: ['name'], optionalBody: true },
  'POST /bots/heartbeat': {},
  'POST /bots/deregister': {},
  'DELETE /bots/:id': { admin: true },
  'GET /bots': { noInput: true },
  'GET /datalake/stats': { noInput: true },
  'GET /datalake/export/:date': {},
  'GET /metrics/summary': { noInput: true },
  'GET /dlq': { query: ['offset', 'limit'], admin: true },
  'POST /dlq/:id/retry': { admin: true },
  'DELETE /dlq': { admin: true },
  'GET /metrics/history': { query: ['window'] },
  'GET /workers': { noInput: true },
  'GET /queues': { noInput: true },
  'POST /jobs/:id/retry': { admin: true },
  'GET /': { noInput: true },
  'GET /vendor/:file': {},
  'GET /metrics': { noInput: true, produces: 'text/plain' },
  'GET /openapi.json': { noInput: true },
  'GET /docs': { noInput: true, produces: 'text/html' },
  'GET /docs/init.js': { noInput: true, produces: 'application/javascript' },
};

interface Req {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
  why: string;
}

function deepJson(depth: number): string {
  return '['.repeat(depth) + ']'.repeat(depth);
}

/** one malformed request for a route */
function malformed(r: Rand, method: string, route: string, spec: RouteSpec): Req {
  const path = route.replace(/:\w+/g, () => pick(r, GARBAGE_IDS));
  const json = { 'content-type': 'application/json' };
  // a GET's input is its query and path; a POST's or DELETE's is its body
  const kinds = ['fields', 'deep', 'huge', 'content-type', 'invalid-json', 'not-object', ...(spec.optionalBody ? [] : ['empty'])];
  const kind = method === 'GET' ? 'query' : pick(r, kinds);
  const fields = spec.body ?? [];
  const valid: Record<string, unknown> = { n: 100_000, chunks: 4, a: 1, b: 2, op: 'add', number: 1, name: 'bot', count: 1, error: 'x', queue: 'bots' };
  switch (kind) {
    case 'fields': {
      const body: Record<string, unknown> = {};
      for (const f of fields) if (r() < 0.7) body[f] = valid[f];
      const broken = fields.length ? pick(r, fields) : 'x';
      if (INVALID[broken]) body[broken] = pick(r, INVALID[broken]);
      else if (r() < 0.5) delete body[broken];
      if (r() < 0.3) body[pick(r, ['extra', '__proto__', 'constructor', '🧙'])] = pick(r, NOT_NUMBERS);
      return { method, path, headers: json, body: JSON.stringify(body), why: `fields ${JSON.stringify(body).slice(0, 120)}` };
    }
    case 'deep':
      return { method, path, headers: json, body: deepJson(pick(r, [64, 1000, 20_000])), why: 'deep json' };
    case 'huge':
      return { method, path, headers: json, body: JSON.stringify({ n: 1, pad: 'x'.repeat(pick(r, [70_000, 300_000])) }), why: 'huge body' };
    case 'content-type':
      return { method, path, headers: { 'content-type': pick(r, ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml']) }, body: 'n=1&chunks=2', why: 'content type' };
    case 'empty':
      return { method, path, headers: json, body: '', why: 'empty body' };
    case 'invalid-json':
      return { method, path, headers: json, body: pick(r, ['{', '{"n":', "{'n':1}", '{"n":1,}', 'nul', '\u0000', '{"n":1}{"n":2}']), why: 'invalid json' };
    case 'not-object':
      return { method, path, headers: json, body: pick(r, ['[]', '1', '"n"', 'null', 'true', '[{"n":100000,"chunks":4}]']), why: 'not an object' };
    default: {
      const q = (spec.query ?? ['a', 'b']).map((f) => `${f}=${encodeURIComponent(String(pick(r, INVALID[f] ?? NOT_NUMBERS)))}`).join('&');
      return { method, path: `${path}?${q}&${q}`, headers: {}, why: `query ${q.slice(0, 120)}` };
    }
  }
}

/**
 * the fuzz suite for share `part` of `parts` of the routes (every parts-th route from the
 * part-th), against an API process of its own; part 0 also checks every route has a spec
 */
export function fuzzRoutes(part: number, parts: number): void {
  let api: string;
  let store: RedisStore;
  const prefix = testPrefix(`fuzz-${part}`);
  const specs = Object.entries(SPECS).filter((_, i) => i % parts === part);

  beforeAll(async () => {
    const port = await freePort();
    api = `http://127.0.0.1:${port}`;
    const env = { REDIS_URL: testRedisUrl(), WIZARD_PREFIX: prefix, ADMIN_TOKEN: 'fuzz-admin-secret', LOG_LEVEL: 'error' };
    await spawnWizard(['api', '--port', String(port), '--node-id', 'fuzz-api'], env, 'api').waitForOutput(/api listening|"level":"error"/).catch(() => undefined);
    store = await new RedisStore({ url: testRedisUrl(), prefix }).connect();
  });
  afterAll(async () => {
    await store.close();
    await killAll();
  });

  const snapshot = async () => {
    const [counts, depth, sum, bots, days] = await Promise.all([store.countByState(), store.queueDepth('default'), store.abacusSum(), store.listBots(), store.datalakeDays()]);
    return { counts, depth, sum: String(sum), bots: bots.length, days };
  };

  if (part === 0) {
    test('every route of the app has a fuzz spec', () => {
      const app = createApp({ store, nodeId: 'x', log: silentLogger, startedAt: 0, metrics: createApiMetrics() } as never);
      const routes = listRoutes(app).map(([m, p]) => `${m} ${p}`);
      expect(routes.filter((r) => !SPECS[r])).toEqual([]);
    });
  }

  test(`${PER_ROUTE} malformed requests for each of ${specs.length} routes: 4xx JSON errors, no 5xx, no change of state`, async () => {
    const before = await snapshot();
    const failures: string[] = [];
    let sent = 0;
    for (const [key, spec] of specs) {
      const [method, route] = key.split(' ');
      const r = seededRandom(0x5eed ^ key.length ^ key.charCodeAt(1));
      const requests = Array.from({ length: PER_ROUTE }, () => malformed(r, method, route, spec));
      for (let i = 0; i < requests.length; i += 25) {
        await Promise.all(
          requests.slice(i, i + 25).map(async (q) => {
            const res = await fetch(api + q.path, { method: q.method, headers: q.headers, body: q.method === 'GET' ? undefined : q.body, signal: AbortSignal.timeout(10_000) });
            const type = res.headers.get('content-type') ?? '';
            const text = await res.text();
            sent++;
            const stream = type.startsWith('text/event-stream');
            const okStatus = res.status >= 400 && res.status < 500 ? true : spec.noInput && res.status < 300;
            if (!okStatus) failures.push(`${key} ${res.status} (${q.why}): ${text.slice(0, 200)}`);
            else if (!stream && !type.startsWith(res.status < 300 && spec.produces ? spec.produces : 'application/json')) failures.push(`${key} ${res.status} not JSON (${q.why}): ${type}`);
            else if (res.status >= 400 && !JSON.parse(text).error?.message) failures.push(`${key} ${res.status} no error message (${q.why})`);
          }),
        );
      }
    }
    expect(failures.slice(0, 20)).toEqual([]);
    expect(sent).toBe(PER_ROUTE * specs.length);
    expect((await fetch(`${api}/healthz`)).status).toBe(200); // still alive
    expect(await snapshot()).toEqual(before);
  }, 240_000);
}
