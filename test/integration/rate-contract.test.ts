/**
 * Rate limits (docs/flow-control.md "Rate limits"), against both adapters and a Redis Cluster with
 * sharded queues: no more than max jobs start in any window of per_ms (the queue's, each group's),
 * a claim held back by a rate answers when the window lets one start, and a job given back with a
 * hold (a handler's rate_limited) keeps its group, or its queue, from starting anything until then.
 */
import type { NewJob } from '../../src/core/job';
import type { ClaimOptions, Store } from '../../src/store/types';
import { shardOfId } from '../../src/store/keys';
import { keyShard } from '../../src/store/redis/shared';
import { makeStore, manualClock, useTestCluster, WITH_CLUSTER } from '../helpers/stores';

const LEASE = 60_000;
const task = (a: number, group?: string): NewJob => ({
  type: 'task',
  params: { a, b: 1, op: 'add' },
  queue: 'rated',
  ...(group ? { group } : {}),
});

useTestCluster();

describe.each(WITH_CLUSTER)('rate limits: %s', (adapter) => {
  let store: Store;
  let clock: ReturnType<typeof manualClock>;
  const claim = (max: number, opts: Partial<ClaimOptions> = {}) =>
    store.jobs.claim('rated', { consumer: 'w1', max, leaseMs: LEASE, ...opts });
  /** one job per call: a group's jobs go to their group's shard, the others spread */
  const enqueue = async (jobs: NewJob[]) => {
    const made = [];
    for (const j of jobs) made.push(...(await store.jobs.enqueue([j])));
    return made;
  };
  /** claims of one job until none comes (every shard tried a few times): what started, and the earliest wake-up answered */
  const drain = async () => {
    const got = [];
    let wake: number | null = null;
    for (let misses = 0; misses < 8;) {
      const r = await claim(1);
      if (r.nextRunAt !== null) wake = wake === null ? r.nextRunAt : Math.min(wake, r.nextRunAt);
      misses = r.jobs.length === 0 ? misses + 1 : 0;
      got.push(...r.jobs);
    }
    return { got, wake };
  };

  beforeEach(async () => {
    clock = manualClock();
    store = await makeStore(adapter, 'rate', { now: clock.now, resultTtlMs: 60_000 });
  });
  afterEach(async () => {
    await store.close();
  });

  test('the limits answer what holds; null removes a rate', async () => {
    expect(
      await store.groups.setLimits('rated', { rate: { max: 8, perMs: 1000 }, groupRate: { max: 2, perMs: 500 } }),
    ).toEqual({
      concurrency: null,
      groupConcurrency: null,
      rate: { max: 8, perMs: 1000 },
      groupRate: { max: 2, perMs: 500 },
    });
    expect(await store.groups.setGroupLimit('rated', 'vip', { rate: { max: 5, perMs: 100 } })).toMatchObject({
      group: 'vip',
      concurrency: null,
      rate: { max: 5, perMs: 100 },
    });
    await store.groups.setLimits('rated', { rate: null });
    expect(await store.groups.limits('rated')).toMatchObject({ rate: null, groupRate: { max: 2, perMs: 500 } });
    expect(await store.groups.setGroupLimit('rated', 'vip', { rate: null })).toMatchObject({ rate: null });
  });

  test("the queue's rate: no more than max start in a window, the rest wait and start when it slides", async () => {
    await store.groups.setLimits('rated', { rate: { max: 8, perMs: 1000 } });
    await enqueue(Array.from({ length: 20 }, (_, a) => task(a)));
    const first = await drain();
    expect(first.got.length).toBe(8); // on a Cluster too: the queue's rate is one log
    expect(first.wake).toBe(clock.now() + 1000); // the claim answers when the window lets one start
    expect(await store.queues.depth('rated')).toMatchObject({ waiting: 20 - first.got.length });
    expect(await store.groups.heldBack('rated', 'rate')).toBeGreaterThan(0);
    // completions free no start: a rate counts starts, not what runs
    for (const c of first.got) await store.jobs.complete(c.job.id, c.token, 2);
    expect((await drain()).got.length).toBe(0);
    clock.advance(999);
    expect((await drain()).got.length).toBe(0);
    let started = first.got.length;
    for (let window = 0; started < 20 && window < 10; window++) {
      clock.advance(window === 0 ? 1 : 1000);
      const n = (await drain()).got.length;
      expect(n).toBe(Math.min(8, 20 - started));
      started += n;
    }
    expect(started).toBe(20);
  });

  test("over 4 shards the queue's rate is one limit: exactly max start in a window, from every shard; a max of 1 holds", async () => {
    await store.close();
    store = await makeStore(adapter, 'rate-sharded', {
      now: clock.now,
      resultTtlMs: 60_000,
      ...(adapter === 'memory' ? {} : { shards: 4 }),
    });
    await store.groups.setLimits('rated', { rate: { max: 8, perMs: 1000 } });
    const made = await enqueue(Array.from({ length: 40 }, (_, a) => task(a)));
    const first = await drain();
    expect(first.got.length).toBe(8); // not "at most 8": a shard with no share left takes from the one log
    expect(first.wake).toBe(clock.now() + 1000);
    if (adapter !== 'memory') {
      // the jobs are spread over the 4 shards, and the 8 came from more than one of them
      expect(new Set(made.map((j) => shardOfId(j.id))).size).toBe(4);
      expect(new Set(first.got.map((c) => shardOfId(c.job.id))).size).toBeGreaterThan(1);
    }
    clock.advance(1000);
    expect((await drain()).got.length).toBe(8);
    // a rate below the number of shards is one limit too
    expect(await store.groups.setLimits('rated', { rate: { max: 1, perMs: 1000 } })).toMatchObject({
      rate: { max: 1, perMs: 1000 },
    });
    clock.advance(1000);
    const one = await drain();
    expect(one.got.length).toBe(1);
    expect(one.wake).toBe(clock.now() + 1000);
    clock.advance(1000);
    expect((await drain()).got.length).toBe(1);
    // a claim in a shard with nothing left to take gives back what it reserved: the 22 left start
    // in a window of 25 (the drain's claims of empty shards reserving too), and 3 of 10 more
    await store.groups.setLimits('rated', { rate: { max: 25, perMs: 1000 } });
    clock.advance(1000);
    expect((await drain()).got.length).toBe(22);
    await enqueue(Array.from({ length: 10 }, (_, a) => task(100 + a)));
    expect((await drain()).got.length).toBe(3);
    // a shard that alone has jobs waiting (a group's, in a shard other than the first) takes the
    // whole rate: no share of it is left idle in the others
    clock.advance(1000);
    expect((await drain()).got.length).toBe(7);
    const lone = ['g0', 'g1', 'g2', 'g3', 'g4', 'g5', 'g6', 'g7'].find((g) => keyShard(`rated\n${g}`, 4) !== 0)!;
    await store.groups.setLimits('rated', { rate: { max: 8, perMs: 1000 } });
    clock.advance(1000);
    const grouped = await enqueue(Array.from({ length: 12 }, (_, a) => task(200 + a, lone)));
    if (adapter !== 'memory')
      expect(new Set(grouped.map((j) => shardOfId(j.id)))).toEqual(new Set([keyShard(`rated\n${lone}`, 4)]));
    expect((await drain()).got.length).toBe(8);
  });

  test('the window slides: starts spread over it leave room as each one leaves it', async () => {
    await store.groups.setLimits('rated', { rate: { max: 6, perMs: 1000 } });
    await enqueue(Array.from({ length: 12 }, (_, a) => task(a)));
    let started = 0;
    for (let i = 0; i < 3; i++) {
      for (let k = 0; k < 2; k++) started += (await claim(1)).jobs.length;
      clock.advance(300);
    }
    started += (await drain()).got.length;
    expect(started).toBe(6); // 6 started at 0, 300 and 600 ms: the window from 0 holds them all
    clock.advance(100); // 1000 ms: the two of 0 leave the window
    expect((await drain()).got.length).toBe(2);
  });

  test('group_rate holds each group to its own window; a group of its own rate overrides it', async () => {
    await store.groups.setLimits('rated', { groupRate: { max: 2, perMs: 1000 } });
    await store.groups.setGroupLimit('rated', 'vip', { rate: { max: 3, perMs: 1000 } });
    await enqueue([...[1, 2, 3, 4].map((a) => task(a, 'a')), ...[5, 6, 7, 8].map((a) => task(a, 'vip')), task(9)]);
    const { got, wake } = await drain();
    expect(got.map((c) => c.job.params.a as number).sort((x, y) => x - y)).toEqual([1, 2, 5, 6, 7, 9]);
    expect(wake).toBe(clock.now() + 1000);
    expect(await store.groups.group('rated', 'a')).toMatchObject({ waiting: 2, running: 2 });
    expect(await store.groups.group('rated', 'vip')).toMatchObject({ waiting: 1, running: 3 });
    clock.advance(1000);
    expect((await drain()).got.map((c) => c.job.params.a as number).sort((x, y) => x - y)).toEqual([3, 4, 8]);
  });

  test('a job given back with a hold (rate_limited) costs no attempt and holds its group, not the others', async () => {
    await enqueue([task(1, 'a'), task(2, 'a'), task(3, 'b')]);
    const { got } = await drain();
    expect(got.length).toBe(3);
    const a1 = got.find((c) => c.job.params.a === 1)!;
    const a2 = got.find((c) => c.job.params.a === 2)!;
    const b3 = got.find((c) => c.job.params.a === 3)!;
    await store.jobs.release(a1.job.id, a1.token, 500);
    await store.jobs.release(b3.job.id, b3.token); // an ordinary release holds nothing
    expect(await store.reads.job(a1.job.id)).toMatchObject({ state: 'PENDING', attempts: 0 });
    const held = await drain();
    expect(held.got.map((c) => c.job.id)).toEqual([b3.job.id]);
    expect(held.wake).toBe(clock.now() + 500);
    await store.jobs.complete(a2.job.id, a2.token, 3);
    clock.advance(500);
    const again = await drain();
    expect(again.got.map((c) => c.job.id)).toEqual([a1.job.id]);
    expect(again.got[0].job.attempts).toBe(1);
  });

  test('a job without a group given back with a hold holds its whole queue, in every shard', async () => {
    await enqueue([1, 2, 3, 4].map((a) => task(a)));
    const [first] = (await claim(1)).jobs;
    await store.jobs.release(first.job.id, first.token, 300);
    const held = await drain();
    expect(held.got.length).toBe(0);
    expect(held.wake).toBe(clock.now() + 300);
    clock.advance(300);
    expect((await drain()).got.length).toBe(4);
    expect(await store.groups.limits('rated')).toEqual({
      concurrency: null,
      groupConcurrency: null,
      rate: null,
      groupRate: null,
    });
  });

  test("a bot's job given back with a hold: no attempt counted, the bot free, the bot queue held", async () => {
    const [made] = await store.jobs.enqueue([
      { type: 'sim', queue: 'bots', params: { duration_ms: 1, failure_rate: 0 } },
    ]);
    await store.bots.register('b1', 'b1', 'hash-b1');
    expect((await store.bots.claim('b1', 'bots', LEASE))?.id).toBe(made.id);
    await store.bots.holdJob('b1', made.id, 400);
    expect(await store.reads.job(made.id)).toMatchObject({ state: 'PENDING', attempts: 0 });
    expect(await store.bots.claim('b1', 'bots', LEASE)).toBe(null); // free again, but the queue is held
    clock.advance(400);
    expect(await store.bots.claim('b1', 'bots', LEASE)).toMatchObject({ id: made.id, attempts: 1 });
  });

  test('a queue without limits answers no wake-up of a rate', async () => {
    await enqueue([task(1), task(2, 'g')]);
    const r = await drain();
    expect(r.got.length).toBe(2);
    expect(r.wake).toBe(null);
  });
});
