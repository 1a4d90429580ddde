/**
 * Flows (issue 28, items 1-3) on both adapters: a node runs once, when its last dep finishes, in
 * that same step; its handler's deps' outcomes; the policies fail, skip, continue (transitive); the
 * flow's state; cancel; an idempotency key. With sharded queues (a Redis of 3 shards, a Cluster of
 * 3) a flow's nodes spread over the shards: a finish reaches another shard's node through its
 * shard's outbox, delivered at once or by the recovery, and counts once (docs/flows.md "On a Redis Cluster").
 */
import type { NewFlow, NewFlowNode } from '../../src/core/flows';
import type { RedisStore } from '../../src/store/redis';
import { shardOfId } from '../../src/store/keys';
import type { Store } from '../../src/store/types';
import { makeStore, manualClock, useTestCluster, WITH_CLUSTER } from '../helpers/stores';

const LEASE = 10_000;
type Spec = [id: string, deps?: string[], policy?: NewFlowNode['onDepFailure']];
const flowOf = (...specs: Spec[]): NewFlow => ({
  name: 'test',
  nodes: specs.map(([id, deps = [], policy = 'fail']) => ({
    id,
    job: { type: 'task', params: { a: 1, b: 1, op: 'add' }, maxAttempts: 1 },
    deps,
    onDepFailure: policy,
  })),
});

/** every job of the default queue now claimable, with its token */
const claimAllOf = async (store: Store) =>
  (await store.jobs.claim('default', { consumer: 'w', max: 100, leaseMs: LEASE })).jobs.map((c) => ({
    ...c.job,
    token: c.token,
  }));

/**
 * a DEAD node retried by hand resumes its flow: what its death failed is PENDING again, runs after
 * it, and the flow ends SUCCESS with every node run once (the retried one's attempts start again)
 */
async function deadRetryResumes(store: Store) {
  const { flow_id, jobs } = await store.flows.create(flowOf(['a'], ['b', ['a']], ['c', ['a']], ['d', ['b', 'c']]));
  const take = async (node: string) => {
    const got = await claimAllOf(store);
    expect(got.map((j) => j.id)).toContain(jobs[node]);
    return got;
  };
  const [a] = await take('a');
  await store.jobs.fail(a.id, a.token, 'died', { to: 'DEAD' });
  let view = (await store.flows.get(flow_id))!;
  expect(view.state).toBe('FAILURE');
  expect(Object.values(view.nodes).map((n) => n.state)).toEqual(['DEAD', 'FAILURE', 'FAILURE', 'FAILURE']);
  await store.dead.retry(jobs.a);
  await store.flows.recover(0);
  view = (await store.flows.get(flow_id))!;
  expect(view).toMatchObject({ state: 'RUNNING', progress: { completed: 0, total: 4 } });
  expect(Object.values(view.nodes).map((n) => n.state)).toEqual(['PENDING', 'PENDING', 'PENDING', 'PENDING']);
  const [again] = await take('a');
  await store.jobs.complete(again.id, again.token, 1);
  const mids = await claimAllOf(store);
  expect(mids.map((j) => j.id).sort()).toEqual([jobs.b, jobs.c].sort());
  for (const m of mids) await store.jobs.complete(m.id, m.token, m.id === jobs.b ? 2 : 3);
  const [d] = await claimAllOf(store);
  expect(d.deps).toEqual({ b: { state: 'SUCCESS', result: 2 }, c: { state: 'SUCCESS', result: 3 } });
  await store.jobs.complete(d.id, d.token, 5);
  expect((await store.flows.get(flow_id))!).toMatchObject({ state: 'SUCCESS', progress: { completed: 4, total: 4 } });
  for (const id of Object.values(jobs)) expect((await store.reads.job(id))!.attempts).toBe(1);
}

useTestCluster();

describe.each(WITH_CLUSTER)('flows contract: %s', (adapter) => {
  let store: Store;
  let clock: ReturnType<typeof manualClock>;
  const claimAll = () => claimAllOf(store);
  const nodeOf = (jobs: Record<string, string>, jobId: string) => Object.keys(jobs).find((n) => jobs[n] === jobId);
  const claimedNodes = async (jobs: Record<string, string>) =>
    (await claimAll()).map((j) => ({ node: nodeOf(jobs, j.id)!, job: j })).sort((a, b) => a.node.localeCompare(b.node));

  beforeEach(async () => {
    clock = manualClock(Date.parse('2026-03-10T12:00:00.000Z'));
    store = await makeStore(adapter, 'flows', { now: clock.now, resultTtlMs: 60_000 });
  });
  afterEach(async () => {
    await store.close();
  });

  test('a diamond: each node runs once, after its deps, and is given their results', async () => {
    const { flow_id, jobs } = await store.flows.create(flowOf(['a'], ['b', ['a']], ['c', ['a']], ['d', ['b', 'c']]));
    let claimed = await claimedNodes(jobs);
    expect(claimed.map((c) => c.node)).toEqual(['a']);
    await store.jobs.complete(claimed[0].job.id, claimed[0].job.token, 1);
    claimed = await claimedNodes(jobs);
    expect(claimed.map((c) => c.node)).toEqual(['b', 'c']);
    expect(claimed[0].job.deps).toEqual({ a: { state: 'SUCCESS', result: 1 } });
    await store.jobs.complete(claimed[0].job.id, claimed[0].job.token, 2);
    expect(await claimAll()).toEqual([]);
    // delivered twice, a completion counts once
    await expect(store.jobs.complete(claimed[0].job.id, claimed[0].job.token, 2)).rejects.toThrow();
    expect(await claimAll()).toEqual([]);
    await store.jobs.complete(claimed[1].job.id, claimed[1].job.token, { x: [3] });
    const [d] = await claimAll();
    expect(d.id).toBe(jobs.d);
    expect(d.deps).toEqual({ b: { state: 'SUCCESS', result: 2 }, c: { state: 'SUCCESS', result: { x: [3] } } });
    expect((await store.flows.get(flow_id))!.state).toBe('RUNNING');
    await store.jobs.complete(d.id, d.token, 5);
    const view = (await store.flows.get(flow_id))!;
    expect(view).toMatchObject({ flow_id, name: 'test', state: 'SUCCESS', progress: { completed: 4, total: 4 } });
    expect(view.nodes.d).toEqual({ job_id: jobs.d, state: 'SUCCESS', deps: ['b', 'c'], result: 5 });
    // the graph's edges, by node id, each node's deps in the order given
    expect(Object.fromEntries(Object.entries(view.nodes).map(([n, v]) => [n, v.deps]))).toEqual({
      a: [],
      b: ['a'],
      c: ['a'],
      d: ['b', 'c'],
    });
    for (const id of Object.values(jobs)) expect((await store.reads.job(id))!.attempts).toBe(1);
  });

  test('fail (the default) fails the dependents at once, transitively, with the reason; the flow is FAILURE', async () => {
    const { flow_id, jobs } = await store.flows.create(flowOf(['a'], ['other'], ['b', ['a', 'other']], ['c', ['b']]));
    const claimed = await claimedNodes(jobs);
    const a = claimed.find((c) => c.node === 'a')!.job;
    await store.jobs.fail(a.id, a.token, 'boom', { to: 'FAILURE' });
    let view = (await store.flows.get(flow_id))!;
    expect(view.nodes.b).toMatchObject({ state: 'FAILURE', error: 'dep a ended FAILURE' });
    expect(view.nodes.c).toMatchObject({ state: 'FAILURE', error: 'dep b ended FAILURE' });
    expect(view.state).toBe('RUNNING'); // other can still run
    const other = claimed.find((c) => c.node === 'other')!.job;
    await store.jobs.complete(other.id, other.token, 1);
    view = (await store.flows.get(flow_id))!;
    expect(view.state).toBe('FAILURE');
    expect(view.progress).toEqual({ completed: 4, total: 4 });
  });

  test('skip marks SKIPPED and its dependents apply their own policy; continue runs with the failure in deps', async () => {
    const { flow_id, jobs } = await store.flows.create(
      flowOf(['a'], ['s', ['a'], 'skip'], ['k', ['s'], 'continue'], ['f', ['s']]),
    );
    const [a] = await claimAll();
    await store.jobs.fail(a.id, a.token, 'boom', { to: 'DEAD' });
    let view = (await store.flows.get(flow_id))!;
    expect(view.nodes.s).toMatchObject({ state: 'SKIPPED', error: 'dep a ended DEAD' });
    expect(view.nodes.f).toMatchObject({ state: 'FAILURE', error: 'dep s ended SKIPPED' });
    const [k] = await claimAll();
    expect(k.id).toBe(jobs.k);
    expect(k.deps).toEqual({ s: { state: 'SKIPPED', error: 'dep a ended DEAD' } });
    await store.jobs.complete(k.id, k.token, 'ran');
    view = (await store.flows.get(flow_id))!;
    expect(view.state).toBe('FAILURE');
    expect(view.nodes.k).toMatchObject({ state: 'SUCCESS', result: 'ran' });
  });

  test('cancel: every node not final is cancelled, a held one too; the flow is CANCELLED, then a conflict', async () => {
    const { flow_id, jobs } = await store.flows.create(flowOf(['a'], ['b'], ['c', ['a', 'b']]));
    const claimed = await claimedNodes(jobs);
    await store.jobs.complete(claimed[0].job.id, claimed[0].job.token, 1);
    const view = await store.flows.cancel(flow_id);
    expect(view.state).toBe('CANCELLED');
    expect(view.nodes.a.state).toBe('SUCCESS');
    expect(view.nodes.b.state).toBe('CANCELLED');
    expect(view.nodes.c.state).toBe('CANCELLED');
    await expect(store.jobs.complete(claimed[1].job.id, claimed[1].job.token, 1)).rejects.toThrow();
    await expect(store.flows.cancel(flow_id)).rejects.toThrow(/finished/);
    await expect(store.flows.cancel('nope')).rejects.toThrow(/not found/);
    expect(await claimAll()).toEqual([]);
  });

  test('an idempotency key answers the same flow; other nodes under it are a conflict', async () => {
    const first = await store.flows.create({ ...flowOf(['a'], ['b', ['a']]), idempotencyKey: 'k1' });
    const again = await store.flows.create({ ...flowOf(['a'], ['b', ['a']]), idempotencyKey: 'k1' });
    expect(again).toEqual({ ...first, existing: true });
    await expect(store.flows.create({ ...flowOf(['a']), idempotencyKey: 'k1' })).rejects.toThrow(/other nodes/);
    expect(await store.flows.recent(10)).toEqual([first.flow_id]);
  });

  test('a DEAD node retried by hand resumes its flow: its dependents run after it, the flow ends SUCCESS', () =>
    deadRetryResumes(store));

  test("a claim that asks for traces says a node's flow; each attempt's span kept by its holder, read back by its dependent in its deps' order", async () => {
    const { flow_id, jobs } = await store.flows.create(flowOf(['a'], ['b'], ['c', ['b', 'a']]));
    const traced = await store.jobs.claim('default', { consumer: 'w', max: 10, leaseMs: LEASE, trace: true });
    expect(traced.jobs.map((c) => c.job.flowId)).toEqual([flow_id, flow_id]);
    const span = (n: string) => `00-${'1'.repeat(32)}-${n.repeat(16)}-01`;
    const held = Object.fromEntries(traced.jobs.map((c) => [nodeOf(jobs, c.job.id)!, c]));
    await store.flows.keepSpan(jobs.a, held.a.token, span('a'));
    await store.flows.keepSpan(jobs.b, held.b.token, `${span('b')} k=v`);
    // an attempt that no longer holds the node keeps nothing
    await expect(store.flows.keepSpan(jobs.a, 'not-the-token', span('f'))).rejects.toThrow();
    for (const n of ['a', 'b']) await store.jobs.complete(jobs[n], held[n].token, 1);
    expect(await store.flows.depSpans(jobs.c)).toEqual([`${span('b')} k=v`, span('a')]);
    expect(await store.flows.depSpans(jobs.a)).toEqual([]);
    // a claim that does not ask for traces does not read the flow either
    const [c] = await claimAll();
    expect([c.id, c.flowId]).toEqual([jobs.c, undefined]);
  });

  test('a finished flow expires with its jobs', async () => {
    const { flow_id } = await store.flows.create(flowOf(['a']));
    const [a] = await claimAll();
    await store.jobs.complete(a.id, a.token, 1);
    expect((await store.flows.get(flow_id))!.state).toBe('SUCCESS');
    if (adapter !== 'memory') return; // Redis's TTL runs on its own clock (PEXPIRE), not the test's
    clock.advance(61_000);
    expect(await store.flows.get(flow_id)).toBeNull();
  });
});

/** the stores with shards (the embedded store has none): none when only the memory store is tested */
const SHARDED = WITH_CLUSTER.filter((a) => a !== 'memory');
(SHARDED.length > 0 ? describe.each(SHARDED) : describe.skip.each(['redis' as const]))(
  'flows spread over shards: %s',
  (adapter) => {
    let store: RedisStore;
    let clock: ReturnType<typeof manualClock>;
    const claimAll = () => claimAllOf(store);
    /** the nodes now claimable, by node id */
    const claimed = async (jobs: Record<string, string>) => {
      const out: Record<string, Awaited<ReturnType<typeof claimAllOf>>[number]> = {};
      for (const j of await claimAll()) out[Object.keys(jobs).find((n) => jobs[n] === j.id)!] = j;
      return out;
    };
    /** a shard's outbox as it is held (entry, score, ...) */
    const outboxOf = (shard: number) =>
      store.evalOnce<string[]>(
        "return redis.call('ZRANGE', KEYS[1] .. 'flowbox', 0, -1, 'WITHSCORES')",
        [store.shardLayout.bases[shard]],
        [],
      );
    const diamond = () => flowOf(['a'], ['b', ['a']], ['c', ['a']], ['d', ['b', 'c']]);

    beforeEach(async () => {
      clock = manualClock(Date.parse('2026-03-10T12:00:00.000Z'));
      store = (await makeStore(adapter, 'flows-spread', {
        now: clock.now,
        resultTtlMs: 60_000,
        shards: 3,
      })) as RedisStore;
    });
    afterEach(async () => {
      await store.close();
    });

    test('a diamond over three shards: each node runs once, after its deps; the last is given both results and sums them', async () => {
      const { flow_id, jobs } = await store.flows.create(diamond());
      expect(new Set(Object.values(jobs).map(shardOfId)).size).toBe(3);
      expect(shardOfId(jobs.b)).not.toBe(shardOfId(jobs.a));
      expect(shardOfId(jobs.c)).not.toBe(shardOfId(jobs.a));
      let got = await claimed(jobs);
      expect(Object.keys(got)).toEqual(['a']);
      await store.jobs.complete(got.a.id, got.a.token, 1);
      got = await claimed(jobs);
      expect(Object.keys(got).sort()).toEqual(['b', 'c']);
      expect(got.b.deps).toEqual({ a: { state: 'SUCCESS', result: 1 } });
      expect(got.c.deps).toEqual({ a: { state: 'SUCCESS', result: 1 } });
      await store.jobs.complete(got.b.id, got.b.token, 2);
      expect(await claimAll()).toEqual([]);
      await store.jobs.complete(got.c.id, got.c.token, 3);
      const { d } = await claimed(jobs);
      expect(d.deps).toEqual({ b: { state: 'SUCCESS', result: 2 }, c: { state: 'SUCCESS', result: 3 } });
      const sum = Object.values(d.deps!).reduce((s, o) => s + Number(o.result), 0);
      await store.jobs.complete(d.id, d.token, sum);
      const view = (await store.flows.get(flow_id))!;
      expect(view).toMatchObject({ state: 'SUCCESS', progress: { completed: 4, total: 4 } });
      expect(view.nodes.d).toEqual({ job_id: jobs.d, state: 'SUCCESS', result: 5, deps: ['b', 'c'] });
      for (const id of Object.values(jobs)) expect((await store.reads.job(id))!.attempts).toBe(1);
      for (let shard = 0; shard < 3; shard++) expect(await outboxOf(shard)).toEqual([]);
    });

    test('a completion delivered twice counts once: the dependent is made ready once, the flow counts the node once', async () => {
      store.jobs.flowOutbox!.deliverNow = false;
      const { flow_id, jobs } = await store.flows.create(diamond());
      let got = await claimed(jobs);
      await store.jobs.complete(got.a.id, got.a.token, 1);
      expect(await store.flows.recover(0)).toBe(2); // b's and c's deps (a is counted in its own shard, the home)
      got = await claimed(jobs);
      const box = shardOfId(jobs.b);
      await store.jobs.complete(got.b.id, got.b.token, 2);
      const held = await outboxOf(box);
      expect(held.length).toBeGreaterThan(0);
      expect(await store.flows.recover(0)).toBe(held.length / 2);
      // the same entries again, as a finisher and the recovery may both deliver them
      await store.evalOnce(
        "return redis.call('ZADD', KEYS[1] .. 'flowbox', unpack(ARGV))",
        [store.shardLayout.bases[box]],
        [...held.flatMap((_, i) => (i % 2 === 0 ? [held[i + 1], held[i]] : []))],
      );
      expect(await store.flows.recover(0)).toBe(held.length / 2);
      expect(await claimAll()).toEqual([]); // d still waits for c
      expect((await store.flows.get(flow_id))!.progress).toEqual({ completed: 2, total: 4 });
      await store.jobs.complete(got.c.id, got.c.token, 3);
      await store.flows.recover(0);
      const { d } = await claimed(jobs);
      expect(d.deps).toEqual({ b: { state: 'SUCCESS', result: 2 }, c: { state: 'SUCCESS', result: 3 } });
      expect(await claimAll()).toEqual([]);
      await store.jobs.complete(d.id, d.token, 5);
      await store.flows.recover(0);
      expect((await store.flows.get(flow_id))!).toMatchObject({
        state: 'SUCCESS',
        progress: { completed: 4, total: 4 },
      });
    });

    test('an entry its finisher never delivered (it died between the steps) is delivered by the recovery, after its grace; the node runs once', async () => {
      store.jobs.flowOutbox!.deliverNow = false;
      const { flow_id, jobs } = await store.flows.create(diamond());
      const { a } = await claimed(jobs);
      await store.jobs.complete(a.id, a.token, 1);
      expect(await claimAll()).toEqual([]); // b and c wait in other shards
      expect(await store.flows.recover(5_000)).toBe(0); // within the grace: its finisher may still deliver it
      clock.advance(5_000);
      expect(await store.flows.recover(5_000)).toBe(2);
      expect(await store.flows.recover(5_000)).toBe(0);
      const got = await claimed(jobs);
      expect(Object.keys(got).sort()).toEqual(['b', 'c']);
      expect(await claimAll()).toEqual([]);
      store.jobs.flowOutbox!.deliverNow = true;
      await store.jobs.complete(got.b.id, got.b.token, 2);
      await store.jobs.complete(got.c.id, got.c.token, 3);
      const { d } = await claimed(jobs);
      await store.jobs.complete(d.id, d.token, 5);
      expect((await store.flows.get(flow_id))!).toMatchObject({
        state: 'SUCCESS',
        progress: { completed: 4, total: 4 },
      });
      for (const id of Object.values(jobs)) expect((await store.reads.job(id))!.attempts).toBe(1);
    });

    test('a DEAD node retried by hand resumes its flow across shards', () => deadRetryResumes(store));

    test('a failure and a cancel cross shards: fail fails the dependent in its shard, cancel reaches every shard', async () => {
      const failed = await store.flows.create(diamond());
      const { a } = await claimed(failed.jobs);
      await store.jobs.fail(a.id, a.token, 'boom', { to: 'FAILURE' });
      let view = (await store.flows.get(failed.flow_id))!;
      expect(view.state).toBe('FAILURE');
      expect(view.nodes.b).toMatchObject({ state: 'FAILURE', error: 'dep a ended FAILURE' });
      expect(view.nodes.d).toMatchObject({
        state: 'FAILURE',
        error: expect.stringMatching(/^dep [bc] ended FAILURE$/),
      });
      const cancelled = await store.flows.create(diamond());
      view = await store.flows.cancel(cancelled.flow_id);
      expect(view.state).toBe('CANCELLED');
      expect(Object.values(view.nodes).map((n) => n.state)).toEqual([
        'CANCELLED',
        'CANCELLED',
        'CANCELLED',
        'CANCELLED',
      ]);
      expect(await claimAll()).toEqual([]);
    });
  },
);
