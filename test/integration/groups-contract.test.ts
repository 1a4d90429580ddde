/**
 * Groups and concurrency limits (docs/flow-control.md), against both adapters and a Redis Cluster
 * with sharded queues: claims take from a queue's groups in turn, the queue's order inside each;
 * a limit holds jobs back (waiting, not claimed) until a slot frees by a completion or a reap.
 */
import type { NewJob } from '../../src/core/job';
import type { ClaimOptions, Store } from '../../src/store/types';
import { makeStore, manualClock, useTestCluster, WITH_CLUSTER } from '../helpers/stores';

const LEASE = 1000;
const task = (a: number, group?: string, extra: Partial<NewJob> = {}): NewJob => ({
  type: 'task',
  params: { a, b: 1, op: 'add' },
  queue: 'fair',
  ...(group ? { group } : {}),
  ...extra,
});

useTestCluster();

describe.each(WITH_CLUSTER)('groups and limits: %s', (adapter) => {
  let store: Store;
  let clock: ReturnType<typeof manualClock>;
  const claim = (max: number, opts: Partial<ClaimOptions> = {}) =>
    store.jobs.claim('fair', { consumer: 'w1', max, leaseMs: LEASE, ...opts });
  const params = (r: { jobs: { job: { params: Record<string, unknown> } }[] }) => r.jobs.map((c) => c.job.params.a);
  const groupOf = new Map<string, string>();
  const enqueue = async (jobs: NewJob[]) => {
    // one call per job: a batch goes to one shard, and a group's jobs to their group's
    const made = [];
    for (const j of jobs) made.push(...(await store.jobs.enqueue([j])));
    for (const j of made) groupOf.set(j.id, j.group ?? '');
    return made;
  };
  /** claim one at a time until `n` jobs are held (a Cluster's claim tries its shards in turn) */
  const claimAll = async (n: number) => {
    const got = [];
    for (let i = 0; i < n * 10 && got.length < n; i++) got.push(...(await claim(1)).jobs);
    return got;
  };

  beforeEach(async () => {
    clock = manualClock();
    store = await makeStore(adapter, 'groups', { now: clock.now, resultTtlMs: 60_000 });
  });
  afterEach(async () => {
    await store.close();
  });

  test('a job keeps its group; one without a group has no group field at all', async () => {
    const [a, plain] = await enqueue([task(1, 'acme'), task(2)]);
    expect(a.group).toBe('acme');
    expect((await store.reads.job(a.id))?.group).toBe('acme');
    expect('group' in plain).toBe(false);
    expect('group' in (await store.reads.job(plain.id))!).toBe(false);
    expect(await store.queues.depth('fair')).toEqual({ waiting: 2, active: 0, delayed: 0 });
  });

  if (adapter !== 'cluster') {
    test('claims take from the groups in turn, the ungrouped jobs taking their turn as one group', async () => {
      await enqueue([1, 2, 3, 4, 5].map((a) => task(a, 'big')));
      await enqueue([task(10), task(11)]);
      await enqueue([task(20, 'small'), task(21, 'small')]);
      expect(params(await claim(6))).toEqual([10, 1, 20, 11, 2, 21]);
      expect(params(await claim(6))).toEqual([3, 4, 5]);
      expect(await store.groups.groupCount('fair')).toBe(0);
    });

    test('inside a group, the queue order: priority, then first in first out', async () => {
      await enqueue([task(1, 'g'), task(2, 'g', { priority: 1 }), task(3, 'g'), task(4, 'g', { priority: 1 })]);
      const got = await claim(4);
      expect(params(got)).toEqual([2, 4, 1, 3]);
      expect(got.jobs.map((c) => c.job.priority)).toEqual([1, 1, 5, 5]);
    });
  }

  test('a flood in one group does not delay another group: its first job comes within one turn per shard', async () => {
    for (let i = 0; i < 10; i++)
      await store.jobs.enqueue(Array.from({ length: 20 }, (_, k) => task(i * 20 + k, 'flood')));
    const [late] = await enqueue([task(999, 'late')]);
    const got = await claimAll(12);
    expect(got.map((c) => c.job.id)).toContain(late.id);
  });

  test('group_concurrency holds each group to that many running; a completion frees a slot', async () => {
    await store.groups.setLimits('fair', { groupConcurrency: 1 });
    await enqueue([task(1, 'a'), task(2, 'a'), task(3, 'b'), task(4, 'b')]);
    const first = await claimAll(4);
    expect(first.map((c) => c.job.params.a).sort()).toEqual([1, 3]);
    expect((await claim(10)).jobs).toEqual([]);
    expect(await store.queues.depth('fair')).toMatchObject({ waiting: 2, active: 2 });
    expect(await store.groups.heldBack('fair')).toBeGreaterThan(0);
    const a1 = first.find((c) => c.job.params.a === 1)!;
    await store.jobs.complete(a1.job.id, a1.token, 2);
    expect(params({ jobs: await claimAll(1) })).toEqual([2]);
    expect(await store.groups.group('fair', 'a')).toEqual({
      group: 'a',
      concurrency: null,
      rate: null,
      waiting: 0,
      running: 1,
    });
  });

  test("a group's own limit overrides group_concurrency; null removes it", async () => {
    await store.groups.setLimits('fair', { groupConcurrency: 1 });
    expect(await store.groups.setGroupLimit('fair', 'vip', { concurrency: 3 })).toMatchObject({
      group: 'vip',
      concurrency: 3,
    });
    await enqueue([1, 2, 3, 4].map((a) => task(a, 'vip')));
    expect((await claimAll(4)).length).toBe(3);
    expect(await store.groups.setGroupLimit('fair', 'vip', { concurrency: null })).toMatchObject({
      concurrency: null,
      running: 3,
    });
    expect(await store.groups.busiest('fair', 5)).toEqual([
      { group: 'vip', concurrency: null, rate: null, waiting: 1, running: 3 },
    ]);
  });

  test("the queue's concurrency caps what runs across every claim and shard; null removes it", async () => {
    expect(await store.groups.setLimits('fair', { concurrency: 6 })).toEqual({
      concurrency: 6,
      groupConcurrency: null,
      rate: null,
      groupRate: null,
    });
    await enqueue(Array.from({ length: 12 }, (_, a) => task(a)));
    const held = await claimAll(12);
    expect(held.length).toBe(6);
    expect(await store.queues.depth('fair')).toMatchObject({ waiting: 6, active: 6 });
    await store.groups.setLimits('fair', { concurrency: null });
    expect(await store.groups.limits('fair')).toEqual({
      concurrency: null,
      groupConcurrency: null,
      rate: null,
      groupRate: null,
    });
    expect((await claimAll(6)).length).toBe(6);
  });

  test("a reaped job's slot comes back: its group runs again after the lease lapses", async () => {
    await store.groups.setLimits('fair', { groupConcurrency: 1 });
    await enqueue([task(1, 'a'), task(2, 'a')]);
    const [held] = await claimAll(1);
    expect((await claim(5)).jobs).toEqual([]);
    clock.advance(LEASE + 1);
    for (let i = 0; i < 3; i++) await store.jobs.reap('fair', { leaseMs: LEASE }); // the first look sets the reaper's clock
    expect((await store.reads.job(held.job.id))?.state).toBe('RETRY');
    const again = await claimAll(1);
    expect(again.map((c) => c.job.id)).toEqual([held.job.id]); // back at the head of its group
    expect(await store.groups.group('fair', 'a')).toMatchObject({ running: 1, waiting: 1 });
  });

  test('a consumer waiting on a limited queue wakes when a slot frees', async () => {
    await store.groups.setLimits('fair', { groupConcurrency: 1 });
    await enqueue([task(1, 'a'), task(2, 'a')]);
    const [held] = await claimAll(1);
    await claim(5);
    const woken = store.jobs.waitForWork('fair', 5000);
    await new Promise((r) => setTimeout(r, 50));
    await store.jobs.fail(held.job.id, held.token, 'no', { to: 'FAILURE' });
    expect(await woken).toBe(true);
    expect(params({ jobs: await claimAll(1) })).toEqual([2]);
  });

  test('cancel takes a grouped job out of its group; a queue whose groups hold nothing may be removed', async () => {
    const [a1, a2] = await enqueue([task(1, 'a'), task(2, 'a')]);
    await store.groups.setLimits('fair', { groupConcurrency: 5 });
    expect(await store.queues.remove('fair')).toBe('busy');
    await store.jobs.cancel(a1.id);
    await store.jobs.cancel(a2.id);
    expect(await store.queues.remove('fair')).toBe('removed');
    expect(await store.groups.limits('fair')).toEqual({
      concurrency: null,
      groupConcurrency: null,
      rate: null,
      groupRate: null,
    });
  });
});
