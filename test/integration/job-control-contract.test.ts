/**
 * The job-control contract (delays, priorities, idempotency keys, cancellation, timeouts carried
 * to the consumer, pausing a queue), against both store adapters: a real redis-server and memory.
 */
import { ConflictError, JobCancelledError, NotFoundError } from '../../src/core/errors';
import type { NewJob } from '../../src/core/job';
import type { Store } from '../../src/store/types';
import { makeStore, manualClock, useTestCluster, WITH_CLUSTER } from '../helpers/stores';

const task = (a: number, over: Partial<NewJob> = {}): NewJob => ({
  type: 'task',
  params: { a, b: 1, op: 'add' },
  ...over,
});
const LEASE = 1000;

useTestCluster();

describe.each(WITH_CLUSTER)('job control contract: %s', (adapter) => {
  let store: Store;
  let clock: ReturnType<typeof manualClock>;
  const claim = async (max = 10, queue = 'default') =>
    await store.jobs.claim(queue, { consumer: 'w1', max, leaseMs: LEASE });

  beforeEach(async () => {
    clock = manualClock();
    store = await makeStore(adapter, 'jobctl', { now: clock.now, resultTtlMs: 60_000 });
  });
  afterEach(async () => {
    await store.close();
  });

  describe('delays', () => {
    test('a delayed job is PENDING with its run_at, not claimed before then, and claimed once due', async () => {
      const [job] = await store.jobs.enqueue([task(1, { delayMs: 5000 })]);
      expect(job).toMatchObject({ state: 'PENDING', runAt: clock.now() + 5000 });
      expect(await store.reads.job(job.id)).toMatchObject({ state: 'PENDING', runAt: clock.now() + 5000 });
      expect(await store.queues.depth('default')).toEqual({ waiting: 0, active: 0, delayed: 1 });
      const early = await claim();
      expect(early.jobs).toEqual([]);
      expect(early.nextRunAt).toBe(clock.now() + 5000); // one wake-up, at the due time
      clock.advance(4999);
      expect((await claim()).jobs).toEqual([]);
      clock.advance(1);
      const due = await claim();
      expect(due.jobs.map((c) => c.job.id)).toEqual([job.id]);
      expect((await store.reads.job(job.id))!.runAt).toBeNull();
    });

    test('a delayed job is listed PENDING', async () => {
      const [job] = await store.jobs.enqueue([task(1, { delayMs: 60_000 })]);
      const { total, jobs } = await store.reads.list({ state: 'PENDING' });
      expect(total).toBe(1);
      expect(jobs.map((j) => j.id)).toEqual([job.id]);
    });

    test("a delayed flow's chunks wait with it", async () => {
      const { parent, children } = await store.jobs.enqueueFlow({
        parent: { type: 'primes', params: { n: 20000, chunks: 2 }, delayMs: 1000 },
        children: [
          { type: 'primes_chunk', params: { lo: 2, hi: 10000 }, delayMs: 1000 },
          { type: 'primes_chunk', params: { lo: 10001, hi: 20000 }, delayMs: 1000 },
        ],
      });
      expect((await claim()).jobs).toEqual([]);
      clock.advance(1000);
      expect((await claim()).jobs.map((c) => c.job.id).sort()).toEqual(children.map((c) => c.id).sort());
      expect((await store.reads.job(parent.id))!.state).toBe('STARTED');
    });
  });

  describe('priorities', () => {
    test('lower priority first, FIFO within a priority, the default 5 between', async () => {
      const jobs = await store.jobs.enqueue([
        task(1, { priority: 9 }),
        task(2),
        task(3, { priority: 0 }),
        task(4, { priority: 9 }),
        task(5, { priority: 3 }),
        task(6),
        task(7, { priority: 0 }),
      ]);
      const order = [] as number[];
      for (let i = 0; i < jobs.length; i++) {
        const {
          jobs: [c],
        } = await claim(1);
        order.push(c.job.params.a as number);
      }
      expect(order).toEqual([3, 7, 5, 2, 6, 1, 4]);
      expect((await claim()).jobs).toEqual([]);
    });

    test('one claim of many takes the most urgent first, across lists', async () => {
      await store.jobs.enqueue([task(1, { priority: 7 }), task(2), task(3, { priority: 1 })]);
      const { jobs } = await claim(10);
      expect(jobs.map((c) => c.job.params.a)).toEqual([3, 2, 1]);
      expect(jobs.map((c) => c.job.priority)).toEqual([1, 5, 7]);
      expect(await store.queues.depth('default')).toEqual({ waiting: 0, active: 3, delayed: 0 });
    });

    test('a retried job goes back at the head of its own priority', async () => {
      await store.jobs.enqueue([task(1, { priority: 8 }), task(2, { priority: 8 }), task(3, { priority: 9 })]);
      const {
        jobs: [first],
      } = await claim(1);
      await store.jobs.fail(first.job.id, first.token, 'boom', { to: 'RETRY', delayMs: 0 });
      expect((await claim(3)).jobs.map((c) => c.job.params.a)).toEqual([1, 2, 3]);
    });

    test('a delayed job of priority 0 is claimed before the default ones once due', async () => {
      await store.jobs.enqueue([task(1), task(2, { priority: 0, delayMs: 100 })]);
      clock.advance(100);
      expect((await claim(2)).jobs.map((c) => c.job.params.a)).toEqual([2, 1]);
    });

    test('across shards the most urgent is taken first: each shard in its order, the shard with the most urgent job first', async () => {
      if (adapter === 'memory') return; // one shard
      const sharded = await makeStore(adapter, 'jobctl-shards', {
        now: clock.now,
        ...(adapter === 'redis' ? { shards: 3 } : {}),
      });
      try {
        // one enqueue call's jobs go to one shard; the calls go round the shards
        for (const p of [9, 7, 0, 8, 3, 6]) await sharded.jobs.enqueue([task(p, { priority: p })]);
        const order: number[] = [];
        for (let i = 0; i < 6; i++) {
          const { jobs } = await sharded.jobs.claim('default', { consumer: 'w1', max: 1, leaseMs: LEASE });
          order.push(jobs[0].job.priority);
          await new Promise((r) => setTimeout(r, 120)); // past the look at the shards' priorities
        }
        expect(order).toEqual([0, 3, 6, 7, 8, 9]);
      } finally {
        await sharded.close();
      }
    });

    test('waiting counts every priority; PENDING lists them', async () => {
      await store.jobs.enqueue([task(1, { priority: 2 }), task(2), task(3, { priority: 9 })]);
      expect((await store.queues.depth('default')).waiting).toBe(3);
      expect((await store.reads.list({ state: 'PENDING' })).jobs).toHaveLength(3);
    });
  });

  describe('idempotency keys', () => {
    test('the same key and params answer the first job and make nothing; other params are a conflict naming the key', async () => {
      const first = await store.jobs.submit(task(1, { idempotencyKey: 'k1' }));
      expect(first.existing).toBe(false);
      const again = await store.jobs.submit(task(1, { idempotencyKey: 'k1' }));
      expect(again).toMatchObject({ existing: true, job: { id: first.job.id, state: 'PENDING' } });
      expect(await store.queues.depth('default')).toMatchObject({ waiting: 1 });
      const err = await store.jobs.submit(task(2, { idempotencyKey: 'k1' })).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConflictError);
      expect((err as Error).message).toContain("'k1'");
      expect((await store.reads.list({})).total).toBe(1);
      // the answer follows the first job's state
      const {
        jobs: [c],
      } = await claim(1);
      await store.jobs.complete(c.job.id, c.token, 2);
      expect(await store.jobs.submit(task(1, { idempotencyKey: 'k1' }))).toMatchObject({
        existing: true,
        job: { id: first.job.id, state: 'SUCCESS' },
      });
    });

    test('a key outlives its job no longer than the job record: after the result TTL it makes a new job', async () => {
      const real = await makeStore(adapter, 'jobctl-ttl', { resultTtlMs: 600 }); // Redis expires keys by its own clock
      try {
        const first = await real.jobs.submit(task(1, { idempotencyKey: 'k2' }));
        const {
          jobs: [c],
        } = await real.jobs.claim('default', { consumer: 'w1', max: 1, leaseMs: LEASE });
        await real.jobs.complete(c.job.id, c.token, 2);
        expect((await real.jobs.submit(task(1, { idempotencyKey: 'k2' }))).existing).toBe(true);
        await new Promise((r) => setTimeout(r, 800));
        const later = await real.jobs.submit(task(1, { idempotencyKey: 'k2' }));
        expect(later.existing).toBe(false);
        expect(later.job.id).not.toBe(first.job.id);
      } finally {
        await real.close();
      }
    });

    test('a flow under a key is made once', async () => {
      const flow = {
        parent: { type: 'primes' as const, params: { n: 20000, chunks: 1 }, idempotencyKey: 'f1' },
        children: [{ type: 'primes_chunk' as const, params: { lo: 2, hi: 20000 } }],
      };
      const a = await store.jobs.submit(flow);
      const b = await store.jobs.submit(flow);
      expect(b).toMatchObject({ existing: true, job: { id: a.job.id } });
      expect((await store.queues.depth('default')).waiting).toBe(1);
    });
  });

  describe('cancellation', () => {
    test('a waiting job never runs; a delayed one neither', async () => {
      const [waiting, delayed] = await store.jobs.enqueue([task(1), task(2, { delayMs: 10 })]);
      expect(await store.jobs.cancel(waiting.id)).toMatchObject({ state: 'CANCELLED' });
      expect((await store.jobs.cancel(delayed.id)).state).toBe('CANCELLED');
      clock.advance(10);
      expect((await claim()).jobs).toEqual([]);
      expect(await store.queues.depth('default')).toEqual({ waiting: 0, active: 0, delayed: 0 });
      expect((await store.reads.countByState()).CANCELLED).toBe(2);
      expect((await store.reads.countByState()).PENDING).toBe(0);
      expect((await store.reads.list({ state: 'CANCELLED' })).jobs.map((j) => j.id).sort()).toEqual(
        [waiting.id, delayed.id].sort(),
      );
    });

    test("a held job's renewal, result and failure are refused as cancelled; it is seen as cancelled", async () => {
      const [job] = await store.jobs.enqueue([task(1)]);
      const {
        jobs: [c],
      } = await claim(1);
      expect(await store.jobs.cancelledAmong([job.id])).toEqual([]);
      await store.jobs.cancel(job.id);
      expect(await store.jobs.cancelledAmong([job.id, 'nope'])).toEqual([job.id]);
      await expect(store.jobs.renew(job.id, c.token, LEASE)).rejects.toBeInstanceOf(JobCancelledError);
      await expect(store.jobs.complete(job.id, c.token, 2)).rejects.toBeInstanceOf(JobCancelledError);
      await expect(store.jobs.fail(job.id, c.token, 'x', { to: 'FAILURE' })).rejects.toBeInstanceOf(JobCancelledError);
      expect(await store.reads.job(job.id)).toMatchObject({ state: 'CANCELLED', result: null });
      expect(await store.queues.depth('default')).toEqual({ waiting: 0, active: 0, delayed: 0 });
    });

    test('a finished job is a conflict, an unknown one not found', async () => {
      const [job] = await store.jobs.enqueue([task(1)]);
      const {
        jobs: [c],
      } = await claim(1);
      await store.jobs.complete(job.id, c.token, 2);
      await expect(store.jobs.cancel(job.id)).rejects.toBeInstanceOf(ConflictError);
      await expect(store.jobs.cancel('no-such-job')).rejects.toBeInstanceOf(NotFoundError);
      await store.jobs.enqueue([task(2)]);
      const [other] = (await store.reads.list({ state: 'PENDING' })).jobs;
      await store.jobs.cancel(other.id);
      await expect(store.jobs.cancel(other.id)).rejects.toBeInstanceOf(ConflictError);
    });

    test("a prime count cancels its unfinished chunks, held or waiting; a held chunk's result is refused", async () => {
      const { parent, children } = await store.jobs.enqueueFlow({
        parent: { type: 'primes', params: { n: 30000, chunks: 3 } },
        children: [0, 1, 2].map((i) => ({
          type: 'primes_chunk' as const,
          params: { lo: i * 10000 + 1, hi: (i + 1) * 10000 },
        })),
      });
      const {
        jobs: [first, second],
      } = await claim(2);
      await store.jobs.complete(first.job.id, first.token, 1229);
      await store.jobs.cancel(parent.id);
      expect((await store.reads.job(parent.id))!.state).toBe('CANCELLED');
      expect((await store.reads.children(parent.id)).map((c) => c.state)).toEqual([
        'SUCCESS',
        'CANCELLED',
        'CANCELLED',
      ]);
      await expect(store.jobs.complete(second.job.id, second.token, 1)).rejects.toBeInstanceOf(JobCancelledError);
      expect((await claim()).jobs).toEqual([]);
      expect(children).toHaveLength(3);
    });

    test('a cancelled job is recorded in the datalake once, as CANCELLED', async () => {
      const [job] = await store.jobs.enqueue([task(1)]);
      await store.jobs.cancel(job.id);
      const [day] = await store.lake.days();
      expect(day).toMatchObject({ total: 1, success: 0, failure: 1 });
      expect((await store.lake.read(day.date, 0, 10)).map((r) => [r.job_id, r.status])).toEqual([
        [job.id, 'CANCELLED'],
      ]);
    });

    test("a chunk's id cancels its prime count", async () => {
      const { parent, children } = await store.jobs.enqueueFlow({
        parent: { type: 'primes', params: { n: 20000, chunks: 1 } },
        children: [{ type: 'primes_chunk', params: { lo: 2, hi: 20000 } }],
      });
      expect((await store.jobs.cancel(children[0].id)).id).toBe(parent.id);
      expect((await store.reads.job(parent.id))!.state).toBe('CANCELLED');
    });

    test('a bot holding a cancelled job gets a cancelled error at its next call and is free again', async () => {
      await store.bots.register('b1', 'bot', 'hash');
      const [job] = await store.jobs.enqueue([
        { type: 'sim', queue: 'bots', params: { duration_ms: 0, failure_rate: 0 } },
      ]);
      await store.bots.claim('b1', 'bots', LEASE);
      await store.jobs.cancel(job.id);
      await expect(store.bots.completeJob('b1', job.id, 1)).rejects.toBeInstanceOf(JobCancelledError);
      expect((await store.bots.heartbeat('b1', LEASE))!.currentJob).toBeNull();
    });

    test('a bot that heard of the cancel at its heartbeat first is told the job was cancelled when it reports', async () => {
      await store.bots.register('b1', 'bot', 'hash');
      const [job] = await store.jobs.enqueue([
        { type: 'sim', queue: 'bots', params: { duration_ms: 0, failure_rate: 0 } },
      ]);
      await store.bots.claim('b1', 'bots', LEASE);
      await store.jobs.cancel(job.id);
      expect((await store.bots.heartbeat('b1', LEASE))!.currentJob).toBeNull();
      await expect(store.bots.completeJob('b1', job.id, 1)).rejects.toBeInstanceOf(JobCancelledError);
      await expect(store.bots.failJob('b1', job.id, 'x', { to: 'FAILURE' })).rejects.toBeInstanceOf(JobCancelledError);
      expect((await store.bots.get('b1'))!.jobsDone).toBe(0);
    });
  });

  test('a timeout is carried to the consumer with the job', async () => {
    await store.jobs.enqueue([task(1, { timeoutMs: 1500 }), task(2)]);
    const { jobs } = await claim(2);
    expect(jobs.map((c) => c.job.timeoutMs)).toEqual([1500, null]);
  });

  describe('pausing a queue', () => {
    test('a paused queue gives no work to workers or bots; resumed, it does; held jobs finish', async () => {
      await store.jobs.enqueue([task(1), task(2), task(3, { priority: 1 })]);
      const {
        jobs: [held],
      } = await claim(1);
      await store.queues.pause('default');
      expect((await claim()).jobs).toEqual([]);
      await store.bots.register('b1', 'bot', 'hash');
      await store.jobs.enqueue([{ type: 'sim', queue: 'bots', params: { duration_ms: 0, failure_rate: 0 } }]);
      await store.queues.pause('bots');
      expect(await store.bots.claim('b1', 'bots', LEASE)).toBeNull();
      await store.jobs.complete(held.job.id, held.token, 2);
      expect(await store.queues.list()).toEqual([
        { name: 'bots', waiting: 1, active: 0, delayed: 0, paused: true },
        { name: 'default', waiting: 2, active: 0, delayed: 0, paused: true },
      ]);
      await store.queues.resume('default');
      await store.queues.resume('bots');
      expect(held.job.params.a).toBe(3);
      expect((await claim()).jobs.map((c) => c.job.params.a)).toEqual([1, 2]);
      expect((await store.bots.claim('b1', 'bots', LEASE))!.type).toBe('sim');
      expect((await store.queues.list()).map((q) => q.paused)).toEqual([false, false]);
    });
  });
});
