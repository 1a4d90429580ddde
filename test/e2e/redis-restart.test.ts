/**
 * Redis goes away and comes back: meanwhile the API answers 503 naming the Redis URL; after,
 * every role resumes by itself, with no restart, and nothing accepted before is lost (AOF).
 */
import { freePort } from '../helpers/redis-server';
import { testPrefix } from '../helpers/env';
import { ownRedisServer } from '../helpers/own-redis';
import { http, spawnWizard, waitUntil } from '../helpers/procs';

const ownRedis = ownRedisServer({ appendonly: true });

const done = async (api: string, id: string) =>
  (await http<{ status: string; result: number }>('GET', `${api}/tasks/${id}/status`)).body;

test('the API answers 503 while Redis is down, and every role resumes when it is back', async () => {
  const env = { REDIS_URL: ownRedis().url, WIZARD_PREFIX: testPrefix('redis-restart') };
  const port = await freePort();
  const api = `http://127.0.0.1:${port}`;
  const apiProc = spawnWizard(['api', '--node-id', 'api-1', '--port', String(port)], env, 'api');
  const worker = spawnWizard(['worker', '--node-id', 'worker-1'], env, 'worker');
  await Promise.all([apiProc.waitForOutput(/api listening/), worker.waitForOutput(/worker started/)]);

  const before = await http<{ task_id: string }>('POST', `${api}/task`, { a: 1, b: 2 });
  await waitUntil(async () => (await done(api, before.body.task_id)).status === 'SUCCESS', 10_000, 'the first task');

  await ownRedis().stop();
  const health = await http<{ status: string; error: { message: string } }>('GET', `${api}/health`);
  expect(health.status).toBe(503);
  expect(health.body.error.message).toContain(ownRedis().url);
  const refused = await http<{ error: { code: string; message: string } }>('POST', `${api}/task`, { a: 1, b: 1 });
  expect(refused.status).toBe(503);
  expect(refused.body.error).toMatchObject({
    code: 'store_unavailable',
    message: expect.stringContaining(ownRedis().url),
  });
  expect(refused.headers.get('retry-after')).toBe('1');
  await new Promise((r) => setTimeout(r, 1500));

  await ownRedis().start();
  // nothing accepted before the outage is lost: the AOF brought it back
  await waitUntil(async () => (await done(api, before.body.task_id)).result === 3, 10_000, 'the API to serve again');
  const after = await waitUntil(
    async () => {
      const r = await http<{ task_id: string }>('POST', `${api}/task`, { a: 20, b: 22 });
      return r.status === 202 ? r.body : null;
    },
    10_000,
    'the API to accept tasks again',
  );
  const final = await waitUntil(
    async () => {
      const s = await done(api, after.task_id);
      return s.status === 'SUCCESS' ? s : null;
    },
    15_000,
    'the worker to resume without a restart',
  );
  expect(final.result).toBe(42);
  expect(apiProc.proc.exitCode).toBeNull();
  expect(worker.proc.exitCode).toBeNull();
}, 60_000);
