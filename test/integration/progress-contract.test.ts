/**
 * The store contract for a handler's progress (reportProgress): on the in-memory adapter, a
 * real redis-server and a sharded Cluster alike. Only the holder writes it, it is in the job
 * record and in the event log, and a prime count's own progress is untouched.
 */
import { JobCancelledError, LeaseLostError, NotFoundError } from '../../src/core/errors';
import type { NewJob } from '../../src/core/job';
import type { Store } from '../../src/store/types';
import { makeStore, manualClock, useTestCluster, WITH_CLUSTER } from '../helpers/stores';

const user = (text: string): NewJob => ({ type: 'wordcount', params: { text }, initiatedBy: 'api-1' });
const LEASE = 1000;

useTestCluster();

describe.each(WITH_CLUSTER)('progress contract: %s', (adapter) => {
  let store: Store;
  let clock: ReturnType<typeof manualClock>;
  const claimOne = async (consumer = 'w1') =>
    (await store.jobs.claim('default', { consumer, max: 1, leaseMs: LEASE })).jobs[0];

  beforeEach(async () => {
    clock = manualClock();
    store = await makeStore(adapter, 'progress', { now: clock.now, resultTtlMs: 60_000 });
  });
  afterEach(async () => {
    await store.close();
  });

  test('the holder writes progress: in the record and the event log; the first report moves the job to PROGRESS', async () => {
    const [job] = await store.jobs.enqueue([user('a b')]);
    expect(job.progress).toBeNull();
    const c = await claimOne();
    const from = await store.events.lastId();
    clock.advance(5);
    await store.jobs.reportProgress(job.id, c.token, { completed: 0.25, total: 1 });
    await store.jobs.reportProgress(job.id, c.token, { completed: 3, total: 8 });
    const got = await store.reads.job(job.id);
    expect(got).toMatchObject({ state: 'PROGRESS', progress: { completed: 3, total: 8 }, updatedAt: clock.now() });
    const events = (await store.events.read(from, 0)).filter((e) => e.jobId === job.id);
    expect(events.map((e) => [e.state, e.progress])).toEqual([
      ['PROGRESS', { completed: 0.25, total: 1 }],
      ['PROGRESS', { completed: 3, total: 8 }],
    ]);
    // PROGRESS is listed as a state of its own (the index), as a prime count's is
    expect((await store.reads.list({ state: 'PROGRESS', limit: 10 })).jobs.map((j) => j.id)).toEqual([job.id]);
    await store.jobs.complete(job.id, c.token, { words: 2 });
    expect(await store.reads.job(job.id)).toMatchObject({
      state: 'SUCCESS',
      result: { words: 2 },
      progress: { completed: 3, total: 8 },
    });
  });

  test('a holder that lost its lease, or a finished or cancelled job, cannot write progress', async () => {
    const [job, other] = await store.jobs.enqueue([user('a'), user('b')]);
    const first = await claimOne('w1');
    clock.advance(LEASE + 1);
    await store.jobs.reap('default');
    const second = await claimOne('w2');
    expect(second.job.id).toBe(job.id);
    await expect(store.jobs.reportProgress(job.id, first.token, { completed: 1, total: 2 })).rejects.toBeInstanceOf(
      LeaseLostError,
    );
    await store.jobs.reportProgress(job.id, second.token, { completed: 1, total: 2 });
    await store.jobs.complete(job.id, second.token, 1);
    await expect(store.jobs.reportProgress(job.id, second.token, { completed: 2, total: 2 })).rejects.toBeInstanceOf(
      LeaseLostError,
    );
    expect((await store.reads.job(job.id))!.progress).toEqual({ completed: 1, total: 2 });

    const c = await claimOne('w1');
    expect(c.job.id).toBe(other.id);
    await store.jobs.cancel(other.id);
    await expect(store.jobs.reportProgress(other.id, c.token, { completed: 1, total: 1 })).rejects.toBeInstanceOf(
      JobCancelledError,
    );
    expect((await store.reads.job(other.id))!.progress).toBeNull();
    await expect(store.jobs.reportProgress('no-such-job', c.token, { completed: 1, total: 1 })).rejects.toBeInstanceOf(
      NotFoundError,
    );
  });
});
