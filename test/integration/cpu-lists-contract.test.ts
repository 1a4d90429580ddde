/**
 * The CPU lists (docs/architecture.md "What a worker claims"), against both adapters and a Redis Cluster: a
 * queue's CPU jobs wait apart from the others, a claim takes up to `max` ordinary jobs and up to
 * `maxCpu` CPU jobs, each kind in its own order, and every way a job goes back to its queue
 * (retry, reap, release, a person's retry) puts it back in its own lane.
 */
import { primeCountFlow } from '../../src/core/chunks';
import type { NewJob } from '../../src/core/job';
import type { ClaimOptions, Store } from '../../src/store/types';
import { makeStore, manualClock, useTestCluster, WITH_CLUSTER } from '../helpers/stores';

const task = (a: number, queue = 'default'): NewJob => ({ type: 'task', params: { a, b: 1, op: 'add' }, queue });
const LEASE = 1000;

useTestCluster();

describe.each(WITH_CLUSTER)('CPU lists: %s', (adapter) => {
  let store: Store;
  let clock: ReturnType<typeof manualClock>;
  const claim = (opts: Partial<ClaimOptions>, queue = 'default') =>
    store.jobs.claim(queue, { consumer: 'w1', max: 0, leaseMs: LEASE, ...opts });
  const ids = (r: { jobs: { job: { id: string } }[] }) => r.jobs.map((c) => c.job.id);
  /** one prime count of `chunks` chunks on `queue`: its chunks' ids in order */
  const primeCount = async (chunks: number, queue = 'default') =>
    (await store.jobs.enqueueFlow(primeCountFlow(chunks * 10, chunks, {}, { queue }))).children.map((c) => c.id);

  beforeEach(async () => {
    clock = manualClock();
    store = await makeStore(adapter, 'cpu-lists', { now: clock.now, resultTtlMs: 60_000 });
  });
  afterEach(async () => {
    await store.close();
  });

  test('a claim takes up to max ordinary jobs and up to maxCpu CPU jobs, each kind first in first out', async () => {
    const chunks = await primeCount(4);
    const tasks = (await store.jobs.enqueue([task(1), task(2), task(3)])).map((j) => j.id);
    const first = await claim({ max: 2, maxCpu: 1 });
    expect(ids(first)).toEqual([tasks[0], tasks[1], chunks[0]]);
    expect(first.jobs.map((c) => c.job.state)).toEqual(['STARTED', 'STARTED', 'STARTED']);
    expect(new Set(first.jobs.map((c) => c.token)).size).toBe(3);
    expect(ids(await claim({ max: 0, maxCpu: 0 }))).toEqual([]);
    expect(ids(await claim({ max: 5, maxCpu: 0 }))).toEqual([tasks[2]]);
    expect(ids(await claim({ max: 5, maxCpu: 2 })).sort()).toEqual([chunks[1], chunks[2]].sort());
    expect(ids(await claim({ max: 0, maxCpu: 5 }))).toEqual([chunks[3]]);
    expect(await store.queues.depth('default')).toEqual({ waiting: 0, active: 7, delayed: 0 });
  });

  test('a task enqueued after 1,000 waiting chunks is claimed at once by a consumer whose threads are all busy', async () => {
    await primeCount(1000);
    const [t] = await store.jobs.enqueue([task(7)]);
    expect(ids(await claim({ max: 16, maxCpu: 0 }))).toEqual([t.id]);
    expect(await store.queues.depth('default')).toEqual({ waiting: 1000, active: 1, delayed: 0 });
    expect((await store.reads.countByState()).PENDING).toBe(1); // the prime count; its chunks are not top-level
  });

  test('without maxCpu, CPU jobs count in max, taken after the ordinary ones (a bot, a caller that runs every job alike)', async () => {
    const chunks = await primeCount(3);
    const [t] = await store.jobs.enqueue([task(1)]);
    const got = await claim({ max: 2 });
    if (adapter === 'cluster')
      expect(got.jobs.length).toBe(2); // the shards are tried in turn: which shard's lists first is not fixed
    else expect(ids(got)).toEqual([t.id, chunks[0]]);
    expect((await claim({ max: 5 })).jobs.length).toBe(2);
  });

  test('NewJob.cpu puts a job of any type in the CPU lists, and cpu: false a chunk in the ordinary one', async () => {
    const [cpuTask] = await store.jobs.enqueue([{ ...task(1), cpu: true }]);
    const flow = primeCountFlow(10, 1, {}, { cpu: false });
    const {
      children: [plainChunk],
    } = await store.jobs.enqueueFlow(flow);
    expect(ids(await claim({ max: 5, maxCpu: 0 }))).toEqual([plainChunk.id]);
    expect(ids(await claim({ max: 5, maxCpu: 1 }))).toEqual([cpuTask.id]);
  });

  test('a CPU job goes back to the CPU lists when it is retried, reaped, released or retried from the dead-letter queue', async () => {
    const [c1, c2, c3] = await primeCount(3);
    const held = await claim({ maxCpu: 3 });
    expect(ids(held).sort()).toEqual([c1, c2, c3].sort());
    const token = (id: string) => held.jobs.find((c) => c.job.id === id)!.token;
    await store.jobs.fail(c1, token(c1), 'flaky', { to: 'RETRY', delayMs: 0 }); // back at once
    await store.jobs.release(c2, token(c2));
    expect(ids(await claim({ max: 10, maxCpu: 0 }))).toEqual([]);
    expect(ids(await claim({ maxCpu: 10 })).sort()).toEqual([c1, c2].sort());
    clock.advance(LEASE + 1);
    expect((await store.jobs.reap('default')).requeued.sort()).toEqual([c1, c2, c3].sort());
    expect(ids(await claim({ max: 10, maxCpu: 0 }))).toEqual([]);
    const again = await claim({ maxCpu: 10 });
    expect(ids(again).sort()).toEqual([c1, c2, c3].sort());
    // a delayed retry is due in the CPU lists too
    const c = again.jobs.find((j) => j.job.id === c3)!;
    await store.jobs.fail(c3, c.token, 'flaky', { to: 'RETRY', delayMs: 50 });
    clock.advance(51);
    expect(ids(await claim({ max: 10, maxCpu: 0 }))).toEqual([]);
    const [retried] = (await claim({ maxCpu: 1 })).jobs;
    expect(retried.job.id).toBe(c3);
    // out of attempts: DEAD, then a person's retry puts it in the CPU lists
    await store.jobs.fail(c3, retried.token, 'broken', { to: 'DEAD' });
    const [standalone] = await store.jobs.enqueue([{ ...task(9), cpu: true }]);
    const [s] = (await claim({ maxCpu: 1 })).jobs;
    expect(s.job.id).toBe(standalone.id);
    await store.jobs.fail(standalone.id, s.token, 'broken', { to: 'DEAD' });
    await store.dead.retry(standalone.id);
    expect(ids(await claim({ max: 10, maxCpu: 0 }))).toEqual([]);
    expect(ids(await claim({ maxCpu: 1 }))).toEqual([standalone.id]);
  });

  test('a cancelled prime count takes its waiting chunks out of the CPU lists', async () => {
    const { parent } = await store.jobs.enqueueFlow(primeCountFlow(100, 5, {}, {}));
    await store.jobs.cancel(parent.id);
    expect(await store.queues.depth('default')).toEqual({ waiting: 0, active: 0, delayed: 0 });
    expect(ids(await claim({ max: 10, maxCpu: 10 }))).toEqual([]);
  });

  test('a paused queue gives no CPU job either', async () => {
    await primeCount(2);
    await store.queues.pause('default');
    expect(ids(await claim({ max: 10, maxCpu: 10 }))).toEqual([]);
    await store.queues.resume('default');
    expect((await claim({ max: 10, maxCpu: 10 })).jobs.length).toBe(2);
  });

  test('listings count and list the CPU lists as waiting', async () => {
    const { parent } = await store.jobs.enqueueFlow(primeCountFlow(100, 3, {}, {}));
    const [cpuTask] = await store.jobs.enqueue([{ ...task(1), cpu: true }]);
    expect(await store.queues.depth('default')).toEqual({ waiting: 4, active: 0, delayed: 0 });
    expect((await store.reads.list({ state: 'PENDING' })).jobs.map((j) => j.id).sort()).toEqual(
      [parent.id, cpuTask.id].sort(),
    );
  });

  test('waitForWork wakes for CPU work only when asked, and ends when its signal aborts', async () => {
    const queue = 'cpu-wait';
    await store.jobs.waitForWork(queue, 10, { cpu: true }); // drain a stale marker, if any
    const ordinary = store.jobs.waitForWork(queue, 60_000);
    const cpu = store.jobs.waitForWork(queue, 60_000, { cpu: true });
    await new Promise((r) => setTimeout(r, 50));
    await primeCount(2, queue);
    expect(await cpu).toBe(true);
    // the chunks did not wake the consumer that asked for ordinary work only: its signal ends its wait
    const stop = new AbortController();
    const stillWaiting = store.jobs.waitForWork(queue, 60_000, { signal: stop.signal });
    stop.abort();
    expect(await stillWaiting).toBe(false);
    await store.jobs.enqueue([task(1, queue)]);
    expect(await ordinary).toBe(true);
  });
});
