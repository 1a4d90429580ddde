/**
 * Workers across smaller faults, with real processes: the chunks a worker is computing when
 * their prime count fails are cancelled with it (refused, never retried, never DEAD).
 */
import { RedisStore } from '../../src/store/redis';
import { testPrefix, testRedisUrl } from '../helpers/env';
import { killAll, spawnWizard, waitUntil } from '../helpers/procs';

afterAll(killAll);

test('a prime count that fails: the chunks still running end cancelled, none DEAD, none in the dead-letter queue', async () => {
  const prefix = testPrefix('chunk-cancel');
  const store = await new RedisStore({ url: testRedisUrl(), prefix }).connect();
  try {
    // chunk 0 fails at once, on its only attempt; 1 and 2 take seconds each in the worker's threads
    const slow = (index: number) => ({ type: 'primes_chunk' as const, params: { lo: 1e12 - (index + 1) * 4e9, hi: 1e12 - index * 4e9, index } });
    const { parent, children } = await store.enqueueFlow({
      parent: { type: 'primes', params: { n: 1e12, chunks: 3 } },
      children: [{ type: 'primes_chunk', params: { lo: -1, hi: 10, index: 0 }, maxAttempts: 1 }, slow(1), slow(2)],
    });
    const worker = spawnWizard(['worker', '--node-id', 'cancel-worker', '--threads', '3', '--concurrency', '3', '--lease-ms', '1500'], { REDIS_URL: testRedisUrl(), WIZARD_PREFIX: prefix }, 'worker');
    const failed = await waitUntil(async () => {
      const p = await store.getJob(parent.id);
      return p?.state === 'FAILURE' && p;
    }, 15_000, 'the parent to fail');
    expect(failed.error).toMatch(/^chunk 0 failed: lo must be an integer/);
    const cancelled = { state: 'FAILURE', error: `cancelled: parent job ${parent.id} failed`, attempts: 1 };
    for (const c of children.slice(1)) expect(await store.getJob(c.id)).toMatchObject(cancelled);
    // the worker computing them stops (its renewal is refused) and nothing is retried or reaped
    await worker.waitForOutput(new RegExp(`lease lost: abandoning job.*${children[1].id}|${children[1].id}.*lease lost: abandoning job`), 5000);
    await worker.waitForOutput(new RegExp(`lease lost: abandoning job.*${children[2].id}|${children[2].id}.*lease lost: abandoning job`), 5000);
    await new Promise((r) => setTimeout(r, 2000)); // past a lease: a reaper would have found them
    for (const c of children.slice(1)) expect(await store.getJob(c.id)).toMatchObject(cancelled);
    expect((await store.getJob(children[0].id))!.state).toBe('DEAD');
    expect((await store.listDead()).jobs.map((j) => j.id)).toEqual([children[0].id]);
    expect(await store.queueDepth('default')).toEqual({ waiting: 0, active: 0, delayed: 0 });
    expect(await worker.kill('SIGTERM')).toBe(0);
  } finally {
    await store.close();
  }
}, 40_000);
