/**
 * A partition: a TCP proxy between the roles and Redis stops forwarding (nothing is closed,
 * bytes are held as a dropping network holds them) while tasks are being submitted and worked.
 * Within a few seconds every route that needs the store answers 503 JSON with Retry-After; the
 * worker, the scheduler and a bot each log once that they lost the store and once that it is
 * back; after the heal every job, including those whose POST was answered 503 but applied when
 * the held bytes arrived, ends SUCCESS with its exact result and one attempt.
 */
import { RedisStore } from '../../src/store/redis';
import { testPrefix } from '../helpers/env';
import { ownRedisServer } from '../helpers/own-redis';
import { http, spawnWizard, waitUntil } from '../helpers/procs';
import { freePort } from '../helpers/redis-server';
import { startTcpProxy, TcpProxy } from '../helpers/tcp-proxy';
import type { Job } from '../../src/core/job';

const ownRedis = ownRedisServer();
const CUT_MS = 6000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const count = (text: string, re: RegExp) => (text.match(new RegExp(re.source, 'g')) ?? []).length;

let proxy: TcpProxy;
afterAll(async () => {
  await proxy?.close();
});

test('a partition is a prompt 503 and a logged outage, and every job still runs once with its exact result', async () => {
  proxy = await startTcpProxy(ownRedis().port);
  const prefix = testPrefix('partition');
  const env = {
    REDIS_URL: proxy.url,
    WIZARD_PREFIX: prefix,
    WIZARD_LEASE_MS: '10000',
    WIZARD_CONCURRENCY: '8',
    WIZARD_THREADS: '1',
    POPULATE_INTERVAL_MS: '600000',
    BATCH_SIZE: '2',
    PROCESSING_DURATION_MS: '100',
    FAILURE_RATE: '0',
    HEARTBEAT_INTERVAL_MS: '500',
    BOT_DOWN_AFTER_MS: '60000',
  };
  const port = await freePort();
  const api = `http://127.0.0.1:${port}`;
  const apiProc = spawnWizard(['api', '--port', String(port), '--node-id', 'part-api'], env, 'api');
  const worker = spawnWizard(['worker', '--node-id', 'part-worker'], env, 'worker');
  const scheduler = spawnWizard(['scheduler', '--node-id', 'part-scheduler'], env, 'scheduler');
  await apiProc.waitForOutput(/api listening/);
  const bot = spawnWizard(['bot', '--api', api, '--name', 'part-bot', '--poll-ms', '200'], env, 'bot');
  await Promise.all([
    worker.waitForOutput(/worker started/),
    scheduler.waitForOutput(/leading/),
    bot.waitForOutput(/registered/),
  ]);
  const store = await new RedisStore({ url: ownRedis().url, prefix }).connect(); // the test's own view, not through the proxy

  /** tasks answered 202, by id, with their expected result */
  const accepted = new Map<string, number>();
  let n = 0;
  let submitting = true;
  // three submitters keep the worker claiming, so claims and acknowledgements are on the wire when the cut comes
  const submitter = Promise.all(
    [1, 2, 3].map(async () => {
      while (submitting) {
        const a = ++n;
        const res = await http<{ task_id: string }>('POST', `${api}/task`, { a, b: 1000 }).catch(() => null);
        if (res?.status === 202) accepted.set(res.body.task_id, a + 1000);
        await sleep(20);
      }
    }),
  );
  try {
    await waitUntil(async () => accepted.size >= 40, 20_000, '40 tasks accepted before the cut', 50);
    const someTask = [...accepted.keys()][0];

    proxy.cut();
    const cutAt = Date.now();
    const answers: Record<string, { status: number; ms: number; retryAfter: string | null; code: string | undefined }> =
      {};
    for (const [name, method, path, body] of [
      ['health', 'GET', '/health', undefined],
      ['task', 'POST', '/task', { a: 1, b: 2 }],
      ['status', 'GET', `/tasks/${someTask}/status`, undefined],
      ['summary', 'GET', '/metrics/summary', undefined],
    ] as const) {
      const started = Date.now();
      const res = await http<{ error?: { code: string }; status?: string; condition?: { reason: string } }>(
        method,
        `${api}${path}`,
        body,
      );
      answers[name] = {
        status: res.status,
        ms: Date.now() - started,
        retryAfter: res.headers.get('retry-after'),
        code: res.body.error?.code,
      };
      if (name === 'health')
        expect(res.body).toMatchObject({ status: 'unhealthy', condition: { reason: 'unavailable' } });
    }
    const allAnsweredAfter = Date.now() - cutAt;
    for (const a of Object.values(answers))
      expect(a).toMatchObject({ status: 503, retryAfter: '1', code: 'store_unavailable' });
    const metrics = await http<string>('GET', `${api}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.body).toContain('wizard_store_up 0');
    expect(metrics.body).toContain('wizard_store_condition{reason="unavailable"} 1');
    // each answered within a few seconds of the cut (the first waits out the call deadline, 2.5 s)
    expect(allAnsweredAfter).toBeLessThan(5000);
    for (const a of Object.values(answers)) expect(a.ms).toBeLessThan(5000);

    await sleep(CUT_MS - (Date.now() - cutAt));
    for (const p of [worker, scheduler, bot]) await p.waitForOutput(/lost the store/, 5000);
    proxy.heal();
    await sleep(500);
    submitting = false;
    await submitter;

    // every job in the store (the tasks, answered 202 or not, and the scheduler's batch for the
    // bot): SUCCESS with one attempt, each task with its exact result
    const all = await waitUntil(
      async () => {
        const { jobs, total } = await store.reads.list({ limit: 500 });
        return total === jobs.length && jobs.every((j) => j.state === 'SUCCESS') ? jobs : null;
      },
      30_000,
      'every task to succeed after the heal',
      200,
    ).catch(async (err) => {
      const { jobs } = await store.reads.list({ limit: 500 });
      throw new Error(
        `${String(err)}\nnot done: ${JSON.stringify(jobs.filter((j) => j.state !== 'SUCCESS').map((j) => [j.id, j.state, j.attempts, j.error]))}`,
      );
    });
    const wrong = all.filter((j: Job) => {
      const p = j.params as { a: number; b: number };
      return (j.type === 'task' && j.result !== p.a + p.b) || j.attempts !== 1;
    });
    expect(wrong.map((j) => ({ id: j.id, result: j.result, params: j.params, attempts: j.attempts }))).toEqual([]);
    for (const [id, expected] of accepted) expect(all.find((j) => j.id === id)?.result).toBe(expected);
    expect(all.length).toBeGreaterThanOrEqual(accepted.size);

    // the outage, logged once per process and role (not per lane, per loop or per retry), and its end once
    await Promise.all([worker, scheduler, bot].map((p) => p.waitForOutput(/store is back/, 15_000)));
    for (const p of [worker, scheduler, bot]) {
      expect({
        name: p.name,
        lost: count(p.output(), /lost the store/),
        back: count(p.output(), /store is back/),
      }).toEqual({ name: p.name, lost: 1, back: 1 });
    }
    const health = await http<{ status: string }>('GET', `${api}/health`);
    expect(health.status).toBe(200);
    expect(health.body.status).toBe('healthy');
  } finally {
    submitting = false;
    await submitter;
    await store.close();
  }
}, 90_000);
