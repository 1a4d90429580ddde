/** SIGTERM: a worker stops claiming, finishes what it can, releases the rest and exits 0 within 10 s. */
import { RedisStore } from '../../src/store/redis';
import { testPrefix, testRedisUrl } from '../helpers/env';
import { killAll, spawnWizard, waitUntil } from '../helpers/procs';

afterAll(killAll);

test('on SIGTERM a worker finishes short jobs, releases long ones and exits 0 within 10 s', async () => {
  const prefix = testPrefix('worker-shutdown');
  const store = await new RedisStore({ url: testRedisUrl(), prefix }).connect();
  try {
    const short = await store.jobs.enqueue(
      Array.from({ length: 3 }, () => ({ type: 'sim' as const, params: { duration_ms: 1500, failure_rate: 0 } })),
    );
    const long = await store.jobs.enqueue(
      Array.from({ length: 3 }, () => ({ type: 'sim' as const, params: { duration_ms: 60_000, failure_rate: 0 } })),
    );
    const worker = spawnWizard(['worker', '--node-id', 'w-term', '--concurrency', '6'], {
      REDIS_URL: testRedisUrl(),
      WIZARD_PREFIX: prefix,
    });
    await waitUntil(
      async () => (await store.queues.depth('default')).active === 6,
      15_000,
      'the worker to hold all 6 jobs',
    );
    const started = Date.now();
    expect(await worker.kill('SIGTERM')).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
    for (const j of short) expect(await store.reads.job(j.id)).toMatchObject({ state: 'SUCCESS', attempts: 1 });
    for (const j of long)
      expect(await store.reads.job(j.id)).toMatchObject({ state: 'PENDING', attempts: 0, handledBy: null });
    expect(await store.queues.depth('default')).toEqual({ waiting: 3, active: 0, delayed: 0 });
    expect(await store.nodes.live('worker')).toEqual([]);
  } finally {
    await store.close();
  }
}, 40_000);
