/**
 * Issue 24 on real processes: the limits group's flags and their variables (WIZARD_QUEUES,
 * WIZARD_QUOTA_*, WIZARD_MAX_*) on `wizard api`; a worker's --queue declares it; the CLI takes
 * whole job ids and names of the safe alphabet only (exit 2 with one line naming the argument).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { testPrefix, testRedisUrl } from '../helpers/env';
import { http, killAll, runWizard, spawnWizard, waitUntil } from '../helpers/procs';
import { freePort } from '../helpers/redis-server';

const ADMIN = 'limits-admin-token-0123456789';
const CLIENT = 'limits-client-token-0123456789';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wizard-limits-'));
const tokensFile = path.join(dir, 'tokens');
const env = { REDIS_URL: testRedisUrl(), WIZARD_PREFIX: testPrefix('limits') };
type ErrorBody = { error: { code: string; message: string; details: { field: string; message: string }[] } };

beforeAll(() => fs.writeFileSync(tokensFile, `ops admin ${ADMIN}\ncli client ${CLIENT}\n`));
afterAll(async () => {
  await killAll();
  fs.rmSync(dir, { recursive: true, force: true });
});

const startApi = async (args: string[], more: Record<string, string> = {}) => {
  const port = await freePort();
  const p = spawnWizard(
    ['api', '--port', String(port), '--tokens-file', tokensFile, ...args],
    { ...env, ...more },
    'api',
  );
  await p.waitForOutput(/api listening/, 30_000);
  return `http://127.0.0.1:${port}`;
};
const as = (token: string) => ({ authorization: `Bearer ${token}` });

test('the variables set the queues, bounds and quotas of `wizard api`; the flags win over them', async () => {
  const api = await startApi([], {
    WIZARD_QUEUES: 'high,low',
    WIZARD_QUOTA_JOBS: '1',
    WIZARD_MAX_ATTEMPTS: '2',
    WIZARD_MAX_DELAY_MS: '1000',
    WIZARD_MAX_DURATION_MS: '600',
    WIZARD_QUOTA_CPU_SECONDS: '1',
  });
  expect(
    (await http<ErrorBody>('POST', `${api}/task`, { a: 1, b: 2, attempts: 3 }, as(CLIENT))).body.error.details[0].field,
  ).toBe('attempts');
  expect(
    (await http<ErrorBody>('POST', `${api}/task`, { a: 1, b: 2, delay_ms: 1001 }, as(CLIENT))).body.error.details[0]
      .field,
  ).toBe('delay_ms');
  expect(
    (
      await http<ErrorBody>(
        'POST',
        `${api}/jobs`,
        { type: 'sim', params: { duration_ms: 601, failure_rate: 0 } },
        as(CLIENT),
      )
    ).body.error.details[0].field,
  ).toBe('params.duration_ms');
  const cpu = await http<ErrorBody>(
    'POST',
    `${api}/jobs`,
    { type: 'sim', params: { duration_ms: 600, failure_rate: 0 }, attempts: 2 },
    as(CLIENT),
  );
  expect([cpu.status, cpu.body.error.details[0].message]).toEqual([429, 'cpu']); // 1.2 core-seconds: more than a whole budget of 1
  expect((await http('POST', `${api}/task`, { a: 1, b: 2, queue: 'low' }, as(CLIENT))).status).toBe(202);
  const over = await http<ErrorBody>('POST', `${api}/task`, { a: 1, b: 2, queue: 'high' }, as(CLIENT));
  expect([over.status, over.body.error.code, over.body.error.details[0].message]).toEqual([
    429,
    'quota_exceeded',
    'jobs',
  ]);
  expect((await http('POST', `${api}/task`, { a: 1, b: 2, queue: 'high' }, as(ADMIN))).status).toBe(202); // an admin has no quota
  // the flag wins over its variable
  const flagged = await startApi(['--quota-jobs', '0', '--max-attempts', '3'], {
    WIZARD_QUOTA_JOBS: '1',
    WIZARD_MAX_ATTEMPTS: '2',
  });
  expect((await http('POST', `${flagged}/task`, { a: 1, b: 2, attempts: 3 }, as(CLIENT))).status).toBe(202);
}, 90_000);

test("a worker's --queue declares it: a client sends a task there and the worker runs it", async () => {
  const api = await startApi([]);
  expect(
    (await http<ErrorBody>('POST', `${api}/task`, { a: 1, b: 2, queue: 'gpu' }, as(CLIENT))).body.error.details[0]
      .field,
  ).toBe('queue');
  const worker = spawnWizard(['worker', '--node-id', 'limits-gpu', '--queue', 'gpu', '--threads', '1'], env, 'worker');
  await worker.waitForOutput(/worker started/, 30_000);
  const made = await http<{ task_id: string }>('POST', `${api}/task`, { a: 20, b: 22, queue: 'gpu' }, as(CLIENT));
  expect(made.status).toBe(202);
  await waitUntil(
    async () =>
      (
        await http<{ status: string; result: number }>(
          'GET',
          `${api}/tasks/${made.body.task_id}/status`,
          undefined,
          as(CLIENT),
        )
      ).body.result === 42,
    30_000,
    'the task on gpu',
  );
  await worker.kill();
}, 90_000);

test.each([
  [['cancel', 'x:results'], '<id>'],
  [['cancel', '5d0c1a2b'], '<id>'],
  [['watch', '00000000-0000-4000-8000-000000000000:children'], '<id>'],
  [['dlq', 'retry', 'nope'], '<id>'],
  [['queue', 'pause', 'a:b'], '<name>'],
  [['queue', 'add', 'no spaces'], '<name>'],
  [['schedules', 'rm', 'a:b'], '<name>'],
  [['submit', 'task', '--a', '1', '--b', '2', '--key', 'a:b'], '--key'],
  [['submit', 'task', '--a', '1', '--b', '2', '--queue', 'q:wait'], '--queue'],
  [['worker', '--queue', 'a:b'], '--queue'],
  [['api', '--queues', 'ok,no:colon'], '--queues'],
  [['api', '--quota-jobs', '-1'], '--quota-jobs'],
  [['api', '--max-attempts', '0'], '--max-attempts'],
])('%j → exit 2 with one line naming %s', (args, said) => {
  // a client command that got past its arguments would find no API here (exit 3, not 2)
  const full = args[0] === 'api' || args[0] === 'worker' ? args : [...args, '--api', 'http://127.0.0.1:9'];
  const { code, stderr, stdout } = runWizard(full, env);
  expect({ code, stdout }).toEqual({ code: 2, stdout: '' });
  expect(stderr.trim().split('\n')).toHaveLength(1);
  expect(stderr).toContain(said);
});

test('`wizard queue add` and `rm` declare and forget a queue (the admin token)', async () => {
  const api = await startApi([]);
  const cli = (...args: string[]) => runWizard([...args, '--api', api, '--token', ADMIN], env);
  expect(cli('queue', 'add', 'batch-2')).toMatchObject({ code: 0, stdout: 'queue batch-2 is declared\n' });
  expect((await http('POST', `${api}/task`, { a: 1, b: 2, queue: 'batch-2' }, as(CLIENT))).status).toBe(202);
  const busy = cli('queue', 'rm', 'batch-2');
  expect(busy.code).toBe(1);
  expect(busy.stderr).toMatch(/queue batch-2 holds jobs/);
  const noAdmin = runWizard(['queue', 'add', 'other', '--api', api, '--token', CLIENT], env);
  expect(noAdmin.code).toBe(1);
  expect(noAdmin.stderr).toMatch(/needs an admin token/);
}, 60_000);
