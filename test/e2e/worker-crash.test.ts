/**
 * SIGKILL a worker while it holds jobs: once the leases lapse another worker finishes them,
 * and every job completes exactly once (one SUCCESS in the event log per job).
 */
import { RedisStore } from '../../src/store/redis';
import { testPrefix, testRedisUrl } from '../helpers/env';
import { killAll, spawnWizard, waitUntil } from '../helpers/procs';
import { successCounts } from '../helpers/events';

afterAll(killAll);

test('jobs held by a SIGKILLed worker are finished by another, each exactly once', async () => {
  const prefix = testPrefix('worker-crash');
  const env = { REDIS_URL: testRedisUrl(), WIZARD_PREFIX: prefix };
  const store = await new RedisStore({ url: testRedisUrl(), prefix }).connect();
  try {
    const from = await store.events.lastId();
    const jobs = await store.jobs.enqueue(
      Array.from({ length: 20 }, () => ({ type: 'sim' as const, params: { duration_ms: 3000, failure_rate: 0 } })),
    );

    const victim = spawnWizard(
      ['worker', '--node-id', 'victim', '--concurrency', '8', '--lease-ms', '1500'],
      env,
      'victim',
    );
    await waitUntil(
      async () => (await store.queues.depth('default')).active === 8,
      15_000,
      'the victim to hold 8 jobs',
    );
    const heldByVictim = (await Promise.all(jobs.map((j) => store.reads.job(j.id))))
      .filter((j) => j!.state === 'STARTED')
      .map((j) => j!.id);
    expect(heldByVictim).toHaveLength(8);
    expect(await victim.kill('SIGKILL')).toBe('SIGKILL');

    const survivor = spawnWizard(
      ['worker', '--node-id', 'survivor', '--concurrency', '20', '--lease-ms', '1500'],
      env,
      'survivor',
    );
    await waitUntil(
      async () => {
        const all = await Promise.all(jobs.map((j) => store.reads.job(j.id)));
        return all.every((j) => j!.state === 'SUCCESS');
      },
      30_000,
      'every job to succeed',
      200,
    );

    const successes = await successCounts(store, from);
    expect(jobs.map((j) => successes.get(j.id))).toEqual(jobs.map(() => 1));
    for (const id of heldByVictim)
      expect(await store.reads.job(id)).toMatchObject({ state: 'SUCCESS', attempts: 2, handledBy: 'survivor' });
    await survivor.kill('SIGTERM');
  } finally {
    await store.close();
  }
}, 60_000);
