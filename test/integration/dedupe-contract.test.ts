/**
 * Debounce and throttle windows (docs/flow-control.md "Debounce and throttle"), against both
 * adapters and a Redis Cluster with sharded queues: submissions with one key at once make one
 * job; a throttle window answers its first job until it lapses; a debounced job takes the last
 * params, waits again at each submission (up to max_wait_ms) and runs once; once claimed, the key
 * makes a new job.
 */
import { ConflictError } from '../../src/core/errors';
import type { Dedupe, DedupedJob, NewJob } from '../../src/core/job';
import type { Store } from '../../src/store/types';
import { makeStore, manualClock, useTestCluster, WITH_CLUSTER } from '../helpers/stores';

const QUEUE = 'dd';
const task = (a: number, dedupe: Dedupe, extra: Partial<NewJob> = {}): NewJob => ({
  type: 'task',
  params: { a, b: 1, op: 'add' },
  queue: QUEUE,
  dedupe,
  ...extra,
});
const throttle = (key: string, ttlMs = 60_000): Dedupe => ({ key, ttlMs, mode: 'throttle' });
const debounce = (key: string, ttlMs = 1000, maxWaitMs?: number): Dedupe => ({
  key,
  ttlMs,
  mode: 'debounce',
  ...(maxWaitMs === undefined ? {} : { maxWaitMs }),
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

useTestCluster();

describe.each(WITH_CLUSTER)('debounce and throttle: %s', (adapter) => {
  let store: Store;
  let clock: ReturnType<typeof manualClock>;
  /** every job a claim of the queue gives now (a Cluster's claim goes over its shards) */
  const claimAll = async () => {
    const got = [];
    for (let i = 0; i < 5; i++) {
      const r = await store.jobs.claim(QUEUE, { consumer: 'w1', max: 100, leaseMs: 60_000 });
      got.push(...r.jobs);
    }
    return got;
  };
  const waiting = async () => {
    const d = await store.queues.depth(QUEUE);
    return d.waiting + d.delayed;
  };

  beforeEach(async () => {
    clock = manualClock();
    store = await makeStore(adapter, 'dedupe', { now: clock.now, resultTtlMs: 60_000 });
  });
  afterEach(async () => {
    await store.close();
  });

  test('throttle: 50 submissions at once with one key make exactly one job, and every answer names it', async () => {
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) => store.jobs.submit(task(i, throttle('burst')))),
    );
    const ids = new Set(answers.map((a) => a.job.id));
    expect(ids.size).toBe(1);
    expect(answers.filter((a) => a.deduplicated === false)).toHaveLength(1);
    expect(answers.filter((a) => a.deduplicated === true)).toHaveLength(49);
    expect(await waiting()).toBe(1);
    const [id] = ids;
    expect((await store.reads.job(id))?.dedupe).toEqual({ key: 'burst', mode: 'throttle' });
    const made = answers.find((a) => !a.deduplicated)!;
    expect((await store.reads.job(id))?.params).toEqual(made.job.params); // the first wins: nothing replaced
    expect((await claimAll()).map((c) => c.job.id)).toEqual([id]);
  });

  test('throttle: a started job still answers for the key; a cancelled one does not', async () => {
    const first = await store.jobs.submit(task(1, throttle('t')));
    expect(first.deduplicated).toBe(false);
    expect(first.job.dedupe).toEqual({ key: 't', mode: 'throttle' });
    expect((await claimAll()).map((c) => c.job.id)).toEqual([first.job.id]);
    const again = await store.jobs.submit(task(2, throttle('t')));
    expect(again).toMatchObject({ deduplicated: true, job: { id: first.job.id, state: 'STARTED' } });
    expect(again.job.params).toEqual({ a: 1, b: 1, op: 'add' });

    const other = await store.jobs.submit(task(3, throttle('t2')));
    await store.jobs.cancel(other.job.id);
    const after = await store.jobs.submit(task(4, throttle('t2')));
    expect(after.deduplicated).toBe(false);
    expect(after.job.id).not.toBe(other.job.id);
  });

  test('a key is scoped by queue, group and submitter: each has its own window', async () => {
    const key = throttle('same');
    const jobs = await Promise.all([
      store.jobs.submit(task(1, key)),
      store.jobs.submit(task(2, key, { queue: 'dd2' })),
      store.jobs.submit(task(3, key, { group: 'acme' })),
      store.jobs.submit(task(4, key, { group: 'other' })),
      store.jobs.submit(task(5, key, { principal: 'client:alice' })),
    ]);
    expect(new Set(jobs.map((j) => j.job.id)).size).toBe(5);
    expect(jobs.every((j) => j.deduplicated === false)).toBe(true);
    const repeat = await store.jobs.submit(task(6, key, { group: 'acme' }));
    expect(repeat).toMatchObject({ deduplicated: true, job: { id: jobs[2].job.id, group: 'acme' } });
  });

  test('debounce: 50 submissions at once make one job, which holds the params of one of them', async () => {
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) => store.jobs.submit(task(i, debounce('burst')))),
    );
    const ids = new Set(answers.map((a) => a.job.id));
    expect(ids.size).toBe(1);
    expect(answers.filter((a) => !a.deduplicated)).toHaveLength(1);
    const [id] = ids;
    const job = (await store.reads.job(id))!;
    expect(job.state).toBe('PENDING');
    expect(job.params.a).toEqual(expect.any(Number));
    expect(await waiting()).toBe(1);
    clock.advance(1001);
    const claimed = await claimAll();
    expect(claimed.map((c) => c.job.id)).toEqual([id]);
    expect(claimed[0].job.params).toEqual(job.params);
  });

  test('debounce: each submission replaces the params and restarts the wait; the job runs once, with the last', async () => {
    const first = await store.jobs.submit(task(1, debounce('d', 1000)));
    expect(first.deduplicated).toBe(false);
    expect(first.job.runAt).toBe(first.job.createdAt + 1000);
    clock.advance(800);
    const second = await store.jobs.submit(task(2, debounce('d', 1000), { priority: 2, timeoutMs: 5000 }));
    expect(second).toMatchObject({ deduplicated: true, job: { id: first.job.id, state: 'PENDING' } });
    expect(second.job.params).toEqual({ a: 2, b: 1, op: 'add' });
    expect(second.job).toMatchObject({ priority: 2, timeoutMs: 5000, runAt: first.job.createdAt + 1800 });
    clock.advance(500); // past the first wait, within the second
    expect(await claimAll()).toEqual([]);
    const third = await store.jobs.submit(task(3, debounce('d', 1000)));
    expect(third.job).toMatchObject({ id: first.job.id, priority: 5, timeoutMs: null });
    clock.advance(999);
    expect(await claimAll()).toEqual([]);
    clock.advance(2);
    const claimed = await claimAll();
    expect(claimed.map((c) => [c.job.id, c.job.params.a])).toEqual([[first.job.id, 3]]);
    expect(await waiting()).toBe(0);

    // claimed: the key makes a new job, which waits the window
    const next = await store.jobs.submit(task(4, debounce('d', 1000)));
    expect(next.deduplicated).toBe(false);
    expect(next.job.id).not.toBe(first.job.id);
    expect((await store.reads.job(first.job.id))?.params.a).toBe(3);
    expect(await claimAll()).toEqual([]);
    clock.advance(1001);
    expect((await claimAll()).map((c) => c.job.id)).toEqual([next.job.id]);
  });

  test('debounce: max_wait_ms caps the wait from the first submission', async () => {
    const first = await store.jobs.submit(task(1, debounce('cap', 1000, 1500)));
    const t0 = first.job.createdAt;
    clock.advance(800);
    expect((await store.jobs.submit(task(2, debounce('cap', 1000, 1500)))).job.runAt).toBe(t0 + 1500);
    clock.advance(600);
    expect((await store.jobs.submit(task(3, debounce('cap', 1000, 1500)))).job.runAt).toBe(t0 + 1500);
    clock.advance(100); // t0 + 1500: due, though the last submission was 100 ms ago
    const claimed = await claimAll();
    expect(claimed.map((c) => [c.job.id, c.job.params.a])).toEqual([[first.job.id, 3]]);
  });

  test('debounce: a waiting job of a group keeps its turn in its group after a replacement', async () => {
    const first = await store.jobs.submit(task(1, debounce('g', 1000), { group: 'acme' }));
    clock.advance(1001); // due: moved to its group's lane by the next claim
    const other = await store.jobs.enqueue([{ type: 'task', params: { a: 9, b: 1 }, queue: QUEUE, group: 'acme' }]);
    const held = await claimAll();
    expect(held.map((c) => c.job.id).sort()).toEqual([first.job.id, other[0].id].sort());
    // claimed: a new job under the key; a replacement of it waits again
    const next = await store.jobs.submit(task(2, debounce('g', 1000), { group: 'acme' }));
    expect(next.deduplicated).toBe(false);
    const replaced = await store.jobs.submit(task(3, debounce('g', 1000), { group: 'acme' }));
    expect(replaced.job).toMatchObject({ id: next.job.id, group: 'acme', params: { a: 3 } });
    clock.advance(1001);
    expect((await claimAll()).map((c) => [c.job.id, c.job.params.a])).toEqual([[next.job.id, 3]]);
  });

  test('dedupedJob names the job a submission would be answered with, and nothing once it would make one', async () => {
    const t = task(1, throttle('ask'));
    expect(await store.jobs.dedupedJob(t as DedupedJob)).toBeNull();
    const made = await store.jobs.submit(t);
    expect(await store.jobs.dedupedJob(t as DedupedJob)).toBe(made.job.id);
    expect(await store.jobs.dedupedJob(task(1, { ...throttle('ask'), mode: 'debounce' }) as DedupedJob)).toBeNull();
    expect(await store.jobs.dedupedJob(task(1, throttle('ask'), { group: 'g' }) as DedupedJob)).toBeNull();
    await store.jobs.cancel(made.job.id);
    expect(await store.jobs.dedupedJob(t as DedupedJob)).toBeNull();

    const d = task(1, debounce('ask-d'));
    const waiting = await store.jobs.submit(d);
    expect(await store.jobs.dedupedJob(d as DedupedJob)).toBe(waiting.job.id);
    clock.advance(1001);
    expect((await claimAll()).map((c) => c.job.id)).toEqual([waiting.job.id]);
    expect(await store.jobs.dedupedJob(d as DedupedJob)).toBeNull();
  });

  test('a window in one mode refuses the other; a waiting debounced job refuses another type', async () => {
    const t = await store.jobs.submit(task(1, throttle('m')));
    await expect(store.jobs.submit(task(2, debounce('m')))).rejects.toThrow(ConflictError);
    await expect(store.jobs.submit(task(2, debounce('m')))).rejects.toMatchObject({
      details: [{ field: 'dedupe.mode' }],
    });
    const d = await store.jobs.submit(task(1, debounce('typed')));
    await expect(
      store.jobs.submit({
        type: 'sim',
        params: { duration_ms: 1, failure_rate: 0 },
        queue: QUEUE,
        dedupe: debounce('typed'),
      }),
    ).rejects.toMatchObject({ details: [{ field: 'dedupe.key' }] });
    expect(new Set([t.job.id, d.job.id]).size).toBe(2);
    expect(await waiting()).toBe(2);
  });
});

describe.each(WITH_CLUSTER)('windows lapse: %s', (adapter) => {
  let store: Store;
  beforeEach(async () => {
    // the store's own clock: a throttle window lapses by Redis's key expiry
    store = await makeStore(adapter, 'dedupe-lapse', { resultTtlMs: 60_000 });
  });
  afterEach(async () => {
    await store.close();
  });

  test('throttle: after ttl_ms the key makes a new job', async () => {
    const first = await store.jobs.submit(task(1, throttle('lapse', 1500)));
    const again = await store.jobs.submit(task(2, throttle('lapse', 1500)));
    expect(again).toMatchObject({ deduplicated: true, job: { id: first.job.id } });
    await sleep(1700);
    const after = await store.jobs.submit(task(3, throttle('lapse', 1500)));
    expect(after.deduplicated).toBe(false);
    expect(after.job.id).not.toBe(first.job.id);
    expect(after.job.params.a).toBe(3);
  });
});
