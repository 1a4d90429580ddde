/**
 * Flows (issue 28, items 1-3) on both adapters: a node runs once, when its last dep finishes, in
 * that same step; its handler's deps' outcomes; the policies fail, skip, continue (transitive); the
 * flow's state; cancel; an idempotency key. On a Cluster a flow's nodes live in one shard (one slot).
 */
import type { NewFlow, NewFlowNode } from '../../src/core/flows';
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

useTestCluster();

describe.each(WITH_CLUSTER)('flows contract: %s', (adapter) => {
  let store: Store;
  let clock: ReturnType<typeof manualClock>;
  const claimAll = async () =>
    (await store.jobs.claim('default', { consumer: 'w', max: 100, leaseMs: LEASE })).jobs.map((c) => ({
      ...c.job,
      token: c.token,
    }));
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
