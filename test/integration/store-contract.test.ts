/**
 * The store contract: every test runs against the Redis adapter (a real redis-server) and the
 * in-memory adapter, so the two cannot drift apart.
 */
import { ConflictError, LeaseLostError, NotFoundError, ValidationError } from '../../src/core/errors';
import { scopedIdempotencyKey, type Job, type NewJob } from '../../src/core/job';
import { EVENT_RESULT_MAX_BYTES, JOB_LOG_LINE_BYTES, JOB_LOG_LINES, type Store } from '../../src/store/types';
import { tokenBaseOf } from '../../src/store/common';
import { RedisStore } from '../../src/store/redis';
import { testPrefix, testRedisUrl } from '../helpers/env';
import { makeStore, manualClock, useTestCluster, WITH_CLUSTER } from '../helpers/stores';

const task = (a: number, b = 1): NewJob => ({ type: 'task', params: { a, b, op: 'add' }, initiatedBy: 'api-1' });
const chunk = (lo: number, hi: number): NewJob => ({ type: 'primes_chunk', params: { lo, hi } });
const LEASE = 1000;

useTestCluster();

describe.each(WITH_CLUSTER)('store contract: %s', (adapter) => {
  let store: Store;
  let clock: ReturnType<typeof manualClock>;
  const claimOne = async (consumer = 'w1', queue = 'default') => {
    const { jobs } = await store.jobs.claim(queue, { consumer, max: 1, leaseMs: LEASE });
    return jobs[0];
  };

  beforeEach(async () => {
    clock = manualClock();
    store = await makeStore(adapter, 'contract', { now: clock.now, resultTtlMs: 60_000 });
  });
  afterEach(async () => {
    await store.close();
  });

  test('enqueue creates PENDING jobs with the producer recorded', async () => {
    const [job] = await store.jobs.enqueue([task(2, 3)]);
    expect(job).toMatchObject({
      type: 'task',
      state: 'PENDING',
      attempts: 0,
      maxAttempts: 3,
      initiatedBy: 'api-1',
      params: { a: 2, b: 3, op: 'add' },
    });
    expect(await store.reads.job(job.id)).toEqual(job);
  });

  test('a job keeps the trace context it was given and a claim that asks carries it; one without has none', async () => {
    const trace = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 vendor=opaque';
    const [traced, plain] = await store.jobs.enqueue([{ ...task(1), trace }, task(2)]);
    expect((await store.reads.job(traced.id))?.trace).toBe(trace);
    expect(await store.reads.job(plain.id)).not.toHaveProperty('trace');
    // (on a Cluster the two may be claimed from different shards, in either order)
    const { jobs } = await store.jobs.claim('default', { consumer: 'w1', max: 2, leaseMs: LEASE, trace: true });
    const byId = (a: [string, string | undefined], b: [string, string | undefined]) => a[0].localeCompare(b[0]);
    expect(jobs.map((c): [string, string | undefined] => [c.job.id, c.job.trace]).sort(byId)).toEqual(
      (
        [
          [traced.id, trace],
          [plain.id, undefined],
        ] as [string, string | undefined][]
      ).sort(byId),
    );
    const [again] = await store.jobs.enqueue([{ ...task(3), trace }]);
    const { jobs: unasked } = await store.jobs.claim('default', { consumer: 'w1', max: 1, leaseMs: LEASE });
    expect(unasked.map((c) => [c.job.id, c.job.trace])).toEqual([[again.id, undefined]]);
  });

  test('claim takes jobs in FIFO order, holds them under a token and counts the delivery', async () => {
    const jobs = await store.jobs.enqueue([task(1), task(2), task(3)]);
    const { jobs: claimed } = await store.jobs.claim('default', { consumer: 'w1', max: 2, leaseMs: LEASE });
    expect(claimed.map((c) => c.job.id)).toEqual([jobs[0].id, jobs[1].id]);
    expect(new Set(claimed.map((c) => c.token)).size).toBe(2);
    expect(claimed[0].job).toMatchObject({ state: 'STARTED', attempts: 1, handledBy: 'w1' });
    expect((await claimOne('w2')).job.id).toBe(jobs[2].id);
    expect((await store.jobs.claim('default', { consumer: 'w1', max: 5, leaseMs: LEASE })).jobs).toEqual([]);
    expect(await store.queues.depth('default')).toEqual({ waiting: 0, active: 3, delayed: 0 });
  });

  test('complete records the result once; a second complete is refused', async () => {
    const [job] = await store.jobs.enqueue([task(2, 3)]);
    const { token } = await claimOne();
    await store.jobs.complete(job.id, token, 5);
    const done = await store.reads.job(job.id);
    expect(done).toMatchObject({ state: 'SUCCESS', result: 5, handledBy: 'w1' });
    expect(done!.finishedAt).toBe(clock.now());
    await expect(store.jobs.complete(job.id, token, 6)).rejects.toBeInstanceOf(LeaseLostError);
    expect((await store.reads.job(job.id))!.result).toBe(5);
    await expect(store.jobs.complete('no-such-job', token, 1)).rejects.toBeInstanceOf(NotFoundError);
  });

  test('completeAndClaim acknowledges, then claims for the freed slots, in one step; a refused completion stops nothing', async () => {
    const jobs = await store.jobs.enqueue([task(1), task(2), task(3), task(4)]);
    const { jobs: held } = await store.jobs.claim('default', { consumer: 'w1', max: 2, leaseMs: LEASE });
    const { errors, claim } = await store.jobs.completeAndClaim(
      [
        { jobId: held[0].job.id, token: held[0].token, result: 2, job: held[0].job },
        { jobId: held[1].job.id, token: 'stale', result: 3 },
        { jobId: 'no-such-job', token: held[1].token, result: 4 },
      ],
      'default',
      { consumer: 'w1', max: 1, leaseMs: LEASE },
    );
    expect(errors.map((e) => e?.constructor)).toEqual([undefined, LeaseLostError, NotFoundError]);
    expect(await store.reads.job(jobs[0].id)).toMatchObject({ state: 'SUCCESS', result: 2 });
    expect(await store.reads.job(jobs[1].id)).toMatchObject({ state: 'STARTED', result: null });
    expect(claim.jobs.map((c) => c.job.id)).toEqual([jobs[2].id]);
    expect(claim.jobs[0].job).toMatchObject({
      state: 'STARTED',
      attempts: 1,
      handledBy: 'w1',
      queue: 'default',
      params: { a: 3, b: 1, op: 'add' },
    });
    // nothing to complete and no slot: a no-op
    expect(await store.jobs.completeAndClaim([], 'default', { consumer: 'w1', max: 0, leaseMs: LEASE })).toEqual({
      errors: [],
      claim: { jobs: [], nextRunAt: null, now: clock.now() },
    });
    expect(await store.queues.depth('default')).toEqual({ waiting: 1, active: 2, delayed: 0 });
  });

  test('long params and results (sent as bytes, not strings) arrive whole, non-ASCII text too', async () => {
    const long = (n: number) => ({ text: 'é€😀'.repeat(n), n });
    const [small, big] = await store.jobs.enqueue([task(1), { type: 'task', params: long(300) }]);
    const [{ job: bulk }] = await store.jobs.enqueueBulk([{ type: 'task', params: long(400) }]);
    const { jobs: held } = await store.jobs.claim('default', { consumer: 'w1', max: 3, leaseMs: LEASE });
    const byId = new Map(held.map((c) => [c.job.id, c]));
    expect([small, big, bulk].map((j) => byId.get(j.id)?.job.params)).toEqual([small.params, long(300), long(400)]);
    const [s, b, k] = [small, big, bulk].map((j) => byId.get(j.id)!);
    const { errors } = await store.jobs.completeAndClaim(
      [s, b].map((c, i) => ({ jobId: c.job.id, token: c.token, result: i === 0 ? 2 : long(200), job: c.job })),
      'default',
      { consumer: 'w1', max: 1, leaseMs: LEASE },
    );
    expect(errors).toEqual([null, null]);
    await store.jobs.complete(k.job.id, k.token, long(500));
    expect((await store.reads.job(big.id))?.result).toEqual(long(200));
    expect((await store.reads.job(bulk.id))?.result).toEqual(long(500));
  });

  test('a lapsed lease is reaped and the late result of the old holder is refused (fenced)', async () => {
    const [job] = await store.jobs.enqueue([task(2, 3)]);
    const first = await claimOne('w1');
    clock.advance(LEASE - 1);
    expect(await store.jobs.reap('default')).toEqual({ requeued: [], dead: [] });
    clock.advance(2);
    expect(await store.jobs.reap('default')).toEqual({ requeued: [job.id], dead: [] });
    expect(await store.reads.job(job.id)).toMatchObject({ state: 'RETRY', attempts: 1 });
    const second = await claimOne('w2');
    expect(second.job).toMatchObject({ id: job.id, attempts: 2, handledBy: 'w2' });
    await expect(store.jobs.complete(job.id, first.token, 999)).rejects.toBeInstanceOf(LeaseLostError);
    await expect(store.jobs.renew(job.id, first.token, LEASE)).rejects.toBeInstanceOf(LeaseLostError);
    await store.jobs.complete(job.id, second.token, 5);
    expect(await store.reads.job(job.id)).toMatchObject({ state: 'SUCCESS', result: 5, handledBy: 'w2' });
  });

  test('renewing keeps a slow job from being reaped', async () => {
    const [job] = await store.jobs.enqueue([task(1)]);
    const { token } = await claimOne();
    for (let i = 0; i < 5; i++) {
      clock.advance(LEASE / 2);
      await store.jobs.renew(job.id, token, LEASE);
      expect((await store.jobs.reap('default')).requeued).toEqual([]);
    }
    await store.jobs.complete(job.id, token, 2);
    expect((await store.reads.job(job.id))!.attempts).toBe(1);
  });

  test('a job reaped after its last attempt goes DEAD into the dead-letter queue', async () => {
    const [job] = await store.jobs.enqueue([{ ...task(1), maxAttempts: 1 }]);
    await claimOne();
    clock.advance(LEASE + 1);
    expect(await store.jobs.reap('default')).toEqual({ requeued: [], dead: [job.id] });
    const dead = await store.reads.job(job.id);
    expect(dead).toMatchObject({ state: 'DEAD', attempts: 1 });
    expect(dead!.error).toMatch(/lease expired \(held by w1, attempt 1 of 1\)/);
    expect((await store.reads.list({ state: 'DEAD' })).jobs.map((j) => j.id)).toEqual([job.id]);
    expect(await claimOne()).toBeUndefined();
  });

  test('a reaper never takes back a job its own process holds (the claims it names); another one does', async () => {
    const [mine, theirs] = await store.jobs.enqueue([task(1), task(2)]);
    const a = await claimOne('w1');
    const b = await claimOne('w2');
    clock.advance(LEASE + 1);
    expect(await store.jobs.reap('default', { leaseMs: LEASE, holding: [tokenBaseOf(a.token)] })).toEqual({
      requeued: [theirs.id],
      dead: [],
    });
    expect(await store.reads.job(mine.id)).toMatchObject({ state: 'STARTED', attempts: 1 });
    await store.jobs.renew(mine.id, a.token, LEASE); // its holder is alive: it renews (here, late) and finishes
    await store.jobs.complete(mine.id, a.token, 2);
    expect(await store.reads.job(mine.id)).toMatchObject({ state: 'SUCCESS', attempts: 1, result: 2 });
    expect(b.job.id).toBe(theirs.id);
  });

  test("after a gap in the reapers' looks (no one reached the store), what lapsed in it waits a lease for its holder", async () => {
    const [renewed, gone] = await store.jobs.enqueue([task(1), task(2)]);
    const a = await claimOne('w1');
    await claimOne('w2');
    expect(await store.jobs.reap('default', { leaseMs: LEASE })).toEqual({ requeued: [], dead: [] }); // a look, keeping pace
    clock.advance(5 * LEASE); // nobody looks, nobody renews: both leases lapse in the gap
    expect(await store.jobs.reap('default', { leaseMs: LEASE })).toEqual({ requeued: [], dead: [] });
    // the scheduler's look names no lease: the one the queue's reaper named
    clock.advance(LEASE / 4);
    expect(await store.jobs.reap('default')).toEqual({ requeued: [], dead: [] });
    await store.jobs.renew(renewed.id, a.token, LEASE); // w1 is back: in time
    // looks that keep pace: w2 never comes back, and its job is taken back once the grace is over
    const taken: string[] = [];
    for (let i = 0; i < 5; i++) {
      clock.advance(LEASE / 4);
      await store.jobs.renew(renewed.id, a.token, LEASE);
      taken.push(...(await store.jobs.reap('default', { leaseMs: LEASE })).requeued);
    }
    expect(taken).toEqual([gone.id]);
    expect(await store.reads.job(gone.id)).toMatchObject({
      state: 'RETRY',
      attempts: 1,
      error: 'lease expired (held by w2, attempt 1 of 3)',
    });
    await store.jobs.complete(renewed.id, a.token, 2);
    expect(await store.reads.job(renewed.id)).toMatchObject({ state: 'SUCCESS', attempts: 1, result: 2 });
    // a lease that lapses while the looks keep pace is taken back at the first look after it, as before any gap
    const late = await claimOne('w3');
    const looks: string[][] = [];
    for (let i = 0; i < 5; i++) {
      clock.advance(LEASE / 4);
      looks.push((await store.jobs.reap('default', { leaseMs: LEASE })).requeued);
    }
    expect(looks).toEqual([[], [], [], [late.job.id], []]); // its deadline: claim + LEASE
  });

  test('a retry waits for its backoff, then runs first', async () => {
    const [job, other] = await store.jobs.enqueue([task(1), task(2)]);
    const { token } = await claimOne();
    await store.jobs.fail(job.id, token, 'boom', { to: 'RETRY', delayMs: 500 });
    expect(await store.reads.job(job.id)).toMatchObject({ state: 'RETRY', error: 'boom', runAt: clock.now() + 500 });
    const early = await store.jobs.claim('default', { consumer: 'w1', max: 1, leaseMs: LEASE });
    expect(early.jobs.map((c) => c.job.id)).toEqual([other.id]);
    expect(early.nextRunAt).toBe(clock.now() + 500);
    clock.advance(500);
    const late = await claimOne();
    expect(late.job).toMatchObject({ id: job.id, state: 'STARTED', attempts: 2 });
  });

  test('the dead-letter queue: list, retry from zero attempts, purge', async () => {
    const [a, b, c] = await store.jobs.enqueue([{ ...task(1), maxAttempts: 1 }, task(2), task(3)]);
    for (const j of [a, b]) {
      const held = await claimOne();
      await store.jobs.fail(j.id, held.token, `gave up on ${j.id}`, { to: 'DEAD' });
    }
    const dead = await store.dead.list();
    expect(dead.total).toBe(2);
    expect(new Set(dead.jobs.map((j) => j.id))).toEqual(new Set([a.id, b.id]));
    await expect(store.dead.retry(c.id)).rejects.toBeInstanceOf(ConflictError);
    await expect(store.dead.retry('missing')).rejects.toBeInstanceOf(NotFoundError);
    expect(await store.dead.retry(a.id)).toMatchObject({
      id: a.id,
      state: 'PENDING',
      attempts: 0,
      error: null,
      finishedAt: null,
    });
    expect((await store.dead.list()).jobs.map((j) => j.id)).toEqual([b.id]);
    const again = await claimOne(); // c was first in line; a went to the tail
    expect(again.job.id).toBe(c.id);
    expect((await claimOne()).job).toMatchObject({ id: a.id, attempts: 1 });
    expect(await store.dead.purge()).toBe(1);
    expect(await store.reads.job(b.id)).toBeNull();
    expect((await store.dead.list()).total).toBe(0);
    expect((await store.reads.countByState()).DEAD).toBe(0);
  });

  test('retries that fall due together run earliest-due first', async () => {
    const [a, b] = await store.jobs.enqueue([task(1), task(2)]);
    const ca = await claimOne();
    const cb = await claimOne();
    await store.jobs.fail(b.id, cb.token, 'x', { to: 'RETRY', delayMs: 100 });
    await store.jobs.fail(a.id, ca.token, 'x', { to: 'RETRY', delayMs: 200 });
    clock.advance(300);
    const { jobs } = await store.jobs.claim('default', { consumer: 'w1', max: 2, leaseMs: LEASE });
    expect(jobs.map((c) => c.job.id)).toEqual([b.id, a.id]);
    expect((await store.reads.list({ limit: 0 })).jobs).toEqual([]);
  });

  test('fail to FAILURE or DEAD is final', async () => {
    const [a, b] = await store.jobs.enqueue([task(1), task(2)]);
    const ca = await claimOne();
    const cb = await claimOne();
    await store.jobs.fail(a.id, ca.token, 'bad input', { to: 'FAILURE' });
    await store.jobs.fail(b.id, cb.token, 'gave up', { to: 'DEAD' });
    expect(await store.reads.job(a.id)).toMatchObject({ state: 'FAILURE', error: 'bad input' });
    expect(await store.reads.job(b.id)).toMatchObject({ state: 'DEAD', error: 'gave up' });
    await expect(store.jobs.fail(a.id, ca.token, 'again', { to: 'FAILURE' })).rejects.toBeInstanceOf(LeaseLostError);
    const counts = await store.reads.countByState();
    expect(counts).toMatchObject({ FAILURE: 1, DEAD: 1, PENDING: 0, STARTED: 0 });
  });

  test('release gives a job back to the head without counting the attempt', async () => {
    const [a, b] = await store.jobs.enqueue([task(1), task(2)]);
    const held = await claimOne('w1');
    await store.jobs.release(a.id, held.token);
    expect(await store.reads.job(a.id)).toMatchObject({ state: 'PENDING', attempts: 0 });
    const again = await claimOne('w2');
    expect(again.job).toMatchObject({ id: a.id, attempts: 1, handledBy: 'w2' });
    expect((await claimOne('w2')).job.id).toBe(b.id);
  });

  test('checkJob records which node looked', async () => {
    const [job] = await store.jobs.enqueue([task(1)]);
    expect(await store.reads.check(job.id, 'api-2')).toMatchObject({
      id: job.id,
      checkedBy: 'api-2',
      initiatedBy: 'api-1',
    });
    expect(await store.reads.check('missing', 'api-2')).toBeNull();
  });

  describe('a flow (chord) of chunks', () => {
    const flow = (n: number) => ({
      parent: { type: 'primes' as const, params: { n: 100, chunks: n }, initiatedBy: 'api-1' },
      children: Array.from({ length: n }, (_, i) => chunk(i * 10 + 1, i * 10 + 10)),
    });

    test('the last chunk completes the parent with the sum; progress is counted per chunk', async () => {
      const { parent, children } = await store.jobs.enqueueFlow(flow(3));
      // the parent is on no queue itself: its view names the queue its chunks run on
      expect(parent).toMatchObject({ state: 'PENDING', progress: { completed: 0, total: 3 }, queue: 'default' });
      expect(await store.queues.depth('default')).toMatchObject({ waiting: 3 });
      expect(children.map((c) => c.parentId)).toEqual([parent.id, parent.id, parent.id]);
      expect((await store.reads.children(parent.id)).map((c) => c.id)).toEqual(children.map((c) => c.id));
      const { jobs: held } = await store.jobs.claim('default', { consumer: 'w1', max: 3, leaseMs: LEASE });
      expect((await store.reads.job(parent.id))!.state).toBe('STARTED');
      await store.jobs.complete(held[0].job.id, held[0].token, 4);
      expect(await store.reads.job(parent.id)).toMatchObject({
        state: 'PROGRESS',
        progress: { completed: 1, total: 3 },
      });
      await store.jobs.complete(held[1].job.id, held[1].token, 2);
      clock.advance(1500);
      await store.jobs.complete(held[2].job.id, held[2].token, 7);
      const done = await store.reads.job(parent.id);
      expect(done).toMatchObject({
        state: 'SUCCESS',
        progress: { completed: 3, total: 3 },
        result: { prime_count: 13, duration_sec: 1.5 },
      });
    });

    test('when a chunk is delivered twice, the count is unchanged', async () => {
      const { parent } = await store.jobs.enqueueFlow(flow(2));
      const a1 = await claimOne('w1');
      const b = await claimOne('w1');
      clock.advance(LEASE / 2);
      await store.jobs.renew(b.job.id, b.token, LEASE);
      clock.advance(LEASE / 2 + 1);
      expect((await store.jobs.reap('default')).requeued).toEqual([a1.job.id]);
      const a2 = await claimOne('w2');
      expect(a2.job.id).toBe(a1.job.id);
      await store.jobs.complete(a2.job.id, a2.token, 4);
      await expect(store.jobs.complete(a1.job.id, a1.token, 4)).rejects.toBeInstanceOf(LeaseLostError);
      expect((await store.reads.job(parent.id))!.progress).toEqual({ completed: 1, total: 2 });
      await store.jobs.complete(b.job.id, b.token, 6);
      expect((await store.reads.job(parent.id))!.result).toEqual({ prime_count: 10, duration_sec: expect.any(Number) });
    });

    test('a chunk result that is not a number is refused and changes nothing', async () => {
      const { parent } = await store.jobs.enqueueFlow(flow(1));
      const held = await claimOne();
      await expect(store.jobs.complete(held.job.id, held.token, { count: 4 })).rejects.toBeInstanceOf(ValidationError);
      expect(await store.reads.job(held.job.id)).toMatchObject({ state: 'STARTED' });
      await store.jobs.complete(held.job.id, held.token, 4);
      expect((await store.reads.job(parent.id))!.result).toEqual({ prime_count: 4, duration_sec: expect.any(Number) });
    });

    test('a chunk that fails for good fails the parent at once and cancels its other chunks, waiting or running', async () => {
      const { parent, children } = await store.jobs.enqueueFlow(flow(4));
      const first = await claimOne('w1');
      const second = await claimOne('w2');
      await store.jobs.fail(first.job.id, first.token, 'out of memory', { to: 'DEAD' });
      const failed = await store.reads.job(parent.id);
      expect(failed).toMatchObject({ state: 'FAILURE', error: 'chunk 0 failed: out of memory' });
      for (const c of children.slice(1)) {
        expect(await store.reads.job(c.id)).toMatchObject({
          state: 'FAILURE',
          error: `cancelled: parent job ${parent.id} failed`,
          finishedAt: expect.any(Number),
        });
      }
      expect(await claimOne('w3')).toBeUndefined();
      expect(await store.queues.depth('default')).toEqual({ waiting: 0, active: 0, delayed: 0 });
      // the chunk that was being computed is refused whatever its holder does next, and never reaped
      await expect(store.jobs.renew(second.job.id, second.token, LEASE)).rejects.toBeInstanceOf(LeaseLostError);
      await expect(store.jobs.complete(second.job.id, second.token, 5)).rejects.toBeInstanceOf(LeaseLostError);
      await expect(store.jobs.fail(second.job.id, second.token, 'boom', { to: 'DEAD' })).rejects.toBeInstanceOf(
        LeaseLostError,
      );
      clock.advance(LEASE + 1);
      expect(await store.jobs.reap('default')).toEqual({ requeued: [], dead: [] });
      expect(await store.reads.job(parent.id)).toMatchObject({
        state: 'FAILURE',
        progress: { completed: 0, total: 4 },
      });
      expect(await store.reads.job(second.job.id)).toMatchObject({
        state: 'FAILURE',
        error: `cancelled: parent job ${parent.id} failed`,
      });
      // the dead-letter queue holds the chunk that failed, none of the cancelled ones
      expect((await store.dead.list()).jobs.map((j) => j.id)).toEqual([first.job.id]);
    });

    test('a chunk reaped after its last attempt cancels the chunks other workers are running', async () => {
      const { parent, children } = await store.jobs.enqueueFlow({
        ...flow(2),
        children: flow(2).children.map((c) => ({ ...c, maxAttempts: 1 })),
      });
      const lapsing = await claimOne('w1');
      const running = await claimOne('w2');
      clock.advance(LEASE / 2);
      await store.jobs.renew(running.job.id, running.token, LEASE);
      clock.advance(LEASE / 2 + 1);
      expect(await store.jobs.reap('default')).toEqual({ requeued: [], dead: [lapsing.job.id] });
      expect(await store.reads.job(parent.id)).toMatchObject({ state: 'FAILURE' });
      expect(await store.reads.job(children[1].id)).toMatchObject({
        state: 'FAILURE',
        error: `cancelled: parent job ${parent.id} failed`,
      });
      await expect(store.jobs.complete(running.job.id, running.token, 3)).rejects.toBeInstanceOf(LeaseLostError);
      clock.advance(LEASE + 1);
      expect(await store.jobs.reap('default')).toEqual({ requeued: [], dead: [] });
      expect((await store.dead.list()).jobs.map((j) => j.id)).toEqual([lapsing.job.id]);
    });
  });

  test('events: every state change is in the log, in order, readable from a position', async () => {
    const from = await store.events.lastId();
    const [job] = await store.jobs.enqueue([task(1)]);
    // a job's creation is no change: a watcher subscribes once it knows the id, and reads the state
    expect((await store.events.read(from, 0)).filter((e) => e.jobId === job.id)).toEqual([]);
    const { token } = await claimOne();
    await store.jobs.complete(job.id, token, 2);
    const events = (await store.events.read(from, 0)).filter((e) => e.jobId === job.id);
    expect(events.map((e) => e.state)).toEqual(['STARTED', 'SUCCESS']);
    const after = await store.events.read(events[1].id, 0);
    expect(after.filter((e) => e.jobId === job.id)).toEqual([]);
  });

  test('events: a SUCCESS event carries a small result, a prime count too; a large one is left in the record', async () => {
    const from = await store.events.lastId();
    const [small, nothing, large] = await store.jobs.enqueue([task(1), task(2), task(3)]);
    const big = { text: 'x'.repeat(EVENT_RESULT_MAX_BYTES) };
    const claimed = (await store.jobs.claim('default', { consumer: 'w1', max: 3, leaseMs: LEASE })).jobs;
    await store.jobs.completeAndClaim(
      [
        { jobId: small.id, token: claimed[0].token, result: { sum: 2, note: 'a b\nc' } },
        { jobId: nothing.id, token: claimed[1].token, result: null },
        { jobId: large.id, token: claimed[2].token, result: big },
      ],
      'default',
      { consumer: 'w1', max: 0, leaseMs: LEASE },
    );
    const { parent, children } = await store.jobs.enqueueFlow({
      parent: { type: 'primes', params: {} },
      children: [chunk(1, 10)],
    });
    const c = await claimOne('w1');
    await store.jobs.complete(children[0].id, c.token, 4);
    const done = (await store.events.read(from, 0)).filter((e) => e.state === 'SUCCESS');
    const byJob = new Map(done.map((e) => [e.jobId, e]));
    expect(byJob.get(small.id)!.result).toEqual({ sum: 2, note: 'a b\nc' });
    expect(byJob.get(nothing.id)).toHaveProperty('result', null);
    expect(byJob.get(large.id)).not.toHaveProperty('result');
    expect(byJob.get(children[0].id)!.result).toBe(4);
    expect(byJob.get(parent.id)).toMatchObject({
      progress: { completed: 1, total: 1 },
      result: (await store.reads.job(parent.id))!.result,
    });
    const started = (await store.events.read(from, 0)).filter((e) => e.state !== 'SUCCESS');
    expect(started.filter((e) => 'result' in e)).toEqual([]);
  });

  test('events: the result a SUCCESS event carries is counted in bytes of its JSON, up to the limit', async () => {
    const from = await store.events.lastId();
    const [at, over] = await store.jobs.enqueue([task(1), task(2)]);
    const claimed = (await store.jobs.claim('default', { consumer: 'w1', max: 2, leaseMs: LEASE })).jobs;
    // 'é' is two bytes: the JSON of n of them is 2n + 2 bytes
    const atLimit = 'é'.repeat((EVENT_RESULT_MAX_BYTES - 2) / 2);
    await store.jobs.complete(at.id, claimed[0].token, atLimit);
    await store.jobs.complete(over.id, claimed[1].token, atLimit + 'é');
    const done = (await store.events.read(from, 0)).filter((e) => e.state === 'SUCCESS');
    expect(done.find((e) => e.jobId === at.id)!.result).toBe(atLimit);
    expect(done.find((e) => e.jobId === over.id)).not.toHaveProperty('result');
  });

  test('events: a blocked reader wakes on the next change; progress rides along', async () => {
    const { parent, children } = await store.jobs.enqueueFlow({
      parent: { type: 'primes', params: {} },
      children: [chunk(1, 10)],
    });
    const from = await store.events.lastId();
    const reading = store.events.read(from, 2000);
    await new Promise((r) => setTimeout(r, 50));
    const { jobs } = await store.jobs.claim(children[0].queue, { consumer: 'w1', max: 1, leaseMs: LEASE });
    expect(jobs.map((c) => c.job.id)).toEqual([children[0].id]);
    const events = await reading;
    expect(events.length).toBeGreaterThan(0);
    const mine = [...events, ...(await store.events.read(events[events.length - 1].id, 0))].find(
      (e) => e.jobId === parent.id,
    );
    expect(mine).toMatchObject({ state: 'STARTED', progress: { completed: 0, total: 1 } });
  });

  test('waitForWork wakes on enqueue and times out when idle', async () => {
    await store.jobs.waitForWork('idle-q', 10); // drain a stale marker, if any
    const started = Date.now();
    expect(await store.jobs.waitForWork('idle-q', 150)).toBe(false);
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
    const waiting = store.jobs.waitForWork('idle-q', 5000);
    await new Promise((r) => setTimeout(r, 50));
    await store.jobs.enqueue([{ ...task(1), queue: 'idle-q' }]);
    expect(await waiting).toBe(true);
  });

  test('finished jobs expire after resultTtlMs; dead ones stay', async () => {
    await store.close();
    store = await makeStore(adapter, 'contract-ttl', { now: clock.now, resultTtlMs: 200 });
    const [ok, dead] = await store.jobs.enqueue([task(1), task(2)]);
    const c1 = await claimOne();
    const c2 = await claimOne();
    await store.jobs.complete(ok.id, c1.token, 2);
    await store.jobs.fail(dead.id, c2.token, 'x', { to: 'DEAD' });
    await new Promise((r) => setTimeout(r, 300));
    clock.advance(300);
    await store.jobs.reap('default');
    expect(await store.reads.job(ok.id)).toBeNull();
    expect((await store.reads.list({ state: 'SUCCESS' })).total).toBe(0);
    expect(await store.reads.job(dead.id)).toMatchObject({ state: 'DEAD' });
  });

  test("a completion given the job as claimed (a worker's) and one not (a bot's) finish alike: listed by creation, keys expiring with their jobs", async () => {
    await store.close();
    store = await makeStore(adapter, 'contract-ack', { now: clock.now, resultTtlMs: 200 });
    const made: Job[] = [];
    for (const key of [undefined, 'ack-a', undefined, 'ack-b']) {
      made.push((await store.jobs.submit({ ...task(made.length), ...(key ? { idempotencyKey: key } : {}) })).job);
      clock.advance(10);
    }
    const { jobs: held } = await store.jobs.claim('default', { consumer: 'w1', max: 4, leaseMs: LEASE });
    const byId = new Map(held.map((h) => [h.job.id, h]));
    expect([...byId.keys()].sort()).toEqual(made.map((j) => j.id).sort());
    // finished newest first, so an index by finish time would list them the other way round
    for (const i of [3, 2, 1, 0]) {
      const h = byId.get(made[i].id)!;
      await store.jobs.complete(h.job.id, h.token, i, i % 2 === 1 ? h.job : undefined);
      clock.advance(10);
    }
    const listed = await store.reads.list({});
    expect(listed.jobs.map((j) => [j.id, j.state, j.createdAt])).toEqual(
      [...made].reverse().map((j) => [j.id, 'SUCCESS', j.createdAt]),
    );
    expect(await store.jobs.idempotentJob(scopedIdempotencyKey('ack-b', undefined))).toBe(made[3].id);
    await new Promise((r) => setTimeout(r, 300));
    clock.advance(300);
    await store.jobs.reap('default');
    for (const key of ['ack-a', 'ack-b'])
      expect(await store.jobs.idempotentJob(scopedIdempotencyKey(key, undefined))).toBeNull();
  });

  test('listJobs pages newest first, filtered by state', async () => {
    const jobs = [];
    for (let i = 0; i < 5; i++) {
      jobs.push(...(await store.jobs.enqueue([task(i)])));
      clock.advance(1);
    }
    const page = await store.reads.list({ offset: 1, limit: 2 });
    expect(page.total).toBe(5);
    expect(page.jobs.map((j) => j.id)).toEqual([jobs[3].id, jobs[2].id]);
    const started = await claimOne(); // on a sharded store, from any shard: FIFO holds within a shard only
    expect((await store.reads.list({ state: 'STARTED' })).jobs.map((j) => j.id)).toEqual([started.job.id]);
    expect((await store.reads.list({ state: 'PENDING' })).total).toBe(4);
  });

  test('all jobs in every state page newest created first, each once, with the total the counts give', async () => {
    // each job that moves has a queue of its own, so a claim takes it on any store (a sharded one
    // is FIFO within a shard only); jobs made one millisecond apart, but two made at once (by id)
    const made: string[] = [];
    const make = async (name: string, opts: Partial<NewJob> = {}) => {
      const [job] = await store.jobs.enqueue([{ ...task(made.length), queue: name, ...opts }]);
      made.push(job.id);
      clock.advance(1);
      return job.id;
    };
    const held = async (queue: string) => (await claimOne('w1', queue)).token;
    const succeeded = await make('q-success');
    await store.jobs.complete(succeeded, await held('q-success'), 1);
    const retrying = await make('q-retry');
    await store.jobs.fail(retrying, await held('q-retry'), 'flaky', { to: 'RETRY', delayMs: 60_000 });
    await make('q-pending');
    await make('q-delayed', { delayMs: 60_000 });
    const started = await make('q-started');
    await held('q-started');
    const dead = await make('q-dead');
    await store.jobs.fail(dead, await held('q-dead'), 'gave up', { to: 'DEAD' });
    await store.jobs.cancel(await make('q-cancelled'));
    const again = await make('q-again'); // RETRY, then claimed again: STARTED
    await store.jobs.fail(again, await held('q-again'), 'flaky', { to: 'RETRY', delayMs: 0 });
    await held('q-again');
    const revived = await make('q-revived'); // DEAD, retried by hand: PENDING
    await store.jobs.fail(revived, await held('q-revived'), 'gave up', { to: 'DEAD' });
    await store.dead.retry(revived);
    const failed = await make('q-failed'); // FAILURE, retried by hand, claimed, succeeded
    await store.jobs.fail(failed, await held('q-failed'), 'bad', { to: 'FAILURE' });
    await store.dead.retryFailed(failed);
    await store.jobs.complete(failed, await held('q-failed'), 2);
    await make('q-grouped', { group: 'g1' });
    const pair = await store.jobs.enqueue([task(100), task(101)]);
    made.push(...pair.map((j) => j.id));
    const expected = [...[...pair.map((j) => j.id)].sort().reverse(), ...made.slice(0, -2).reverse()];

    const all = await store.reads.list({ limit: 100 });
    expect(all.total).toBe(made.length);
    expect(all.jobs.map((j) => j.id)).toEqual(expected);
    const counts = await store.reads.countByState();
    expect(Object.values(counts).reduce((t, n) => t + n, 0)).toBe(made.length);
    expect(counts).toMatchObject({ PENDING: 6, STARTED: 2, RETRY: 1, SUCCESS: 2, DEAD: 1, CANCELLED: 1 });
    const paged: string[] = [];
    for (let offset = 0; offset < made.length + 3; offset += 3) {
      const page = await store.reads.list({ offset, limit: 3 });
      expect(page.total).toBe(made.length);
      paged.push(...page.jobs.map((j) => j.id));
    }
    expect(paged).toEqual(expected);
    expect((await store.reads.list({ offset: 2, limit: 0 })).total).toBe(made.length);
    expect((await store.reads.list({ queue: 'q-again' })).jobs.map((j) => j.id)).toEqual([again]);
    expect((await store.reads.list({ type: 'task', offset: 3, limit: 2 })).jobs.map((j) => j.id)).toEqual(
      expected.slice(3, 5),
    );
    expect(started).toBe(made[4]);
  });

  test('listJobs filters by type and queue, with or without a state, paged newest first', async () => {
    const made = [];
    for (const [type, queue] of [
      ['task', 'default'],
      ['sim', 'default'],
      ['task', 'other'],
      ['sim', 'other'],
      ['task', 'default'],
    ]) {
      made.push(...(await store.jobs.enqueue([{ ...task(1), type, queue }])));
      clock.advance(1);
    }
    const ids = (r: { jobs: { id: string }[] }) => r.jobs.map((j) => j.id);
    const tasks = await store.reads.list({ type: 'task' });
    expect(tasks).toMatchObject({ total: 3, partial: false });
    expect(ids(tasks)).toEqual([made[4].id, made[2].id, made[0].id]);
    expect(ids(await store.reads.list({ type: 'task', offset: 1, limit: 1 }))).toEqual([made[2].id]);
    expect(ids(await store.reads.list({ queue: 'other' }))).toEqual([made[3].id, made[2].id]);
    expect(ids(await store.reads.list({ type: 'sim', queue: 'default' }))).toEqual([made[1].id]);
    expect(await store.reads.list({ type: 'nothing' })).toEqual({ total: 0, jobs: [], partial: false });
    // by state too: PENDING and STARTED from the queues, the finished from the index
    expect(ids(await store.reads.list({ state: 'PENDING', type: 'sim' })).sort()).toEqual(
      [made[1].id, made[3].id].sort(),
    );
    const { jobs } = await store.jobs.claim('other', { consumer: 'w1', max: 2, leaseMs: LEASE });
    const held = jobs.find((c) => c.job.type === 'sim')!;
    expect(ids(await store.reads.list({ state: 'STARTED', type: 'sim' }))).toEqual([held.job.id]);
    await store.jobs.complete(held.job.id, held.token, 1);
    expect(ids(await store.reads.list({ state: 'SUCCESS', queue: 'other' }))).toEqual([held.job.id]);
    expect((await store.reads.list({ state: 'SUCCESS', queue: 'default' })).total).toBe(0);
    expect(ids(await store.reads.list({ state: 'PENDING', queue: 'other' }))).toEqual([]);
  });

  test('a listing of all jobs misses none that is claimed or finished while it reads', async () => {
    const made = await store.jobs.enqueue(Array.from({ length: 120 }, (_, i) => task(i)));
    const ids = new Set(made.map((j) => j.id));
    let moving = true;
    const mover = (async () => {
      // jobs leave the wait list for the lease set and the lease set for the index, a few at a time
      for (;;) {
        const { jobs } = await store.jobs.claim('default', { consumer: 'w1', max: 3, leaseMs: LEASE });
        for (const c of jobs) await store.jobs.complete(c.job.id, c.token, 1);
        if (jobs.length === 0 || !moving) return;
      }
    })();
    const missed: number[] = [];
    for (let round = 0; round < 30; round++) {
      const listed = new Set((await store.reads.list({ limit: 500 })).jobs.map((j) => j.id));
      missed.push([...ids].filter((id) => !listed.has(id)).length);
    }
    moving = false;
    await mover;
    expect(missed).toEqual(missed.map(() => 0));
  });

  test("a job's log keeps its newest lines, each cut to 1 kB; none for a job that logged nothing", async () => {
    const [job, quiet] = await store.jobs.enqueue([task(1), task(2)]);
    for (let i = 0; i < JOB_LOG_LINES + 5; i++) await store.jobs.appendLog(job.id, `line ${i}`);
    const lines = await store.reads.log(job.id);
    expect(lines).toHaveLength(JOB_LOG_LINES);
    expect([lines[0], lines[lines.length - 1]]).toEqual(['line 5', `line ${JOB_LOG_LINES + 4}`]);
    await store.jobs.appendLog(quiet.id, 'é'.repeat(JOB_LOG_LINE_BYTES)); // 2 bytes each: cut at a character
    expect(await store.reads.log(quiet.id)).toEqual(['é'.repeat(JOB_LOG_LINE_BYTES / 2)]);
    expect(await store.reads.log('no-such-job')).toEqual([]);
    expect(await store.reads.log('a:b')).toEqual([]);
  });

  test('counts and lists by state stay exact through every transition (queued jobs are counted, not indexed, on Redis)', async () => {
    const jobs = await store.jobs.enqueue([
      task(1),
      task(2),
      task(3),
      task(4),
      task(5),
      { ...task(6), maxAttempts: 1 },
    ]);
    const { parent, children } = await store.jobs.enqueueFlow({
      parent: { type: 'primes', params: { n: 20, chunks: 2 } },
      children: [chunk(1, 10), chunk(11, 20)],
    });
    const ids = [...jobs.map((j) => j.id), parent.id];
    /** what countByState and listJobs must say: the top-level jobs' own states */
    const expectConsistent = async () => {
      const truth: Record<string, string[]> = {};
      for (const id of ids) {
        const job = await store.reads.job(id);
        if (job) (truth[job.state] ??= []).push(id);
      }
      const counts = await store.reads.countByState();
      for (const state of Object.keys(counts) as (keyof typeof counts)[]) {
        expect({ state, count: counts[state] }).toEqual({ state, count: truth[state]?.length ?? 0 });
        const listed = await store.reads.list({ state, limit: 100 });
        expect({ state, total: listed.total, ids: listed.jobs.map((j) => j.id).sort() }).toEqual({
          state,
          total: counts[state],
          ids: [...(truth[state] ?? [])].sort(),
        });
      }
    };
    await expectConsistent();
    clock.advance(1);
    const { jobs: held } = await store.jobs.claim('default', { consumer: 'w1', max: 8, leaseMs: LEASE }); // 6 tasks, then the 2 chunks
    const order = [...jobs.map((j) => j.id), ...children.map((c) => c.id)];
    // a sharded store keeps FIFO within a shard (each enqueue call's jobs are one shard's), not across them
    if (adapter === 'cluster') held.sort((a, b) => order.indexOf(a.job.id) - order.indexOf(b.job.id));
    expect(held.map((c) => c.job.id)).toEqual(order);
    await expectConsistent(); // the parent is STARTED with its first chunk
    const [h1, h2, h3, h4, _h5, h6, c1, c2] = held; // _h5 is left to its lease
    await store.jobs.complete(h1.job.id, h1.token, 3);
    await store.jobs.release(h2.job.id, h2.token);
    await store.jobs.fail(h3.job.id, h3.token, 'flaky', { to: 'RETRY', delayMs: 10 });
    await store.jobs.fail(h4.job.id, h4.token, 'broken', { to: 'FAILURE' });
    await store.jobs.complete(c1.job.id, c1.token, 4); // the parent makes PROGRESS
    await expectConsistent();
    clock.advance(LEASE + 1);
    await store.jobs.reap('default'); // _h5 back as RETRY, h6 (one attempt) DEAD, the second chunk RETRY
    await expectConsistent();
    await store.dead.retry(h6.job.id);
    const { jobs: again } = await store.jobs.claim('default', { consumer: 'w2', max: 10, leaseMs: LEASE });
    await expectConsistent();
    for (const c of again) await store.jobs.complete(c.job.id, c.token, 4);
    await expectConsistent();
    expect((await store.reads.countByState()).SUCCESS).toBe(6); // h1, h2, h3, _h5, h6 and the prime count
    expect(c2.job.id).toBe(children[1].id);
  });

  test('heartbeats make a node live until its TTL passes', async () => {
    await store.nodes.heartbeat('worker', 'w1', 200, { concurrency: 4 });
    await store.nodes.heartbeat('worker', 'w2', 5000);
    expect((await store.nodes.live('worker')).map((n) => n.nodeId).sort()).toEqual(['w1', 'w2']);
    expect((await store.nodes.live('worker')).find((n) => n.nodeId === 'w1')).toEqual({
      nodeId: 'w1',
      role: 'worker',
      seenAt: clock.now(),
      info: { concurrency: 4 },
    });
    expect((await store.nodes.live('worker')).find((n) => n.nodeId === 'w2')!.info).toEqual({});
    await new Promise((r) => setTimeout(r, 250));
    clock.advance(250);
    expect((await store.nodes.live('worker')).map((n) => n.nodeId)).toEqual(['w2']);
    await store.nodes.remove('worker', 'w2');
    expect(await store.nodes.live('worker')).toEqual([]);
  });

  test("the store's time is its clock; a claim answers it, and a retry's delay is counted from it", async () => {
    expect(await store.server.time()).toBe(clock.now());
    const [job] = await store.jobs.enqueue([task(1)]);
    expect(job.createdAt).toBe(clock.now());
    clock.advance(7);
    const claimed = await store.jobs.claim('default', { consumer: 'w1', max: 1, leaseMs: LEASE });
    expect(claimed.now).toBe(clock.now());
    expect(claimed.jobs[0].job.startedAt).toBe(clock.now());
    await store.jobs.fail(job.id, claimed.jobs[0].token, 'x', { to: 'RETRY', delayMs: 300 });
    expect((await store.jobs.claim('default', { consumer: 'w1', max: 1, leaseMs: LEASE })).nextRunAt).toBe(
      clock.now() + 300,
    );
  });

  test('tryLock lets one holder in per TTL', async () => {
    expect(await store.nodes.tryLock('reaper', 'a', 200)).toBe(true);
    expect(await store.nodes.tryLock('reaper', 'b', 200)).toBe(false);
    await new Promise((r) => setTimeout(r, 250));
    clock.advance(250);
    expect(await store.nodes.tryLock('reaper', 'b', 200)).toBe(true);
  });

  test('lockHolder names who holds a lock, and null once it is released or lapsed', async () => {
    expect(await store.nodes.lockHolder('node:worker:w1')).toBeNull();
    expect(await store.nodes.holdLock('node:worker:w1', 'host-a 41 x', 200)).toBe(true);
    expect(await store.nodes.lockHolder('node:worker:w1')).toBe('host-a 41 x');
    await store.nodes.releaseLock('node:worker:w1', 'host-a 41 x');
    expect(await store.nodes.lockHolder('node:worker:w1')).toBeNull();
    expect(await store.nodes.holdLock('node:worker:w1', 'host-b 7 y', 200)).toBe(true);
    await new Promise((r) => setTimeout(r, 250));
    clock.advance(250);
    expect(await store.nodes.lockHolder('node:worker:w1')).toBeNull();
  });

  test('history: counts add up and samples are replaced within a bucket; a window holds the buckets that start in it, oldest first', async () => {
    const t0 = clock.now() - (clock.now() % 10_000); // a bucket's start
    clock.advance(t0 + 1_000 - clock.now());
    await store.history.record(10_000, 60_000, { done: 2, d3: 2 }, { waiting: '7' });
    clock.advance(4_000);
    await store.history.record(10_000, 60_000, { done: 3, failed: 1 }, { waiting: '4', sum: '-9223372036854775808' });
    clock.advance(10_000); // the next bucket
    await store.history.record(10_000, 60_000, { failed: 5 });
    expect(await store.history.read(10_000, 60_000)).toEqual([
      { at: t0, fields: { done: '5', d3: '2', failed: '1', waiting: '4', sum: '-9223372036854775808' } },
      { at: t0 + 10_000, fields: { failed: '5' } },
    ]);
    // a window that starts after the first bucket's start leaves it out
    expect((await store.history.read(10_000, 10_000)).map((b) => b.at)).toEqual([t0 + 10_000]);
    clock.advance(60_000); // both buckets are now older than the window
    expect(await store.history.read(10_000, 60_000)).toEqual([]);
  });

  test('history: a bucket is dropped keepMs after its last write, whatever window reads it', async () => {
    await store.history.record(10_000, 150, { done: 1 });
    expect((await store.history.read(10_000, 3_600_000)).map((b) => b.fields)).toEqual([{ done: '1' }]);
    await new Promise((r) => setTimeout(r, 250));
    clock.advance(250);
    expect(await store.history.read(10_000, 3_600_000)).toEqual([]);
  });
  test('retryFailed: a FAILURE job back at the tail of its queue, its attempts from zero, no longer expiring; anything else is refused', async () => {
    await store.close();
    store = await makeStore(adapter, 'contract-retry-failed', { now: clock.now, resultTtlMs: 200 });
    const [failed, other] = await store.jobs.enqueue([task(1), task(2)]);
    const held = await claimOne();
    await store.jobs.fail(failed.id, held.token, 'bad input', { to: 'FAILURE' });
    await expect(store.dead.retryFailed(other.id)).rejects.toBeInstanceOf(ConflictError); // PENDING
    const again = await store.dead.retryFailed(failed.id);
    expect(again).toMatchObject({ state: 'PENDING', attempts: 0, error: null, finishedAt: null, handledBy: null });
    expect((await store.reads.list({ state: 'FAILURE' })).total).toBe(0);
    // it outlives the finished jobs' TTL, and waits behind the job that was queued before it
    await new Promise((r) => setTimeout(r, 300));
    clock.advance(300);
    await store.jobs.reap('default');
    expect(await store.reads.job(failed.id)).toMatchObject({ state: 'PENDING' });
    expect((await claimOne()).job.id).toBe(other.id);
    expect((await claimOne()).job).toMatchObject({ id: failed.id, attempts: 1 });
    await expect(store.dead.retryFailed('no-such-job')).rejects.toBeInstanceOf(NotFoundError);
    // a prime count that failed is not run itself, and its chunks belong to it: both refused
    const { parent, children } = await store.jobs.enqueueFlow({
      parent: { type: 'primes', params: { n: 100, chunks: 1 } },
      children: [chunk(1, 10)],
    });
    const c = await claimOne();
    await store.jobs.fail(c.job.id, c.token, 'boom', { to: 'FAILURE' });
    expect((await store.reads.job(parent.id))!.state).toBe('FAILURE');
    await expect(store.dead.retryFailed(parent.id)).rejects.toBeInstanceOf(ConflictError);
    await expect(store.dead.retryFailed(children[0].id)).rejects.toBeInstanceOf(ConflictError);
  });
});

/**
 * The Redis store keeps no time of the client's: every deadline and timestamp is Redis's (TIME
 * inside the scripts). Here this process's clock (Date.now) is set off by far more than any
 * lease, and nothing it does may move.
 */
describe("redis: one clock for the cluster, Redis's", () => {
  let store: Store;
  let other: Store;
  const skew = (ms: number) => {
    const real = Date.now.bind(Date);
    jest.spyOn(Date, 'now').mockImplementation(() => real() + ms);
  };
  beforeEach(async () => {
    const prefix = testPrefix('one-clock');
    [store, other] = await Promise.all([0, 1].map(() => new RedisStore({ url: testRedisUrl(), prefix }).connect()));
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    await Promise.all([store.close(), other.close()]);
  });
  /** Redis's time, read apart from the store */
  const redisTime = () => other.server.time();

  test("a client 20 s behind takes a 5 s lease that no reaper (with a right clock) takes back early; the job's times are Redis's", async () => {
    skew(-20_000);
    const before = await redisTime();
    const [job] = await store.jobs.enqueue([task(1)]);
    const { jobs, now } = await store.jobs.claim('default', { consumer: 'slow-clock', max: 1, leaseMs: 5000 });
    jest.restoreAllMocks();
    const after = await redisTime();
    for (const t of [job.createdAt, now, jobs[0].job.startedAt!]) {
      expect(t).toBeGreaterThanOrEqual(before);
      expect(t).toBeLessThanOrEqual(after);
    }
    expect(await other.jobs.reap('default')).toEqual({ requeued: [], dead: [] });
    await store.jobs.renew(job.id, jobs[0].token, 5000);
    expect(await other.jobs.reap('default')).toEqual({ requeued: [], dead: [] });
    await store.jobs.complete(job.id, jobs[0].token, 2, jobs[0].job);
    const done = (await other.reads.job(job.id))!;
    expect(done).toMatchObject({ state: 'SUCCESS', attempts: 1 });
    expect(done.finishedAt!).toBeGreaterThanOrEqual(done.startedAt!);
    expect(done.startedAt!).toBeGreaterThanOrEqual(done.createdAt);
  });

  test("a client ahead holds a lease of its length, not length + skew: it lapses on Redis's time", async () => {
    skew(60_000);
    const [job] = await store.jobs.enqueue([task(1)]);
    await store.jobs.claim('default', { consumer: 'fast-clock', max: 1, leaseMs: 300 });
    jest.restoreAllMocks();
    await new Promise((r) => setTimeout(r, 400));
    expect(await other.jobs.reap('default')).toEqual({ requeued: [job.id], dead: [] });
  });

  test("a retry's delay and a datalake entry's finish time are Redis's, whatever the client's clock", async () => {
    skew(-3_600_000);
    const [a, b] = await store.jobs.enqueue([task(1), task(2)]);
    const { jobs } = await store.jobs.claim('default', { consumer: 'w', max: 2, leaseMs: 5000 });
    await store.jobs.fail(a.id, jobs[0].token, 'flaky', { to: 'RETRY', delayMs: 200 });
    await store.jobs.complete(b.id, jobs[1].token, 3, jobs[1].job);
    jest.restoreAllMocks();
    const now = await redisTime();
    const retry = (await other.reads.job(a.id))!;
    expect(retry.runAt! - retry.updatedAt).toBe(200);
    expect(Math.abs(retry.runAt! - now)).toBeLessThan(2000);
    const day = new Date(now).toISOString().slice(0, 10);
    const records = await other.lake.read(day, 0, 100);
    const record = records.find((r) => r.job_id === b.id)!;
    expect(record.duration_ms).toBeGreaterThanOrEqual(0);
    expect(record.duration_ms).toBeLessThan(2000);
    expect(Math.abs(Date.parse(record.finished_at!) - now)).toBeLessThan(2000);
  });

  test("a node whose clock is 30 s behind is live for its TTL, by Redis's time", async () => {
    skew(-30_000);
    await store.nodes.heartbeat('worker', 'behind', 5000, { concurrency: 1 });
    jest.restoreAllMocks();
    const nodes = await other.nodes.live('worker');
    expect(nodes.map((n) => n.nodeId)).toEqual(['behind']);
    expect(Math.abs(nodes[0].seenAt - (await redisTime()))).toBeLessThan(2000);
  });
});
