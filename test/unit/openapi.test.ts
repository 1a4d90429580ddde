/**
 * The OpenAPI document: valid OpenAPI 3.1, every route of the app in it, generated from the zod
 * schemas (requests and answers); every status each operation can send listed; parameters as
 * tight as what the server accepts (the server's own zod schema and the document's JSON Schema
 * agree on every sample); security schemes; /docs works offline.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { spawnSync } from 'node:child_process';
import { createApp } from '../../src/roles/api/app';
import { createApiMetrics } from '../../src/roles/api/metrics';
import { openApiDocument, toOpenApiPath } from '../../src/roles/api/openapi';
import { listRoutes } from '../../src/roles/api/methods';
import { addQuery, datalakeDayParams, dlqQuery, listJobsQuery, parseInput, STATUS_NAMES } from '../../src/core/schemas';
import { DOC, operationOf, validatorOf, type Schema } from '../helpers/contract';
import { silentLogger } from '../helpers/log';

const app = createApp({
  store: {} as never,
  nodeId: 'docs',
  log: silentLogger,
  startedAt: 0,
  metrics: createApiMetrics(),
} as never);
const doc = openApiDocument() as {
  openapi: string;
  paths: Record<
    string,
    Record<
      string,
      {
        requestBody?: { content: Record<string, { schema: unknown }> };
        parameters?: { name: string; in: string; required: boolean; schema: { enum?: string[] } }[];
      }
    >
  >;
};
let server: http.Server;
let base: string;

beforeAll(async () => {
  server = http.createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

test('the document is valid OpenAPI 3.1', async () => {
  // the validator is an ES module, which jest's CommonJS cannot load: it runs in a child node
  const script = `import { Validator } from '@seriousme/openapi-schema-validator';
    let s = ''; for await (const c of process.stdin) s += c;
    console.log(JSON.stringify(await new Validator().validate(JSON.parse(s))));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    input: JSON.stringify(doc),
    encoding: 'utf8',
    cwd: __dirname,
    timeout: 20_000,
  });
  expect(r.stderr).toBe('');
  const result = JSON.parse(r.stdout) as { valid: boolean; errors?: unknown };
  expect(result.errors ?? []).toEqual([]);
  expect(result.valid).toBe(true);
  expect(doc.openapi).toBe('3.1.0');
});

test('every route of the app is documented, and nothing else', () => {
  const routes = listRoutes(app)
    .map(([m, p]) => `${m.toLowerCase()} ${toOpenApiPath(p)}`)
    .sort();
  const documented = Object.entries(doc.paths)
    .flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m} ${p}`))
    .sort();
  expect(routes.filter((r) => !documented.includes(r))).toEqual([]);
  expect(documented.filter((d) => !routes.includes(d))).toEqual([]);
});

test('bodies and query parameters come from the zod schemas that validate them', () => {
  const primes = doc.paths['/api/count-primes'].post.requestBody!.content['application/json'].schema;
  expect(primes).toMatchObject({
    type: 'object',
    required: ['n', 'chunks'],
    additionalProperties: false,
    properties: { n: { type: 'integer', minimum: 10_000 }, chunks: { maximum: 128 } },
  });
  const add = doc.paths['/add'].get.parameters!;
  expect(add.map((p) => [p.name, p.in, p.required])).toEqual([
    ['a', 'query', true],
    ['b', 'query', true],
    ['op', 'query', false],
  ]);
  expect(add[2].schema.enum).toEqual(['add', 'sub', 'mul', 'div']);
  expect(doc.paths['/jobs/{id}'].get.parameters![0]).toMatchObject({ name: 'id', in: 'path', required: true });
});

test('GET /openapi.json, and /docs with its assets served from the package (no CDN)', async () => {
  const json = await fetch(`${base}/openapi.json`);
  expect(json.headers.get('content-type')).toMatch(/^application\/json/);
  expect(await json.json()).toEqual(doc);
  const page = await (await fetch(`${base}/docs`)).text();
  const assets = [...page.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
  expect(assets.length).toBeGreaterThanOrEqual(3);
  for (const a of assets) {
    expect(a.startsWith('/')).toBe(true); // same origin: works offline
    const r = await fetch(base + a);
    expect({ a, status: r.status }).toEqual({ a, status: 200 });
  }
  expect(await (await fetch(`${base}/docs/init.js`)).text()).toContain("url: '/openapi.json'");
});

const KEYS = Object.entries(DOC.paths).flatMap(([path, ops]) =>
  Object.keys(ops).map((m) => `${m.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`),
);

test('every 2xx answer has its content types and, for JSON, a schema of its own in components', () => {
  const missing: string[] = [];
  for (const key of KEYS) {
    for (const [status, r] of Object.entries(operationOf(key).responses)) {
      if (!status.startsWith('2') || status === '204') continue;
      const content = (r.content ?? {}) as Record<string, { schema?: Schema }>;
      if (Object.keys(content).length === 0) missing.push(`${key} ${status}: no content`);
      const ref = content['application/json']?.schema?.$ref;
      if (content['application/json'] && !(ref && DOC.components.schemas[ref.split('/').pop()!]))
        missing.push(`${key} ${status}: no JSON schema`);
    }
  }
  expect(missing).toEqual([]);
  expect(Object.keys(operationOf('GET /').responses['200'].content!).sort()).toEqual(['application/json', 'text/html']);
  expect(Object.keys(operationOf('GET /vendor/:file').responses['200'].content!).sort()).toEqual([
    'text/css',
    'text/javascript',
  ]);
  expect(Object.keys(operationOf('GET /metrics').responses['200'].content!)).toEqual(['text/plain']);
  expect(Object.keys(operationOf('GET /datalake/export/:date').responses['200'].content!)).toEqual([
    'application/x-ndjson',
  ]);
});

test('every status a route can send is listed: bodies 400/413/415, tokens 401/403, 429 but /healthz, 503 where the store or the gate is asked', () => {
  const listed = (key: string) => Object.keys(operationOf(key).responses).map(Number);
  for (const key of KEYS) {
    const [method] = key.split(' ');
    const op = operationOf(key);
    if (method !== 'GET')
      expect({ key, has: [400, 413, 415].every((s) => listed(key).includes(s)) }).toEqual({ key, has: true });
    if (op.security)
      expect({ key, has: [401, 403, 503].every((s) => listed(key).includes(s)) }).toEqual({ key, has: true });
    if (key !== 'GET /healthz') expect({ key, has: listed(key).includes(429) }).toEqual({ key, has: true });
    for (const s of [429, 503])
      if (listed(key).includes(s))
        expect(op.responses[String(s)].headers?.['Retry-After']).toMatchObject({
          required: true,
          schema: { type: 'integer', minimum: 1 },
        });
  }
  expect(listed('POST /jobs/claim')).toEqual([200, 204, 400, 401, 403, 409, 413, 415, 429, 503]);
  expect(listed('GET /jobs/:id')).toEqual([200, 401, 403, 404, 405, 429, 503]); // 405: GET /jobs/claim
  expect(listed('GET /healthz')).toEqual([200]);
  expect(operationOf('GET /health').responses['503'].content!['application/json'].schema).toEqual({
    $ref: '#/components/schemas/unhealthy',
  });
  expect(DOC.components.schemas.unhealthy).toMatchObject({
    properties: { error: { required: ['code', 'message', 'details'] } },
  });
});

test('security schemes: bearer API tokens, admin and bot tokens (bearer or their own header); each operation names what it needs', () => {
  const schemes = (
    DOC as unknown as {
      components: { securitySchemes: Record<string, { type: string; scheme?: string; in?: string; name?: string }> };
    }
  ).components.securitySchemes;
  expect(schemes).toMatchObject({
    apiToken: { type: 'http', scheme: 'bearer' },
    adminToken: { type: 'http', scheme: 'bearer' },
    adminTokenHeader: { type: 'apiKey', in: 'header', name: 'X-Admin-Token' },
    botToken: { type: 'http', scheme: 'bearer' },
    botTokenHeader: { type: 'apiKey', in: 'header', name: 'X-Bot-Token' },
  });
  expect(operationOf('DELETE /abacus/sum').security).toEqual([{ adminToken: [] }, { adminTokenHeader: [] }]);
  expect(operationOf('POST /jobs/claim').security).toEqual([{ botToken: [] }, { botTokenHeader: [] }]);
  expect(operationOf('POST /task').security).toEqual([{ apiToken: [] }, {}]); // only with API tokens on
  expect(operationOf('GET /healthz').security).toBeUndefined();
  expect(operationOf('GET /openapi.json').security).toBeUndefined();
});

/** a query value as the document reads it: a number where the schema says number or integer and the text is one */
function asDocumented(text: string, s: Schema): unknown {
  if (s.type === 'integer') return /^-?\d+$/.test(text) ? Number(text) : text;
  if (s.type === 'number') return /^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text) ? Number(text) : text;
  return text;
}

test.each([
  [
    'GET /add',
    'a',
    addQuery,
    ['2', '-1.5', '1e300', '.5', '1e999', 'x', '', 'NaN', 'Infinity', '0x10', '1,5'],
    { b: '1' },
  ],
  ['GET /add', 'op', addQuery, ['add', 'sub', 'mul', 'div', 'ADD', 'pow', ''], { a: '1', b: '1' }],
  ['GET /jobs', 'limit', listJobsQuery, ['1', '50', '500', '501', '0', '-1', '2.5', 'x', '', '007'], {}],
  ['GET /jobs', 'offset', listJobsQuery, ['0', '1000000', '1000001', '-1', '1.5', 'x'], {}],
  ['GET /jobs', 'status', listJobsQuery, [...STATUS_NAMES, 'Pending', 'done', '', 'PENDING;DROP'], {}],
  ['GET /dlq', 'limit', dlqQuery, ['1', '500', '501', '0', 'x'], {}],
] as const)('%s: the server and the document accept the same values of %s', (key, name, schema, samples, others) => {
  const param = operationOf(key).parameters!.find((p) => p.name === name)!;
  const disagree = samples.filter((text) => {
    let server = true;
    try {
      parseInput(schema, { ...others, [name]: text });
    } catch {
      server = false;
    }
    return server !== validatorOf(param.schema)(asDocumented(text, param.schema));
  });
  expect(disagree).toEqual([]);
});

test("the export's date and populate's type are as tight in the document as on the server", () => {
  const date = operationOf('GET /datalake/export/:date').parameters![0];
  for (const d of [
    '2024-02-29',
    '2025-02-29',
    '2026-03-10',
    '2026-02-30',
    '2026-13-01',
    '2026-04-31',
    '0000-01-01',
    '26-01-01',
    '2026-3-10',
  ]) {
    let server = true;
    try {
      parseInput(datalakeDayParams, { date: d });
    } catch {
      server = false;
    }
    expect({ d, doc: validatorOf(date.schema)(d) }).toEqual({ d, doc: server });
  }
  const populate = operationOf('POST /jobs/populate').requestBody!.content['application/json'].schema;
  expect(populate.properties!.type).toEqual({ type: 'string', enum: ['sim', 'task'] });
  expect(operationOf('GET /vendor/:file').parameters![0].schema).toEqual({
    type: 'string',
    enum: ['alpine-csp.min.js', 'pico.min.css'],
  });
});
