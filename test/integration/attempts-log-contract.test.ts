/**
 * One state machine in every record (issue "What a newcomer met", item 4), on both adapters (and a
 * Cluster where the machine runs one): each attempt's outcome kept in the record's attempts_log, a
 * success's error empty, a prime count's view naming its chunks' queue, and a bot's claim carrying
 * the schedule and slot that GET /jobs/:id shows.
 */
import type { NewJob } from '../../src/core/job';
import { jobView } from '../../src/roles/api/views';
import type { Store } from '../../src/store/types';
import { makeStore, manualClock, useTestCluster, WITH_CLUSTER } from '../helpers/stores';

const task = (a: number): NewJob => ({ type: 'task', params: { a, b: 1, op: 'add' }, maxAttempts: 3 });
const LEASE = 1000;
const RETRY_NOW = { to: 'RETRY', delayMs: 0 } as const;

useTestCluster();

describe.each(WITH_CLUSTER)('attempts log contract: %s', (adapter) => {
  let store: Store;
  let clock: ReturnType<typeof manualClock>;
  const claim = async (consumer: string) =>
    (await store.jobs.claim('default', { consumer, max: 1, leaseMs: LEASE })).jobs[0];

  beforeEach(async () => {
    clock = manualClock(Date.parse('2026-03-10T12:00:00.000Z'));
    store = await makeStore(adapter, 'attempts-log', { now: clock.now, resultTtlMs: 60_000 });
  });
  afterEach(async () => {
    await store.close();
  });

  test('two failed attempts then a success: each attempt in the log, oldest first; the job has no error', async () => {
    const [job] = await store.jobs.enqueue([task(1)]);
    const t0 = clock.now();
    const a1 = await claim('w1');
    await store.jobs.fail(job.id, a1.token, 'boom 1', RETRY_NOW);
    clock.advance(10);
    const a2 = await claim('w2');
    await store.jobs.fail(job.id, a2.token, 'boom 2', RETRY_NOW);
    const retrying = (await store.reads.job(job.id))!;
    expect(retrying).toMatchObject({ state: 'RETRY', error: 'boom 2' });
    expect(retrying.attemptsLog).toEqual([
      { attempt: 1, state: 'RETRY', error: 'boom 1', handled_by: 'w1', at: t0 },
      { attempt: 2, state: 'RETRY', error: 'boom 2', handled_by: 'w2', at: t0 + 10 },
    ]);
    clock.advance(10);
    const a3 = await claim('w3');
    expect((await store.reads.job(job.id))!.attemptsLog!.map((a) => [a.attempt, a.state])).toEqual([
      [1, 'RETRY'],
      [2, 'RETRY'],
      [3, 'STARTED'],
    ]);
    await store.jobs.complete(job.id, a3.token, 2);
    const done = (await store.reads.job(job.id))!;
    expect(done).toMatchObject({ state: 'SUCCESS', result: 2, error: null, attempts: 3 });
    expect(done.attemptsLog).toEqual([
      { attempt: 1, state: 'RETRY', error: 'boom 1', handled_by: 'w1', at: t0 },
      { attempt: 2, state: 'RETRY', error: 'boom 2', handled_by: 'w2', at: t0 + 10 },
      { attempt: 3, state: 'SUCCESS', error: null, handled_by: 'w3', at: t0 + 20 },
    ]);
    expect(jobView(done).attempts_log[2]).toEqual({
      attempt: 3,
      state: 'SUCCESS',
      error: null,
      handled_by: 'w3',
      at: new Date(t0 + 20).toISOString(),
    });
  });

  test('a job run once has one entry; one never claimed has none', async () => {
    const [once, never] = await store.jobs.enqueue([task(1), task(2)]);
    const c = await claim('w1');
    await store.jobs.complete(once.id, c.token, 2);
    expect((await store.reads.job(once.id))!.attemptsLog).toEqual([
      { attempt: 1, state: 'SUCCESS', error: null, handled_by: 'w1', at: clock.now() },
    ]);
    expect((await store.reads.job(never.id))!.attemptsLog).toEqual([]);
  });

  test("a lapsed lease's attempt is logged with its reason; a dead job retried by hand keeps its DEAD attempt", async () => {
    const [job] = await store.jobs.enqueue([{ ...task(1), maxAttempts: 2 }]);
    await claim('w1');
    clock.advance(LEASE + 1);
    await store.jobs.reap('default');
    const c2 = await claim('w2');
    await store.jobs.fail(job.id, c2.token, 'boom', { to: 'DEAD' });
    await store.dead.retry(job.id);
    const c3 = await claim('w3');
    await store.jobs.complete(job.id, c3.token, 2);
    const log = (await store.reads.job(job.id))!.attemptsLog!;
    expect(log.map((a) => [a.attempt, a.state, a.handled_by])).toEqual([
      [1, 'RETRY', 'w1'],
      [2, 'DEAD', 'w2'],
      [1, 'SUCCESS', 'w3'],
    ]);
    expect(log[0].error).toBe('lease expired (held by w1, attempt 1 of 2)');
    expect(log[1].error).toBe('boom');
  });

  test("a prime count's view names the queue its chunks run on", async () => {
    const { parent, children } = await store.jobs.enqueueFlow({
      parent: { type: 'primes', queue: 'default', params: { n: 100, chunks: 2 } },
      children: [
        { type: 'primes_chunk', queue: 'default', params: { lo: 1, hi: 50 } },
        { type: 'primes_chunk', queue: 'default', params: { lo: 51, hi: 100 } },
      ],
    });
    expect(parent.queue).toBe('default');
    expect((await store.reads.job(parent.id))!.queue).toBe('default');
    expect(children.map((c) => c.queue)).toEqual(['default', 'default']);
  });

  test('a bot claim answers the schedule and slot that made the job', async () => {
    const slot = '2026-03-10T12:00:00.000Z';
    const [made] = (await store.schedules.enqueue('nightly', slot, 'once-1', 60_000, [
      { type: 'sim', queue: 'bots', params: { duration_ms: 1, failure_rate: 0 } },
    ]))!;
    await store.bots.register('b1', 'b1', 'hash-b1');
    const got = await store.bots.claim('b1', 'bots', LEASE);
    expect(got).toMatchObject({ id: made.id, schedule: 'nightly', slot });
    expect(jobView(got!)).toMatchObject({ schedule: 'nightly', slot });
  });
});
