/**
 * Job control across real processes (`wizard api`, `wizard worker`, the CLI): a cancel while a
 * prime chunk runs in a worker thread, a CPU job past its timeout, priorities as a worker with
 * --concurrency 1 takes them (exact order) from a paused queue that is resumed, delays, and an
 * idempotent retry of a create.
 */
import { RedisStore } from '../../src/store/redis';
import { testPrefix, testRedisUrl } from '../helpers/env';
import { http, killAll, runWizard, spawnWizard, waitUntil, WizardProc } from '../helpers/procs';
import { freePort } from '../helpers/redis-server';

const ADMIN = 'jobctl-admin-token-0123';
const prefix = testPrefix('jobctl');
const env = { REDIS_URL: testRedisUrl(), WIZARD_PREFIX: prefix, ADMIN_TOKEN: ADMIN };
let base: string;
let store: RedisStore;
let worker: WizardProc | null = null;
const cli = (...args: string[]) => runWizard([...args, '--api', base, '--token', ADMIN], env);

beforeAll(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const api = spawnWizard(['api', '--node-id', 'jobctl-api', '--port', String(port)], env, 'api');
  await waitUntil(
    async () =>
      api.proc.exitCode === null &&
      (await fetch(`${base}/healthz`).then(
        (r) => r.ok,
        () => false,
      )),
    15_000,
    `the api: ${api.output()}`,
  );
  store = await new RedisStore({ url: testRedisUrl(), prefix }).connect();
}, 30_000);
afterEach(async () => {
  await worker?.kill('SIGTERM');
  worker = null;
});
afterAll(async () => {
  await store?.close();
  await killAll();
});

const startWorker = async (...args: string[]) => {
  worker = spawnWizard(['worker', '--node-id', `jobctl-worker-${Date.now()}`, ...args], env, 'worker');
  await worker.waitForOutput(/worker started/, 10_000);
  return worker;
};

test('a cancel while a prime chunk runs in a thread: CANCELLED at once, the thread stops within 2 s, the result never lands', async () => {
  const w = await startWorker('--threads', '1', '--concurrency', '1');
  // one chunk near 10^12: seconds of sieving in the worker's one thread
  const { status, body } = await http<{ job_id: string }>('POST', `${base}/jobs`, {
    type: 'primes',
    params: { n: 1e12, chunks: 128 },
  });
  expect(status).toBe(202);
  const id = body.job_id;
  await waitUntil(
    async () => (await store.reads.children(id)).some((c) => c.state === 'STARTED'),
    10_000,
    'a chunk to start',
  );
  await new Promise((r) => setTimeout(r, 300)); // it is computing in the thread
  const cancelled = cli('cancel', id);
  expect([cancelled.code, cancelled.stdout.trim()]).toEqual([0, `${id} is CANCELLED`]);
  const began = Date.now();
  await w.waitForOutput(/job cancelled: aborting it/, 2_000);
  expect(Date.now() - began).toBeLessThan(2_000);
  const chunks = await store.reads.children(id);
  expect(new Set(chunks.map((c) => c.state))).toEqual(new Set(['CANCELLED']));
  expect((await store.reads.job(id))!.state).toBe('CANCELLED');
  // the one thread is free again: a small count runs through it at once
  const small = await http<{ job_id: string }>('POST', `${base}/api/count-primes`, { n: 100_000, chunks: 1 });
  await waitUntil(
    async () => (await store.reads.job(small.body.job_id))?.state === 'SUCCESS',
    2_000,
    'a small count after the cancel',
  );
  expect((await store.reads.job(small.body.job_id))!.result).toMatchObject({ prime_count: 9592 });
  expect(await store.queues.depth('default')).toEqual({ waiting: 0, active: 0, delayed: 0 });
  // cancelling a finished job is a conflict
  expect((await http('POST', `${base}/jobs/${id}/cancel`)).status).toBe(409);
}, 40_000);

test('a CPU job past its timeout is aborted and fails "timed out after N ms"; with one attempt it is DEAD', async () => {
  await startWorker('--threads', '1', '--concurrency', '1');
  const { body } = await http<{ job_id: string }>('POST', `${base}/jobs`, {
    type: 'primes',
    params: { n: 1e12, chunks: 1 },
    timeout_ms: 400,
    attempts: 1,
  });
  const parent = await waitUntil(
    async () => {
      const j = await store.reads.job(body.job_id);
      return j?.state === 'FAILURE' && j;
    },
    5_000,
    'the count to fail',
  );
  expect(parent.error).toBe('chunk 0 failed: timed out after 400 ms');
  const [chunk] = await store.reads.children(body.job_id);
  expect(chunk).toMatchObject({ state: 'DEAD', error: 'timed out after 400 ms', attempts: 1, timeoutMs: 400 });
  expect(chunk.finishedAt! - chunk.startedAt!).toBeLessThan(1_500);
}, 30_000);

test('priorities as a worker with --concurrency 1 takes them: exact order, FIFO within one; nothing while the queue is paused', async () => {
  const queue = 'prio';
  const paused = cli('queue', 'pause', queue);
  expect([paused.code, paused.stdout.trim()]).toEqual([0, `queue ${queue} is paused (0 waiting, 0 active, 0 delayed)`]);
  const priorities = [5, 9, 0, 5, 3, 0, 9, 1];
  const ids: string[] = [];
  for (const [i, priority] of priorities.entries()) {
    const { status, body } = await http<{ job_id: string; priority: number }>('POST', `${base}/jobs`, {
      type: 'task',
      params: { a: i, b: 0 },
      queue,
      priority,
    });
    expect([status, body.priority]).toEqual([202, priority]);
    ids.push(body.job_id);
  }
  const from = await store.events.lastId();
  worker = spawnWizard(['worker', '--node-id', 'jobctl-prio', '--queue', queue, '--concurrency', '1'], env, 'worker');
  await worker.waitForOutput(/worker started/, 10_000);
  await new Promise((r) => setTimeout(r, 700));
  expect((await store.reads.list({ state: 'PENDING' })).jobs.filter((j) => j.queue === queue)).toHaveLength(
    priorities.length,
  );
  const listed = cli('queues', '--json');
  expect(JSON.parse(listed.stdout).queues).toContainEqual({
    name: queue,
    waiting: priorities.length,
    active: 0,
    delayed: 0,
    paused: true,
  });
  expect(cli('queue', 'resume', queue).code).toBe(0);
  await waitUntil(
    async () => (await Promise.all(ids.map((id) => store.reads.job(id)))).every((j) => j?.state === 'SUCCESS'),
    10_000,
    'every task',
  );
  const started = (await store.events.read(from, 0, 1000))
    .filter((e) => e.state === 'STARTED')
    .map((e) => ids.indexOf(e.jobId));
  // by priority, then in the order they were made
  expect(started).toEqual([2, 5, 7, 4, 0, 3, 1, 6]);
}, 40_000);

test('a delayed job is PENDING with its run_at and starts no sooner, by the server clock', async () => {
  await startWorker('--concurrency', '4');
  const { status, body } = await http<{ task_id: string }>('POST', `${base}/task`, { a: 2, b: 3, delay_ms: 1200 });
  expect(status).toBe(202);
  const job = (await http<{ state: string; run_at: string }>('GET', `${base}/jobs/${body.task_id}`)).body;
  expect(job.state).toBe('PENDING');
  const runAt = Date.parse(job.run_at);
  const done = await waitUntil(
    async () => {
      const j = await store.reads.job(body.task_id);
      return j?.state === 'SUCCESS' && j;
    },
    5_000,
    'the delayed task',
  );
  expect(done.startedAt!).toBeGreaterThanOrEqual(runAt);
  expect(done.startedAt! - runAt).toBeLessThan(500); // woken for its due time, not found by polling
  expect(done.result).toBe(5);
}, 20_000);

test('an idempotent retry: the same key answers the first job (200), other params are a 409 naming the key; the CLI --key too', async () => {
  const first = await http<{ job_id: string; existing: boolean }>(
    'POST',
    `${base}/jobs`,
    { type: 'task', params: { a: 1, b: 2 }, delay_ms: 60_000 },
    { 'idempotency-key': 'retry-1' },
  );
  expect([first.status, first.body.existing]).toEqual([202, false]);
  const again = await http<{ job_id: string; status: string; existing: boolean }>(
    'POST',
    `${base}/jobs`,
    { type: 'task', params: { a: 1, b: 2 }, delay_ms: 60_000 },
    { 'idempotency-key': 'retry-1' },
  );
  expect([again.status, again.body]).toMatchObject([
    200,
    { job_id: first.body.job_id, status: 'PENDING', existing: true },
  ]);
  const other = await http<{ error: { message: string; details: { field: string }[] } }>(
    'POST',
    `${base}/jobs`,
    { type: 'task', params: { a: 7, b: 2 } },
    { 'idempotency-key': 'retry-1' },
  );
  expect(other.status).toBe(409);
  expect(other.body.error.message).toContain("'retry-1'");
  expect(other.body.error.details[0].field).toBe('idempotency_key');

  // the same submit twice, under one key: one job
  const keyed = [
    'submit',
    'task',
    '--a',
    '1',
    '--b',
    '2',
    '--key',
    'cli-1',
    '--delay',
    '1m',
    '--priority',
    '2',
    '--json',
  ];
  const a = cli(...keyed);
  const b = cli(...keyed);
  expect([a.code, b.code]).toEqual([0, 0]);
  expect(JSON.parse(b.stdout).task_id).toBe(JSON.parse(a.stdout).task_id);
  expect(await store.reads.job(JSON.parse(a.stdout).task_id)).toMatchObject({
    priority: 2,
    idempotencyKey: 'cli-1',
    state: 'PENDING',
  });
});

test('bad values: 400 naming the field; the CLI exits 2 with one line naming the flag', async () => {
  for (const [body, field] of [
    [{ type: 'task', params: { a: 1, b: 2 }, priority: 10 }, 'priority'],
    [{ type: 'task', params: { a: 1, b: 2 }, delay_ms: 31 * 86_400_000 }, 'delay_ms'],
    [{ type: 'task', params: { a: 1, b: 2 }, run_at: 'tomorrow' }, 'run_at'],
    [{ type: 'task', params: { a: 1, b: 2 }, run_at: new Date(Date.now() + 40 * 86_400_000).toISOString() }, 'run_at'],
    [{ type: 'task', params: { a: 1, b: 2 }, timeout_ms: 0 }, 'timeout_ms'],
    [{ type: 'task', params: { a: 'x', b: 2 } }, 'params.a'],
    [{ type: 'nope', params: {} }, 'type'],
  ] as const) {
    const res = await http<{ error: { details: { field: string }[] } }>('POST', `${base}/jobs`, body);
    expect([field, res.status, res.body.error.details[0].field]).toEqual([field, 400, field]);
  }
  for (const [flag, value] of [
    ['--priority', '12'],
    ['--delay', '31d'],
    ['--timeout', 'soon'],
    ['--at', 'tomorrow'],
  ]) {
    const r = cli('submit', 'task', '--a', '1', '--b', '2', flag, value);
    expect([r.code, r.stdout]).toEqual([2, '']);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringContaining(flag)]);
  }
});

test('a bot holding a cancelled job learns it at its next call: 409 job_cancelled; its heartbeat shows no job', async () => {
  const bot = (await http<{ token: string }>('POST', `${base}/bots/register`, { name: 'jobctl-bot' })).body;
  const as = { authorization: `Bearer ${bot.token}` };
  const made = await http<{ job_id: string; queue: string }>('POST', `${base}/jobs`, {
    type: 'sim',
    params: { duration_ms: 10, failure_rate: 0 },
  });
  expect([made.status, made.body.queue]).toEqual([202, 'bots']);
  const claimed = await http<{ job: { job_id: string } }>('POST', `${base}/jobs/claim`, {}, as);
  expect(claimed.body.job.job_id).toBe(made.body.job_id);
  expect((await http('POST', `${base}/jobs/${made.body.job_id}/cancel`)).status).toBe(200);
  const late = await http<{ error: { code: string } }>(
    'POST',
    `${base}/jobs/${made.body.job_id}/complete`,
    { result: 1 },
    as,
  );
  expect([late.status, late.body.error.code]).toEqual([409, 'job_cancelled']);
  expect(
    (await http<{ current_job: string | null }>('POST', `${base}/bots/heartbeat`, undefined, as)).body.current_job,
  ).toBeNull();
  expect((await store.reads.job(made.body.job_id))!.state).toBe('CANCELLED');
});
