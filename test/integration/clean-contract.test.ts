/**
 * Finished jobs deleted by filter (store.dead.clean, DELETE /jobs) on memory, Redis and a Cluster
 * with sharded queues: only the jobs of the state, type and queue asked, each with its record,
 * log, idempotency key and index entries, a prime count with its chunks; a flow's node while its
 * flow runs is kept; the counts per state stay exact; a call is bounded and goes on from its cursor.
 */
import { ValidationError } from '../../src/core/errors';
import type { NewJob } from '../../src/core/job';
import type { FinalState } from '../../src/core/states';
import type { CleanQuery } from '../../src/store/clean';
import type { Store } from '../../src/store/types';
import { makeStore, manualClock, useTestCluster, WITH_CLUSTER } from '../helpers/stores';

const LEASE = 10_000;
const task = (queue = 'default', type = 'task'): NewJob => ({
  type,
  params: { a: 1, b: 1, op: 'add' },
  queue,
  maxAttempts: 1,
});

useTestCluster();

describe.each(WITH_CLUSTER)('clean contract: %s', (adapter) => {
  let store: Store;
  let clock: ReturnType<typeof manualClock>;

  beforeEach(async () => {
    clock = manualClock();
    store = await makeStore(adapter, 'clean', { now: clock.now, resultTtlMs: 600_000 });
  });
  afterEach(async () => {
    await store.close();
  });

  /** jobs made and ended `to`, each claimed and finished on its own (the clock moves 1 ms after every other one: ties) */
  async function finished(n: number, to: FinalState, queue = 'default', type = 'task'): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const [job] = await store.jobs.enqueue([task(queue, type)]);
      if (to === 'CANCELLED') await store.jobs.cancel(job.id);
      else {
        const { jobs } = await store.jobs.claim(queue, { consumer: 'w', max: 1, leaseMs: LEASE });
        expect(jobs.map((c) => c.job.id)).toEqual([job.id]);
        if (to === 'SUCCESS') await store.jobs.complete(job.id, jobs[0].token, 2);
        else await store.jobs.fail(job.id, jobs[0].token, 'no', { to: to as 'FAILURE' | 'DEAD' });
      }
      ids.push(job.id);
      if (i % 2) clock.advance(1);
    }
    return ids;
  }

  /** clean until the cursor is null, each call of at most `limit` */
  async function cleanAll(q: Omit<CleanQuery, 'limit' | 'cursor'>, limit = 500) {
    const calls: string[][] = [];
    let cursor: string | undefined;
    let skipped = 0;
    do {
      const r = await store.dead.clean({ ...q, limit, cursor });
      expect(r.deleted.length).toBeLessThanOrEqual(limit);
      calls.push(r.deleted);
      skipped += r.skipped;
      cursor = r.cursor ?? undefined;
    } while (cursor && calls.length < 100);
    return { calls, deleted: calls.flat(), skipped };
  }

  test('deletes only the finished jobs of the state, type and queue asked, with their logs, keys and index entries; the counts stay exact', async () => {
    const gone = await finished(5, 'SUCCESS', 'clean-a');
    const otherType = await finished(2, 'SUCCESS', 'clean-a', 'sim');
    const otherQueue = await finished(2, 'SUCCESS', 'clean-b');
    const failed = await finished(2, 'FAILURE', 'clean-a');
    const dead = await finished(2, 'DEAD', 'clean-a');
    const { job: idem } = await store.jobs.submit({ ...task('clean-a'), idempotencyKey: 'k-clean' });
    const { jobs: held } = await store.jobs.claim('clean-a', { consumer: 'w', max: 1, leaseMs: LEASE });
    await store.jobs.appendLog(idem.id, '{"msg":"hello"}');
    await store.jobs.complete(idem.id, held[0].token, 1);
    const [waiting] = await store.jobs.enqueue([task('clean-a')]);
    expect(await store.reads.log(idem.id)).toHaveLength(1);
    expect(await store.jobs.idempotentJob('k-clean')).toBe(idem.id);
    const before = await store.reads.countByState();

    const r = await cleanAll({ states: ['SUCCESS'], type: 'task', queue: 'clean-a' });
    expect(r.deleted.sort()).toEqual([...gone, idem.id].sort());
    expect(r.skipped).toBe(0);
    for (const id of [...gone, idem.id]) expect(await store.reads.job(id)).toBeNull();
    expect(await store.reads.log(idem.id)).toEqual([]);
    expect(await store.jobs.idempotentJob('k-clean')).toBeNull();
    for (const id of [...otherType, ...otherQueue])
      expect(await store.reads.job(id)).toMatchObject({ state: 'SUCCESS' });
    expect(await store.reads.job(waiting.id)).toMatchObject({ state: 'PENDING' });
    expect(await store.reads.countByState()).toEqual({ ...before, SUCCESS: before.SUCCESS - 6 });
    const listed = await store.reads.list({ state: 'SUCCESS', limit: 100 });
    expect(listed.jobs.map((j) => j.id).sort()).toEqual([...otherType, ...otherQueue].sort());
    expect((await store.reads.list({ limit: 100 })).total).toBe(before.SUCCESS - 6 + 5);

    // every final state of the queue: the failed and dead ones too, and the dead-letter queue with them
    const all = await cleanAll({ states: ['SUCCESS', 'FAILURE', 'DEAD', 'CANCELLED', 'SKIPPED'], queue: 'clean-a' });
    expect(all.deleted.sort()).toEqual([...otherType, ...failed, ...dead].sort());
    expect((await store.dead.list()).total).toBe(0);
    expect(await store.reads.countByState()).toMatchObject({ SUCCESS: 2, FAILURE: 0, DEAD: 0, PENDING: 1 });
  });

  test('a call deletes at most its limit and goes on from its cursor, past the jobs it keeps, through ties of one time', async () => {
    const mixed: string[] = [];
    const kept: string[] = [];
    for (let i = 0; i < 4; i++) {
      kept.push(...(await finished(3, 'CANCELLED', 'paged', 'sim')));
      mixed.push(...(await finished(2, 'CANCELLED', 'paged')));
    }
    const r = await cleanAll({ states: ['CANCELLED'], type: 'task' }, 3);
    expect(r.calls.map((c) => c.length).slice(0, 2)).toEqual([3, 3]);
    expect(r.deleted.sort()).toEqual([...mixed].sort());
    expect(new Set(r.deleted).size).toBe(r.deleted.length);
    for (const id of kept) expect(await store.reads.job(id)).toMatchObject({ state: 'CANCELLED' });
    expect((await store.reads.countByState()).CANCELLED).toBe(kept.length);
  });

  test('a prime count goes with its chunks, a dead chunk out of the dead-letter queue too', async () => {
    const { parent, children } = await store.jobs.enqueueFlow({
      parent: { type: 'primes', params: { n: 20, chunks: 2 }, maxAttempts: 1 },
      children: [
        { type: 'primes_chunk', params: { lo: 2, hi: 10 }, maxAttempts: 1 },
        { type: 'primes_chunk', params: { lo: 11, hi: 20 }, maxAttempts: 1 },
      ],
    });
    const { jobs } = await store.jobs.claim(parent.queue, { consumer: 'w', max: 1, leaseMs: LEASE, maxCpu: 2 });
    const first = jobs[0];
    await store.jobs.fail(first.job.id, first.token, 'boom', { to: 'DEAD' });
    expect(await store.reads.job(parent.id)).toMatchObject({ state: 'FAILURE' });
    expect((await store.dead.list()).jobs.map((j) => j.id)).toEqual([first.job.id]);
    const r = await cleanAll({ states: ['FAILURE'] });
    expect(r.deleted).toEqual([parent.id]);
    for (const id of [parent.id, ...children.map((c) => c.id)]) expect(await store.reads.job(id)).toBeNull();
    expect(await store.reads.children(parent.id)).toEqual([]);
    expect((await store.dead.list()).total).toBe(0);
    expect(await store.reads.countByState()).toMatchObject({ FAILURE: 0, DEAD: 0 });
  });

  test("a flow's finished node is kept while its flow runs, and deleted once the flow has finished", async () => {
    const { jobs } = await store.flows.create({
      name: 'clean',
      nodes: [
        { id: 'a', job: task(), deps: [], onDepFailure: 'fail' },
        { id: 'b', job: task(), deps: ['a'], onDepFailure: 'fail' },
      ],
    });
    const take = async () => (await store.jobs.claim('default', { consumer: 'w', max: 1, leaseMs: LEASE })).jobs[0];
    const a = await take();
    await store.jobs.complete(a.job.id, a.token, 1);
    const early = await store.dead.clean({ states: ['SUCCESS'], limit: 500 });
    expect(early).toEqual({ deleted: [], skipped: 1, cursor: null });
    expect(await store.reads.job(jobs.a)).toMatchObject({ state: 'SUCCESS' });
    const b = await take();
    expect(b.job.deps).toEqual({ a: { state: 'SUCCESS', result: 1 } });
    await store.jobs.complete(b.job.id, b.token, 2);
    expect((await cleanAll({ states: ['SUCCESS'] })).deleted.sort()).toEqual([jobs.a, jobs.b].sort());
  });

  test('a cursor that is not one is refused naming cursor', async () => {
    for (const cursor of ['nope', 'PENDING.0..0', 'SUCCESS.0..0'])
      await expect(store.dead.clean({ states: ['DEAD'], limit: 5, cursor })).rejects.toBeInstanceOf(ValidationError);
    expect(await store.dead.clean({ states: ['DEAD'], limit: 5, cursor: 'DEAD.0..0' })).toEqual({
      deleted: [],
      skipped: 0,
      cursor: null,
    });
  });
});
