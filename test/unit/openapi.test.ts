/** The OpenAPI document: valid OpenAPI 3.1, every route of the app in it, generated from the zod schemas; /docs works offline. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { spawnSync } from 'node:child_process';
import { createApp } from '../../src/roles/api/app';
import { createApiMetrics } from '../../src/roles/api/metrics';
import { openApiDocument, toOpenApiPath } from '../../src/roles/api/openapi';
import { listRoutes } from '../../src/roles/api/routes-list';
import { silentLogger } from '../../src/util/log';

const app = createApp({ store: {} as never, nodeId: 'docs', log: silentLogger, startedAt: 0, metrics: createApiMetrics() } as never);
const doc = openApiDocument() as { openapi: string; paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: unknown }> }; parameters?: { name: string; in: string; required: boolean; schema: { enum?: string[] } }[] }>> };
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
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { input: JSON.stringify(doc), encoding: 'utf8', cwd: __dirname, timeout: 20_000 });
  expect(r.stderr).toBe('');
  const result = JSON.parse(r.stdout) as { valid: boolean; errors?: unknown };
  expect(result.errors ?? []).toEqual([]);
  expect(result.valid).toBe(true);
  expect(doc.openapi).toBe('3.1.0');
});

test('every route of the app is documented, and nothing else', () => {
  const routes = listRoutes(app).map(([m, p]) => `${m.toLowerCase()} ${toOpenApiPath(p)}`).sort();
  const documented = Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m} ${p}`)).sort();
  expect(routes.filter((r) => !documented.includes(r))).toEqual([]);
  expect(documented.filter((d) => !routes.includes(d))).toEqual([]);
});

test('bodies and query parameters come from the zod schemas that validate them', () => {
  const primes = doc.paths['/api/count-primes'].post.requestBody!.content['application/json'].schema;
  expect(primes).toMatchObject({ type: 'object', required: ['n', 'chunks'], additionalProperties: false, properties: { n: { type: 'integer', minimum: 10_000 }, chunks: { maximum: 128 } } });
  const add = doc.paths['/add'].get.parameters!;
  expect(add.map((p) => [p.name, p.in, p.required])).toEqual([['a', 'query', true], ['b', 'query', true], ['op', 'query', false]]);
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
