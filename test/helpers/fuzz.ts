/**
 * Input fuzzing (test/e2e/fuzz-*.test.ts, each a share of the operations, so they run side by
 * side), driven by the OpenAPI document (issue 14, item 6): for every operation it lists, a seeded
 * generator draws at least 1,000 requests from the operation's own parameter and body schemas
 * (test/helpers/contract.ts): every input valid but one that the schema refuses (a value out of
 * bounds or of the wrong type, a missing or unknown field, a body that is not an object), and the
 * malformed bodies no schema describes (deep, oversized, not JSON, another content type, empty).
 * Every answer must be one the document lists for the operation (status, content type, a body that
 * validates, required headers), an input the document refuses must be refused (4xx), never a 5xx;
 * the server must survive; and nothing in the store may change.
 */
import { createApp } from '../../src/roles/api/app';
import { createApiMetrics } from '../../src/roles/api/metrics';
import { toOpenApiPath } from '../../src/roles/api/openapi';
import { listRoutes } from '../../src/roles/api/methods';
import { silentLogger } from './log';
import { RedisStore } from '../../src/store/redis';
import {
  checkAnswer,
  DOC,
  invalidBody,
  Operation,
  paramText,
  Parameter,
  queryString,
  Rand,
  refusable,
} from './contract';
import { testPrefix, testRedisUrl } from './env';
import { killAll, spawnWizard, waitUntil } from './procs';
import { seededRandom } from './prng';
import { freePort } from './redis-server';

const PER_ROUTE = Number(process.env.FUZZ_PER_ROUTE ?? 1000);

const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];

/** ids a path parameter accepts by its schema (any non-empty segment) that name nothing */
const GARBAGE_IDS = ['nope', '%F0%9F%A7%99', 'a'.repeat(2000), '..%2F..%2Fetc', '%00', '-1', '{x}', "'or'1'='1"];

/** every operation of the document, as "METHOD /express/:path" */
const OPERATION_KEYS = Object.entries(DOC.paths).flatMap(([path, ops]) =>
  Object.keys(ops).map((m) => `${m.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`),
);

interface Req {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
  why: string;
  /** the document refuses this input: the answer must not be a 2xx */
  refused: boolean;
}

function deepJson(depth: number): string {
  return '['.repeat(depth) + ']'.repeat(depth);
}

/** one request for an operation, drawn from its schemas */
function request(r: Rand, method: string, route: string, op: Operation): Req {
  const params = op.parameters ?? [];
  const pathParams = params.filter((p) => p.in === 'path');
  const query = params.filter((p) => p.in === 'query');
  // a path parameter with bounds (a date, a file name) is broken now and then; an id is any segment
  const brokenPath = pathParams.find((p) => refusable(p.schema) && r() < 0.5);
  const path = route.replace(/:(\w+)/g, (_m, name: string) => {
    const p = pathParams.find((x) => x.name === name) as Parameter;
    if (p === brokenPath) return encodeURIComponent(paramText(r, p.schema, true));
    return refusable(p.schema)
      ? encodeURIComponent(paramText(r, p.schema))
      : pick(r, [...GARBAGE_IDS, encodeURIComponent(paramText(r, p.schema))]);
  });
  const json = { 'content-type': 'application/json' };
  const refusedPath = brokenPath !== undefined;

  if (method === 'GET') {
    const broken = query.filter((p) => refusable(p.schema));
    if (broken.length === 0) {
      // nothing to break in the query: what the operation does not read is ignored
      const q = `limit=-1&status=${encodeURIComponent('🧙')}&${'x'.repeat(r() * 50)}=1`;
      return {
        method,
        path: `${path}?${q}`,
        headers: {},
        why: `path ${path.slice(0, 60)}, ignored query`,
        refused: refusedPath,
      };
    }
    const b = pick(r, broken);
    let q = queryString(r, query, b);
    if (r() < 0.2) q = `${q}&${q}`; // a parameter given twice is an array, which no parameter is
    return { method, path: `${path}?${q}`, headers: {}, why: `query ${q.slice(0, 120)}`, refused: true };
  }

  const schema = op.requestBody?.content['application/json'].schema;
  const kinds = [
    ...(schema ? ['fields', 'fields', 'fields'] : []),
    'deep',
    'huge',
    'content-type',
    'invalid-json',
    ...(op.requestBody?.required ? ['empty'] : []),
  ];
  switch (pick(r, kinds)) {
    case 'fields': {
      const { body, why } = invalidBody(r, schema!);
      return { method, path, headers: json, body: JSON.stringify(body), why: `body ${why}`, refused: true };
    }
    case 'deep':
      return {
        method,
        path,
        headers: json,
        body: deepJson(pick(r, [64, 1000, 20_000])),
        why: 'deep json',
        refused: true,
      };
    case 'huge':
      return {
        method,
        path,
        headers: json,
        body: JSON.stringify({ n: 1, pad: 'x'.repeat(pick(r, [70_000, 300_000])) }),
        why: 'huge body',
        refused: true,
      };
    case 'content-type':
      return {
        method,
        path,
        headers: {
          'content-type': pick(r, [
            'text/plain',
            'application/x-www-form-urlencoded',
            'multipart/form-data; boundary=x',
            'application/xml',
          ]),
        },
        body: 'n=1&chunks=2',
        why: 'content type',
        refused: true,
      };
    case 'empty':
      return { method, path, headers: json, body: '', why: 'empty body', refused: true };
    default:
      return {
        method,
        path,
        headers: json,
        body: pick(r, ['{', '{"n":', "{'n':1}", '{"n":1,}', 'nul', '\u0000', '{"n":1}{"n":2}']),
        why: 'invalid json',
        refused: true,
      };
  }
}

/**
 * the fuzz suite for share `part` of `parts` of the document's operations (every parts-th from
 * the part-th), against an API process of its own; part 0 also checks every route of the app is
 * an operation of the document
 */
export function fuzzRoutes(part: number, parts: number): void {
  let api: string;
  let store: RedisStore;
  const prefix = testPrefix(`fuzz-${part}`);
  const keys = OPERATION_KEYS.filter((_, i) => i % parts === part);

  beforeAll(async () => {
    const port = await freePort();
    api = `http://127.0.0.1:${port}`;
    const env = {
      REDIS_URL: testRedisUrl(),
      WIZARD_PREFIX: prefix,
      ADMIN_TOKEN: 'fuzz-admin-secret',
      LOG_LEVEL: 'error',
    };
    const proc = spawnWizard(['api', '--port', String(port), '--node-id', 'fuzz-api'], env, 'api');
    await waitUntil(
      async () =>
        proc.proc.exitCode === null &&
        (await fetch(`${api}/healthz`).then(
          (r) => r.ok,
          () => false,
        )),
      45_000,
      `the fuzz api on ${api}\n${proc.output()}`,
    );
    store = await new RedisStore({ url: testRedisUrl(), prefix }).connect();
  });
  afterAll(async () => {
    await store.close();
    await killAll();
  });

  const snapshot = async () => {
    const [counts, depth, sum, bots, days] = await Promise.all([
      store.reads.countByState(),
      store.queues.depth('default'),
      store.abacus.sum(),
      store.bots.list(),
      store.lake.days(),
    ]);
    return { counts, depth, sum: String(sum), bots: bots.length, days };
  };

  if (part === 0) {
    test('every route of the app is an operation of the document, so it is fuzzed', () => {
      const app = createApp({
        store,
        nodeId: 'x',
        log: silentLogger,
        startedAt: 0,
        metrics: createApiMetrics(),
      } as never);
      const routes = listRoutes(app).map(([m, p]) => `${m} ${p}`);
      expect(routes.filter((r) => !OPERATION_KEYS.includes(r))).toEqual([]);
    });
  }

  test(`${PER_ROUTE} requests drawn from the document for each of ${keys.length} operations: every answer listed and valid, refused input refused, no change of state`, async () => {
    const before = await snapshot();
    const failures: string[] = [];
    let sent = 0;
    let refused = 0;
    for (const key of keys) {
      const [method, route] = key.split(' ');
      const op = DOC.paths[toOpenApiPath(route)][method.toLowerCase()];
      const r = seededRandom(0x5eed ^ key.length ^ key.charCodeAt(1));
      const requests = Array.from({ length: PER_ROUTE }, () => request(r, method, route, op));
      for (let i = 0; i < requests.length; i += 25) {
        await Promise.all(
          requests.slice(i, i + 25).map(async (q) => {
            const res = await fetch(api + q.path, {
              method: q.method,
              headers: q.headers,
              body: q.method === 'GET' ? undefined : q.body,
              signal: AbortSignal.timeout(10_000),
            });
            const stream = res.headers.get('content-type')?.startsWith('text/event-stream') ?? false;
            if (stream) await res.body?.cancel(); // a live stream: its head is the answer
            const answer = { status: res.status, headers: res.headers, text: stream ? '' : await res.text() };
            sent++;
            if (q.refused) refused++;
            const problems = checkAnswer(key, answer);
            if (res.status >= 500) failures.push(`${key} ${res.status} (${q.why}): ${answer.text.slice(0, 200)}`);
            else if (q.refused && res.status < 400)
              failures.push(`${key} ${res.status}: the document refuses this input but the server took it (${q.why})`);
            else if (problems.length) failures.push(`${problems[0]} (${q.why})`);
          }),
        );
      }
    }
    expect(failures.slice(0, 20)).toEqual([]);
    expect(sent).toBe(PER_ROUTE * keys.length);
    expect(refused).toBeGreaterThan(sent / 3);
    expect((await fetch(`${api}/healthz`)).status).toBe(200); // still alive
    expect(await snapshot()).toEqual(before);
  }, 240_000);
}
