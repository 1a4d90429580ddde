/**
 * Issue 14, item 4, on real processes (an api and a worker on the test Redis): a result that is
 * not a finite number is never answered as `null`. GET /add answers 400 naming `result`; the
 * same task ends FAILURE at once (one attempt: no retry mends it) with the reason.
 */
import { testPrefix, testRedisUrl } from '../helpers/env';
import { http, killAll, spawnWizard, waitUntil } from '../helpers/procs';
import { freePort } from '../helpers/redis-server';

let api: string;
type ErrorBody = { error: { code: string; message: string; details: { field: string; message: string }[] } };

beforeAll(async () => {
  const port = await freePort();
  const env = { REDIS_URL: testRedisUrl(), WIZARD_PREFIX: testPrefix('math-overflow') };
  api = `http://127.0.0.1:${port}`;
  await Promise.all([
    spawnWizard(['api', '--node-id', 'ov-api', '--port', String(port)], env, 'api').waitForOutput(/api listening/),
    spawnWizard(['worker', '--node-id', 'ov-worker', '--concurrency', '2'], env, 'worker').waitForOutput(
      /worker started/,
    ),
  ]);
}, 30_000);
afterAll(killAll);

test.each([
  ['1e308', '1e308', 'mul'],
  ['1.7e308', '1.7e308', 'add'],
  ['1', '1e-320', 'div'],
])('GET /add?a=%s&b=%s&op=%s is a 400 naming result, not {"result": null}', async (a, b, op) => {
  const res = await http<ErrorBody>('GET', `${api}/add?a=${a}&b=${b}&op=${op}`);
  expect(res.status).toBe(400);
  expect(res.body.error.code).toBe('validation_failed');
  expect(res.body.error.details).toEqual([{ field: 'result', message: 'not a finite number' }]);
  expect(res.body.error.message).toMatch(/^the result of .* is not a finite number/);
});

test('a task whose result is not a finite number ends FAILURE with the reason, after one attempt; a finite one still succeeds', async () => {
  const bad = await http<{ task_id: string }>('POST', `${api}/task`, { a: 1e308, b: 1e308, op: 'mul' });
  const good = await http<{ task_id: string }>('POST', `${api}/task`, { a: 1e154, b: 1e154, op: 'mul' });
  expect([bad.status, good.status]).toEqual([202, 202]);
  const final = async (id: string) =>
    waitUntil(
      async () => {
        const r = await http<{ status: string; result: unknown; error: string | null }>(
          'GET',
          `${api}/tasks/${id}/status`,
        );
        return ['SUCCESS', 'FAILURE', 'DEAD'].includes(r.body.status) ? r.body : null;
      },
      15_000,
      `task ${id}`,
    );
  expect(await final(bad.body.task_id)).toMatchObject({
    status: 'FAILURE',
    result: null,
    error: expect.stringMatching(/is not a finite number/),
  });
  expect((await http<{ attempts: number }>('GET', `${api}/jobs/${bad.body.task_id}`)).body.attempts).toBe(1);
  expect(await final(good.body.task_id)).toMatchObject({ status: 'SUCCESS', result: 1e308, error: null });
});
