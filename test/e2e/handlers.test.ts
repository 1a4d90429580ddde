/**
 * Job types from a module (--handlers), across real processes: the built wizard's api and worker
 * on a real Redis, and `up` in memory. A type runs end to end; a `cpu: true` type runs on a
 * worker thread; a cancel reaches a running handler's ctx.signal; a timeout and a permanent error
 * follow the type's policy; progress shows in GET /jobs/:id and the SSE stream; a bad module or
 * definition stops the role with exit 2 and one line; ESM and CommonJS modules both load.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { testPrefix, testRedisUrl } from '../helpers/env';
import { http, killAll, runWizard, spawnWizard, waitUntil } from '../helpers/procs';
import { freePort } from '../helpers/redis-server';

afterAll(killAll);

interface JobView {
  job_id: string;
  state: string;
  result: unknown;
  error: string | null;
  attempts: number;
  progress: { completed: number; total: number } | null;
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wizard-handlers-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const write = (name: string, text: string) => {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, text);
  return file;
};

const ESM = write(
  'types.mjs',
  `
import fs from 'node:fs';
import { isMainThread, threadId } from 'node:worker_threads';
export default {
  wordcount: {
    params: { type: 'object', required: ['text'], properties: { text: { type: 'string' } } },
    async run(params, ctx) { ctx.log.info('counting', { chars: params.text.length }); return { words: params.text.split(/\\s+/).length, attempt: ctx.attempt, job: ctx.jobId }; },
  },
  spin: {
    params: { type: 'object', required: ['n'], properties: { n: { type: 'integer' } } },
    cpu: true,
    run(params, ctx) { let s = 0; for (let i = 0; i < params.n; i++) s += i; ctx.progress(1); ctx.log.warn('spun'); return { sum: s, mainThread: isMainThread, threadId }; },
  },
  waiting: {
    params: { type: 'object', required: ['marker'], properties: { marker: { type: 'string' } } },
    async run(params, ctx) {
      ctx.progress({ completed: 2, total: 5 });
      await new Promise((r) => ctx.signal.addEventListener('abort', r, { once: true }));
      fs.writeFileSync(params.marker, 'aborted: ' + ctx.signal.reason.name);
      return 'too late';
    },
  },
  cpuwait: {
    params: { type: 'object', required: ['marker'], properties: { marker: { type: 'string' } } },
    cpu: true,
    attempts: 1,
    async run(params, ctx) {
      ctx.progress({ completed: 1, total: 4 });
      await new Promise((r) => ctx.signal.addEventListener('abort', r, { once: true }));
      fs.writeFileSync(params.marker, 'aborted: ' + ctx.signal.reason.name + ': ' + ctx.signal.reason.message + (isMainThread ? ' (main thread)' : ' (pool thread)'));
      return 'too late';
    },
  },
  hang: { params: { type: 'object' }, attempts: 2, backoff_ms: 10, timeout_ms: 300, run() { return new Promise(() => {}); } },
  refuse: { params: { type: 'object' }, attempts: 5, run() { throw Object.assign(new Error('no such account'), { permanent: true }); } },
};
`,
);

const ADMIN = 'handlers-admin-token-0123456789';

const CJS = write(
  'types.cjs',
  `
module.exports = { echo: { params: { type: 'object', required: ['say'], properties: { say: { type: 'string' } } }, run: (p, ctx) => ({ said: p.say, attempt: ctx.attempt }) } };
`,
);

describe('api and worker on Redis with an ESM module', () => {
  let api: string;
  const job = async (id: string) => (await http<JobView>('GET', `${api}/jobs/${id}`)).body;
  const submit = async (type: string, params: unknown) => {
    const r = await http<{ job_id: string }>('POST', `${api}/jobs`, { type, params });
    expect(r.status).toBe(202);
    return r.body.job_id;
  };
  const final = (id: string) =>
    waitUntil(
      async () => {
        const j = await job(id);
        return ['SUCCESS', 'FAILURE', 'DEAD', 'CANCELLED'].includes(j.state) ? j : null;
      },
      30_000,
      `job ${id} to end`,
    );

  const env = { REDIS_URL: testRedisUrl(), WIZARD_PREFIX: testPrefix('handlers') };
  beforeAll(async () => {
    const port = await freePort();
    api = `http://127.0.0.1:${port}`;
    const withModule = { ...env, WIZARD_HANDLERS: ESM, ADMIN_TOKEN: ADMIN };
    const a = spawnWizard(['api', '--port', String(port)], withModule, 'api-handlers');
    const w = spawnWizard(['worker', '--threads', '1', '--concurrency', '4'], withModule, 'worker-handlers');
    await Promise.all([a.waitForOutput(/api listening/), w.waitForOutput(/worker started/)]);
  }, 60_000);

  test('a user type runs end to end: its exact result, attempt 1', async () => {
    const id = await submit('wordcount', { text: 'one two three' });
    expect(await final(id)).toMatchObject({ state: 'SUCCESS', attempts: 1, result: { words: 3, attempt: 1, job: id } });
    // its ctx.log line is kept with the job, for its page
    const log = await http<{ lines: unknown[] }>('GET', `${api}/jobs/${id}/log`);
    expect(log.body.lines).toEqual([
      { at: expect.stringMatching(/^\d{4}-/), level: 'info', msg: 'counting', fields: { chars: 13 } },
    ]);
  });

  test("params are checked by the type's schema; an unknown type lists the known ones", async () => {
    type Err = { error: { message: string; details: { field: string; message: string }[] } };
    const bad = await http<Err>('POST', `${api}/jobs`, { type: 'wordcount', params: { text: 5 } });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({
      message: 'params.text: must be string',
      details: [{ field: 'params.text', message: 'must be string' }],
    });
    const missing = await http<Err>('POST', `${api}/jobs`, { type: 'wordcount', params: {} });
    expect(missing.body.error.message).toBe("params.text: must have required property 'text'");
    const unknown = await http<Err>('POST', `${api}/jobs`, { type: 'nope', params: {} });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.message).toBe(
      "type must be one of task, primes, sim, wordcount, spin, waiting, cpuwait, hang, refuse, got 'nope'",
    );
    const doc = (await http<{ components: { schemas: Record<string, unknown> } }>('GET', `${api}/openapi.json`)).body;
    expect(doc.components.schemas['wordcount.params']).toEqual({
      type: 'object',
      required: ['text'],
      properties: { text: { type: 'string' } },
    });
  });

  test("a schedule of a module's type: its params checked by the type's schema, its jobs on the workers' queue", async () => {
    const auth = { Authorization: `Bearer ${ADMIN}` };
    const bad = await http<{ error: { message: string } }>(
      'POST',
      `${api}/schedules`,
      { name: 'wc-bad', type: 'wordcount', params: { text: 1 }, every_ms: 60_000 },
      auth,
    );
    expect([bad.status, bad.body.error.message]).toEqual([400, 'params.text: must be string']);
    const unknown = await http<{ error: { message: string } }>(
      'POST',
      `${api}/schedules`,
      { name: 'wc-bad', type: 'nope', every_ms: 60_000 },
      auth,
    );
    expect([unknown.status, unknown.body.error.message]).toEqual([
      400,
      "type must be one of sim, task, primes, wordcount, spin, waiting, cpuwait, hang, refuse, got 'nope'",
    ]);
    const ok = await http(
      'POST',
      `${api}/schedules`,
      { name: 'wc', type: 'wordcount', params: { text: 'a b' }, every_ms: 60_000 },
      auth,
    );
    expect(ok).toMatchObject({
      status: 201,
      body: {
        name: 'wc',
        type: 'wordcount',
        params: { text: 'a b' },
        queue: 'default',
        attempts: 3,
        timeout_ms: 600_000,
      },
    });
    expect((await http('DELETE', `${api}/schedules/wc`, undefined, auth)).status).toBe(204);
  });

  test("a scheduler without the module makes a schedule's jobs with the attempts and timeout its type had when it was saved", async () => {
    const auth = { Authorization: `Bearer ${ADMIN}` };
    const saved = await http('POST', `${api}/schedules`, { name: 'hang-every', type: 'hang', every_ms: 1000 }, auth);
    expect(saved).toMatchObject({ status: 201, body: { attempts: 2, timeout_ms: 300 } });
    const s = spawnWizard(['scheduler', '--node-id', 'handlers-sched'], env, 'scheduler-handlers'); // no WIZARD_HANDLERS
    await s.waitForOutput(/schedule occurrence made/);
    expect((await http('DELETE', `${api}/schedules/hang-every`, undefined, auth)).status).toBe(204);
    await s.kill('SIGTERM');
    const list = (
      await http<{
        jobs: (JobView & { type: string; schedule: string | null; max_attempts: number; timeout_ms: number | null })[];
      }>('GET', `${api}/jobs?limit=500`)
    ).body.jobs;
    const made = list.filter((j) => j.schedule === 'hang-every');
    expect(made.length).toBeGreaterThanOrEqual(1);
    for (const j of made) expect([j.type, j.max_attempts, j.timeout_ms]).toEqual(['hang', 2, 300]);
    // the worker (with the module) runs them by that policy: a timeout on each of the 2 attempts
    expect(await final(made[0].job_id)).toMatchObject({ state: 'DEAD', attempts: 2, error: 'timed out after 300 ms' });
  });

  test("POST /jobs/populate makes a batch of a module's type: its params checked by its schema, its jobs run by the workers", async () => {
    const admin = { Authorization: `Bearer ${ADMIN}` };
    type Err = { error: { message: string; details: { field: string }[] } };
    const bad = await http<Err>(
      'POST',
      `${api}/jobs/populate`,
      { count: 2, type: 'wordcount', params: { text: 5 } },
      admin,
    );
    expect([bad.status, bad.body.error.message]).toEqual([400, 'params.text: must be string']);
    const unknown = await http<Err>('POST', `${api}/jobs/populate`, { count: 2, type: 'primes' }, admin);
    expect([unknown.status, unknown.body.error.message]).toEqual([
      400,
      "type must be one of sim, task, wordcount, spin, waiting, cpuwait, hang, refuse, got 'primes'",
    ]);
    const made = await http<{ created: number; type: string; queue: string; job_ids: string[] }>(
      'POST',
      `${api}/jobs/populate`,
      { count: 2, type: 'hang' },
      admin,
    );
    expect(made).toMatchObject({ status: 201, body: { created: 2, type: 'hang', queue: 'default' } });
    const wc = await http<{ created: number; type: string; queue: string; job_ids: string[] }>(
      'POST',
      `${api}/jobs/populate`,
      { count: 2, type: 'wordcount', params: { text: 'a b c d' } },
      admin,
    );
    expect(wc).toMatchObject({ status: 201, body: { created: 2, type: 'wordcount', queue: 'default' } });
    for (const id of wc.body.job_ids)
      expect(await final(id)).toMatchObject({
        state: 'SUCCESS',
        attempts: 1,
        result: { words: 4, attempt: 1, job: id },
      });
    // the type's policy: 2 attempts, each timed out
    for (const id of made.body.job_ids)
      expect(await final(id)).toMatchObject({ state: 'DEAD', attempts: 2, error: 'timed out after 300 ms' });
  });

  test('a cpu type runs on a pool thread, not the main one', async () => {
    const id = await submit('spin', { n: 1000 });
    const done = await final(id);
    expect(done).toMatchObject({
      state: 'SUCCESS',
      attempts: 1,
      result: { sum: 499500, mainThread: false },
      progress: { completed: 1, total: 1 },
    });
    expect((done.result as { threadId: number }).threadId).toBeGreaterThan(0);
    // a line logged on the thread is kept with the job too
    const lines = await waitUntil(
      async () => {
        const log = await http<{ lines: { level: string; msg: string }[] }>('GET', `${api}/jobs/${id}/log`);
        return log.body.lines.length > 0 ? log.body.lines : null;
      },
      10_000,
      `job ${id}'s log line`,
    );
    expect(lines.map((l) => [l.level, l.msg])).toEqual([['warn', 'spun']]);
  });

  test('progress shows in GET /jobs/:id and the SSE stream; a cancel aborts the running handler', async () => {
    const marker = path.join(tmp, 'cancelled.txt');
    const id = await submit('waiting', { marker });
    await waitUntil(async () => (await job(id)).progress?.total === 5, 20_000, 'the progress in the record');
    expect((await job(id)).progress).toEqual({ completed: 2, total: 5 });
    const res = await fetch(`${api}/api/jobs/${id}/events`);
    const reader = res.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    await reader.cancel();
    expect(first).toContain('"progress":{"completed":2,"total":5}');
    expect((await http('POST', `${api}/jobs/${id}/cancel`)).status).toBe(200);
    expect(await final(id)).toMatchObject({ state: 'CANCELLED' });
    const seen = await waitUntil(
      async () => fs.existsSync(marker) && fs.readFileSync(marker, 'utf8'),
      10_000,
      'the handler to see the abort',
    );
    expect(seen).toBe('aborted: JobCancelledError');
  });

  test("a cpu type's ctx.signal aborts on its pool thread: a cancel, then a timeout, each reaches the handler", async () => {
    const cancelled = path.join(tmp, 'cpu-cancelled.txt');
    const id = await submit('cpuwait', { marker: cancelled });
    await waitUntil(async () => (await job(id)).progress?.total === 4, 20_000, 'the cpu handler to start');
    expect((await http('POST', `${api}/jobs/${id}/cancel`)).status).toBe(200);
    expect(await final(id)).toMatchObject({ state: 'CANCELLED', attempts: 1 });
    const seen = await waitUntil(
      async () => fs.existsSync(cancelled) && fs.readFileSync(cancelled, 'utf8'),
      10_000,
      'the cpu handler to see the cancel',
    );
    expect(seen).toBe(`aborted: JobCancelledError: job ${id} was cancelled: its result is refused (pool thread)`);

    const timedOut = path.join(tmp, 'cpu-timeout.txt');
    const r = await http<{ job_id: string }>('POST', `${api}/jobs`, {
      type: 'cpuwait',
      params: { marker: timedOut },
      timeout_ms: 500,
    });
    expect(r.status).toBe(202);
    expect(await final(r.body.job_id)).toMatchObject({ state: 'DEAD', attempts: 1, error: 'timed out after 500 ms' });
    const said = await waitUntil(
      async () => fs.existsSync(timedOut) && fs.readFileSync(timedOut, 'utf8'),
      10_000,
      'the cpu handler to see the timeout',
    );
    expect(said).toBe('aborted: TimeoutError: timed out after 500 ms (pool thread)');
  });

  test('a handler that never finishes times out on each of its attempts', async () => {
    const id = await submit('hang', {});
    expect(await final(id)).toMatchObject({ state: 'DEAD', attempts: 2, error: 'timed out after 300 ms' });
  });

  test('a permanent error fails the job at once', async () => {
    const id = await submit('refuse', {});
    expect(await final(id)).toMatchObject({ state: 'FAILURE', attempts: 1, error: 'no such account' });
  });
});

test('up loads a CommonJS module', async () => {
  const port = await freePort();
  const up = spawnWizard(['up', '--port', String(port), '--bots', '0', '--handlers', CJS], {}, 'up-cjs');
  await up.waitForOutput(/API and dashboard at/);
  const r = await http<{ job_id: string }>('POST', `http://127.0.0.1:${port}/jobs`, {
    type: 'echo',
    params: { say: 'hi' },
  });
  expect(r.status).toBe(202);
  const done = await waitUntil(
    async () => {
      const j = (await http<JobView>('GET', `http://127.0.0.1:${port}/jobs/${r.body.job_id}`)).body;
      return j.state === 'SUCCESS' ? j : null;
    },
    20_000,
    'the echo job',
  );
  expect(done).toMatchObject({ attempts: 1, result: { said: 'hi', attempt: 1 } });
  await up.kill('SIGTERM');
}, 60_000);

describe('a bad module or definition stops the role: exit 2, one line naming the type and field', () => {
  const cases: [string, string, RegExp][] = [
    ['missing', '', /^error: --handlers .*missing\.mjs: the module does not load: /],
    ['syntax', 'export default {', /^error: --handlers .*syntax\.mjs: the module does not load: /],
    [
      'run',
      "export default { a: { params: {}, run: 'no' } }",
      /^error: --handlers .*: type a: run must be a function$/,
    ],
    [
      'field',
      'export default { a: { run() {}, retries: 3 } }',
      /^error: --handlers .*: type a: retries is not a field of a type \(params, run, cpu, attempts, backoff_ms, timeout_ms, queue\)$/,
    ],
    [
      'schema',
      "export default { a: { run() {}, params: { type: 'nonsense' } } }",
      /^error: --handlers .*: type a: params is not a valid JSON Schema: /,
    ],
    [
      'builtin',
      'export default { task: { run() {} } }',
      /^error: --handlers .*: type task: the name is a built-in type \(task, primes, primes_chunk, sim\)$/,
    ],
    [
      'queue',
      "export default { a: { queue: 'no spaces' } }",
      /^error: --handlers .*: type a: queue must be 1-64 of letters, digits, _ \. -$/,
    ],
    [
      'attempts',
      'export default { a: { run() {}, attempts: 0 } }',
      /^error: --handlers .*: type a: attempts must be an integer from 1 to 100$/,
    ],
  ];
  test.each(cases)('%s', (name, text, line) => {
    const file = name === 'missing' ? path.join(tmp, 'missing.mjs') : write(`${name}.mjs`, text);
    for (const role of ['worker', 'api']) {
      const r = runWizard([role, '--handlers', file], { REDIS_URL: 'redis://127.0.0.1:1' });
      expect(r.code).toBe(2);
      const lines = r.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(line);
    }
  });
});

test("--job-type takes a module's type: its --job-params checked by its schema, an unknown type listing the module's", () => {
  const bad = runWizard(['scheduler', '--handlers', ESM, '--job-type', 'wordcount', '--job-params', '{"text":1}'], {
    REDIS_URL: 'redis://127.0.0.1:1',
  });
  expect([bad.code, bad.stderr.trim().split('\n')]).toEqual([2, ['error: --job-params.text: must be string']]);
  const unknown = runWizard(['scheduler', '--handlers', ESM, '--job-type', 'nope'], {
    REDIS_URL: 'redis://127.0.0.1:1',
  });
  expect([unknown.code, unknown.stderr.trim().split('\n')]).toEqual([
    2,
    ["error: --job-type must be one of sim, task, wordcount, spin, waiting, cpuwait, hang, refuse, got 'nope'"],
  ]);
});
