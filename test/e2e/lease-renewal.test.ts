/**
 * BullMQ's most reported bug: a job that runs longer than its lock is run twice. Here a live
 * worker renews its lease while the job runs, so a job three times as long as the lease runs once.
 */
import { RedisStore } from '../../src/store/redis';
import { testPrefix, testRedisUrl } from '../helpers/env';
import { killAll, spawnWizard, waitUntil } from '../helpers/procs';
import { eventsSince } from '../helpers/events';

afterAll(killAll);

test('a job longer than its lease is renewed, not reclaimed: it runs exactly once', async () => {
  const prefix = testPrefix('lease-renewal');
  const env = { REDIS_URL: testRedisUrl(), WIZARD_PREFIX: prefix };
  const store = await new RedisStore({ url: testRedisUrl(), prefix }).connect();
  try {
    const from = await store.events.lastId();
    const [job] = await store.jobs.enqueue([{ type: 'sim', params: { duration_ms: 3000, failure_rate: 0 } }]);
    // two workers, so a lapsed lease would be picked up by the other one at once
    const workers = ['w-a', 'w-b'].map((id) => spawnWizard(['worker', '--node-id', id, '--lease-ms', '1000'], env, id));
    const done = await waitUntil(
      async () => {
        const j = await store.reads.job(job.id);
        return j!.state === 'SUCCESS' ? j : null;
      },
      20_000,
      'the job to succeed',
      100,
    );
    expect(done).toMatchObject({ attempts: 1 });
    const starts = (await eventsSince(store, from)).filter((e) => e.jobId === job.id && e.state === 'STARTED');
    expect(starts).toHaveLength(1);
    await Promise.all(workers.map((w) => w.kill('SIGTERM')));
  } finally {
    await store.close();
  }
}, 40_000);
