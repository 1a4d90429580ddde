/**
 * An out-of-memory episode: Redis at its maxmemory with noeviction (a big key, then CONFIG SET
 * maxmemory below what is used) while a worker holds jobs. Writes answer 503 naming it, reads go
 * on (a task's status too), /health says degraded with the reason and /metrics shows it; a claim
 * takes nothing, the acknowledgements that Redis refuses are retried and the leases are kept,
 * so once memory is freed every job ends SUCCESS exactly once, with one attempt.
 */
import { createClient } from 'redis';
import { StoreOutOfMemoryError } from '../../src/core/errors';
import { RedisStore } from '../../src/store/redis';
import { testPrefix } from '../helpers/env';
import { ownRedisServer } from '../helpers/own-redis';
import { http, spawnWizard, waitUntil } from '../helpers/procs';
import { freePort } from '../helpers/redis-server';

const ownRedis = ownRedisServer();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const count = (text: string, re: RegExp) => (text.match(new RegExp(re.source, 'g')) ?? []).length;
const ADMIN = { authorization: 'Bearer oom-admin-token-0123456' };

test('out of memory is an outage: writes 503, reads served, health degraded, and no job runs twice', async () => {
  const prefix = testPrefix('oom');
  const env = {
    REDIS_URL: ownRedis().url,
    WIZARD_PREFIX: prefix,
    ADMIN_TOKEN: 'oom-admin-token-0123456',
    WIZARD_THREADS: '1',
    PROCESSING_DURATION_MS: '3000',
    FAILURE_RATE: '0',
    POPULATE_INTERVAL_MS: '600000',
  };
  const port = await freePort();
  const api = `http://127.0.0.1:${port}`;
  const apiProc = spawnWizard(['api', '--port', String(port), '--node-id', 'oom-api'], env, 'api');
  // the bots' queue worked by a worker: its jobs (simulated work, 3 s each) are held through the episode;
  // a 2 s lease lapses unless it is renewed under OOM too
  const simWorker = spawnWizard(
    ['worker', '--node-id', 'oom-sim-worker', '--queue', 'bots', '--concurrency', '4', '--lease-ms', '2000'],
    env,
    'sim-worker',
  );
  const taskWorker = spawnWizard(['worker', '--node-id', 'oom-task-worker', '--lease-ms', '2000'], env, 'task-worker');
  await Promise.all([apiProc, simWorker, taskWorker].map((p) => p.waitForOutput(/api listening|worker started/)));
  const store = await new RedisStore({ url: ownRedis().url, prefix }).connect();
  const redis = createClient({ url: ownRedis().url });
  await redis.connect();
  try {
    const tasks = new Map<string, number>();
    for (let a = 1; a <= 10; a++) {
      const r = await http<{ task_id: string }>('POST', `${api}/task`, { a, b: 100 });
      expect(r.status).toBe(202);
      tasks.set(r.body.task_id, a + 100);
    }
    const doneTask = [...tasks.keys()][0];
    await waitUntil(async () => (await store.reads.job(doneTask))?.state === 'SUCCESS', 10_000, 'a first task done');
    const populated = await http<{ job_ids: string[] }>('POST', `${api}/jobs/populate`, { count: 8 }, ADMIN);
    expect(populated.status).toBe(201);
    await waitUntil(
      async () => (await store.queues.depth('bots')).active === 4,
      10_000,
      '4 simulated jobs held by the worker',
    );

    // out of memory: a 16 MB key (sent in small pieces: a big command's query buffer would count
    // until Redis shrinks it), then maxmemory 4 MB below what is used; freeing the key ends it
    const piece = 'x'.repeat(256 * 1024);
    for (let i = 0; i < 64; i++) await redis.append(`${prefix}-filler`, piece);
    const used = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);
    await redis.configSet({ maxmemory: String(used - 4 * 1024 * 1024), 'maxmemory-policy': 'noeviction' });
    const oomAt = Date.now();

    const write = await http<{
      error: { code: string; message: string; details: { field: string; message: string }[] };
    }>('POST', `${api}/task`, { a: 1, b: 1 });
    expect(write.status).toBe(503);
    expect(write.headers.get('retry-after')).toBe('1');
    expect(write.body.error.code).toBe('store_unavailable');
    expect(write.body.error.message).toMatch(/out of memory/);
    expect(write.body.error.details).toEqual([{ field: 'store', message: 'out of memory' }]);
    const read = await http<{ status: string; result: number }>('GET', `${api}/tasks/${doneTask}/status`);
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ status: 'SUCCESS', result: tasks.get(doneTask) });
    const health = await http<{ status: string; condition: { reason: string } }>('GET', `${api}/health`);
    expect(health.status).toBe(200);
    expect(health.body.status).toBe('degraded');
    expect(health.body.condition.reason).toBe('out of memory');
    // the abacus's two ways to add are refused the same way (a script; WATCH and a MULTI whose SET Redis refuses)
    await expect(store.abacus.add(1, 'atomic')).rejects.toBeInstanceOf(StoreOutOfMemoryError);
    await expect(store.abacus.add(1, 'optimistic')).rejects.toBeInstanceOf(StoreOutOfMemoryError);
    const metrics = await http<string>('GET', `${api}/metrics`);
    expect(metrics.body).toContain('wizard_store_condition{reason="out of memory"} 1');
    expect(metrics.body).toContain('wizard_store_condition{reason="unavailable"} 0');

    // the held jobs finish (at 3 s) while Redis refuses writes: their acks wait, and nothing more is claimed
    await sleep(Math.max(0, 5000 - (Date.now() - oomAt)));
    expect(await store.queues.depth('bots')).toEqual({ waiting: 4, active: 4, delayed: 0 });
    await simWorker.waitForOutput(/lost the store.*out of memory/, 1000);

    await redis.del(`${prefix}-filler`);
    const all = await waitUntil(
      async () => {
        const { jobs, total } = await store.reads.list({ limit: 100 });
        return total === 18 && jobs.every((j) => j.state === 'SUCCESS') ? jobs : null;
      },
      20_000,
      'every job to succeed once memory is back',
      200,
    ).catch(async (err) => {
      const { jobs } = await store.reads.list({ limit: 100 });
      throw new Error(
        `${String(err)}\n${JSON.stringify(jobs.map((j) => [j.type, j.state, j.attempts, j.error]))}\n${simWorker.output().slice(-3000)}`,
      );
    });
    expect(all.map((j) => j.attempts)).toEqual(all.map(() => 1));
    for (const [id, expected] of tasks) expect(all.find((j) => j.id === id)?.result).toBe(expected);
    // each job entered the datalake once
    const days = await store.lake.days();
    expect(days.reduce((n, d) => n + d.total, 0)).toBe(18);

    await simWorker.waitForOutput(/store is back/, 5000);
    expect([count(simWorker.output(), /lost the store/), count(simWorker.output(), /store is back/)]).toEqual([1, 1]);
    const healthy = await http<{ status: string }>('GET', `${api}/health`);
    expect(healthy.body.status).toBe('healthy');
  } finally {
    await redis.configSet('maxmemory', '0').catch(() => undefined);
    await redis.quit();
    await store.close();
  }
}, 60_000);
