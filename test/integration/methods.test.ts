/**
 * Issue 14, item 5, over real HTTP on a real Redis: a method a path is not served with is a 405
 * JSON error with `Allow`; OPTIONS answers `Allow` (204). Both come from the app's route table,
 * and a literal path is its own route's only: /bots/register never takes /bots/:id's DELETE.
 */
import { startApi, RunningApi } from '../../src/roles/api';
import { createApp } from '../../src/roles/api/app';
import { createApiMetrics } from '../../src/roles/api/metrics';
import { allowedMethods, listRoutes, methodTable } from '../../src/roles/api/methods';
import type { Store } from '../../src/store/types';
import { silentLogger } from '../helpers/log';
import { http } from '../helpers/procs';
import { makeStore } from '../helpers/stores';

let store: Store;
let api: RunningApi;
type ErrorBody = { error: { code: string; message: string } };

beforeAll(async () => {
  store = await makeStore('redis', 'methods');
  api = await startApi(store, { nodeId: 'api-methods', port: 0, log: silentLogger, adminToken: 'methods-admin' });
});
afterAll(async () => {
  await api.close(true);
  await store.close();
});

test.each([
  ['/bots/register', 'OPTIONS, POST'],
  ['/jobs/claim', 'OPTIONS, POST'],
  ['/bots/some-bot', 'DELETE, OPTIONS'],
  ['/jobs/some-job', 'GET, HEAD, OPTIONS'],
  ['/abacus/sum', 'DELETE, GET, HEAD, OPTIONS'],
  ['/dlq', 'DELETE, GET, HEAD, OPTIONS'],
  ['/', 'GET, HEAD, OPTIONS'],
  ['/app.js', 'GET, HEAD, OPTIONS'],
])('OPTIONS %s → 204, Allow: %s', async (path, allow) => {
  const res = await fetch(`${api.url}${path}`, { method: 'OPTIONS' });
  expect([res.status, res.headers.get('allow')]).toEqual([204, allow]);
});

test.each([
  ['PUT', '/abacus/sum', 'DELETE, GET, HEAD, OPTIONS'],
  ['PATCH', '/jobs/some-job', 'GET, HEAD, OPTIONS'],
  ['DELETE', '/bots/register', 'OPTIONS, POST'],
  ['GET', '/jobs/claim', 'OPTIONS, POST'],
  ['GET', '/task', 'OPTIONS, POST'],
  ['POST', '/health', 'GET, HEAD, OPTIONS'],
  ['POST', '/metrics', 'GET, HEAD, OPTIONS'],
  ['DELETE', '/jobs/x/start', 'OPTIONS, POST'],
])('%s %s → 405 JSON naming the method, Allow: %s', async (method, path, allow) => {
  const res = await http<ErrorBody>(method, `${api.url}${path}`);
  expect([res.status, res.headers.get('allow'), res.body.error.code]).toEqual([405, allow, 'method_not_allowed']);
  expect(res.body.error.message).toBe(`${method} is not allowed on ${path}: allowed are ${allow}`);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
});

test("Swagger UI's files: GET serves them, any other method is a 405 with Allow: GET, HEAD", async () => {
  expect((await fetch(`${api.url}/docs/assets/swagger-ui.css`)).status).toBe(200);
  for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
    const res = await http<ErrorBody>(method, `${api.url}/docs/assets/swagger-ui.css`);
    expect([res.status, res.headers.get('allow'), res.body.error.code]).toEqual([
      405,
      'GET, HEAD, OPTIONS',
      'method_not_allowed',
    ]);
  }
});

test('an unknown path is still a 404 for every method', async () => {
  for (const method of ['GET', 'POST', 'PUT', 'DELETE']) {
    const res = await http<ErrorBody>(method, `${api.url}/nothing/here`);
    expect([method, res.status, res.body.error.code]).toEqual([method, 404, 'not_found']);
  }
});

test('every route of the app has its own method in the Allow of its path', async () => {
  const app = createApp({ store, nodeId: 'x', log: silentLogger, startedAt: 0, metrics: createApiMetrics() } as never);
  const table = methodTable(app);
  for (const [method, route] of listRoutes(app)) {
    const path = route.replace(/:\w+/g, 'x1');
    expect({ route, has: allowedMethods(table, path)?.includes(method) }).toEqual({ route, has: true });
  }
});
