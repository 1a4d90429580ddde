/**
 * Sharded queues (docs/redis.md, "On a Redis Cluster"): the layout on a plain Redis and on a Cluster, a shard
 * count changed while jobs wait, and a worker woken by work in any shard.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { NewJob } from '../../src/core/job';
import { RedisStore } from '../../src/store/redis';
import { testPrefix, testRedisUrl } from '../helpers/env';
import { makeStore, useOwnTestCluster } from '../helpers/stores';
import { waitUntil } from '../helpers/procs';

const run = promisify(execFile);
const task = (a: number): NewJob => ({ type: 'task', params: { a, b: 1, op: 'add' } });
const open: RedisStore[] = [];
const plain = async (prefix: string, shards?: number) => {
  const s = new RedisStore({ url: testRedisUrl(), prefix, ...(shards ? { shards } : {}) });
  open.push(s);
  return s.connect();
};
const shardOf = (id: string) => Number(/^s(\d+)-/.exec(id)?.[1] ?? 0);
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

const cluster = useOwnTestCluster();

test('a plain Redis has one shard, under the keys it always had', async () => {
  const prefix = testPrefix('shards-plain');
  const store = await plain(prefix);
  expect(store.shardLayout).toEqual({ count: 1, known: 1, bases: [`{${prefix}}:`] });
  const jobs = await Promise.all([1, 2, 3].map((a) => store.jobs.enqueue([task(a)])));
  for (const [job] of jobs) expect(job.id).toMatch(/^[0-9a-z]{16}$/); // shard 0: no s<N>- prefix
  const port = new URL(testRedisUrl()).port;
  const { stdout } = await run('redis-cli', ['-p', port, 'HGET', `{${prefix}}:job:${jobs[0][0].id}`, 'type']);
  expect(stdout.trim()).toBe('task');
});

test('changing the shard count strands nothing: the old shards are drained, new jobs go to the new count', async () => {
  const prefix = testPrefix('shards-change');
  const four = await plain(prefix, 4);
  expect(four.shardLayout.count).toBe(4);
  const ids: string[] = [];
  for (let i = 0; i < 8; i++) ids.push(...(await four.jobs.enqueue([task(i)])).map((j) => j.id));
  expect(new Set(ids.map(shardOf))).toEqual(new Set([0, 1, 2, 3]));
  const two = await plain(prefix, 2);
  expect(two.shardLayout).toMatchObject({ count: 2, known: 4 });
  const after: string[] = [];
  for (let i = 0; i < 6; i++) after.push(...(await two.jobs.enqueue([task(i)])).map((j) => j.id));
  expect(new Set(after.map(shardOf))).toEqual(new Set([0, 1]));
  const reader = await plain(prefix); // no --shards: it takes the prefix's
  expect(reader.shardLayout).toMatchObject({ count: 2, known: 4 });
  const { jobs } = await reader.jobs.claim('default', { consumer: 'w', max: 100, leaseMs: 5000 });
  expect(jobs.map((c) => c.job.id).sort()).toEqual([...ids, ...after].sort());
  expect(await reader.queues.depth('default')).toEqual({ waiting: 0, active: 14, delayed: 0 });
  expect((await reader.reads.list({ state: 'STARTED', limit: 100 })).total).toBe(14);
});

test('a waiting worker wakes when work lands in any shard, and times out when none does', async () => {
  const prefix = testPrefix('shards-wake');
  const worker = await plain(prefix, 3);
  const producer = await plain(prefix);
  expect(await worker.jobs.waitForWork('default', 150)).toBe(false);
  for (const shard of [2, 1, 0]) {
    const started = Date.now();
    const waiting = worker.jobs.waitForWork('default', 5000);
    await new Promise((r) => setTimeout(r, 50));
    await producer.jobs.enqueue([
      { ...task(shard), id: `${shard === 0 ? '' : `s${shard}-`}${'0'.repeat(7)}${shard}-wake` },
    ]);
    expect(await waiting).toBe(true);
    expect(Date.now() - started).toBeLessThan(2000);
    const { jobs } = await worker.jobs.claim('default', { consumer: 'w', max: 5, leaseMs: 5000 });
    expect(jobs.map((c) => shardOf(c.job.id))).toEqual([shard]);
  }
});

/** the port of the master that holds each shard of the store now (CLUSTER NODES: "<id> <addr> <flags> ... <lo>-<hi> ...") */
async function shardOwners(store: RedisStore): Promise<number[]> {
  const c = cluster();
  const masters = await c.masters();
  const ranges = new Map<number, number[][]>();
  for (const line of (await c.cli(masters[0].port, 'CLUSTER', 'NODES')).split('\n')) {
    const f = line.split(' ');
    if (f.length > 8 && f[2].includes('master'))
      ranges.set(
        Number(f[1].split(':')[1].split('@')[0]),
        f.slice(8).map((r) => r.split('-').map(Number)),
      );
  }
  const ownerOf = async (base: string) => {
    const slot = Number((await c.cli(masters[0].port, 'CLUSTER', 'KEYSLOT', base)).trim());
    return [...ranges].find(([, rs]) => rs.some(([lo, hi = lo]) => slot >= lo && slot <= hi))?.[0] ?? -1;
  };
  return Promise.all(store.shardLayout.bases.map(ownerOf));
}

test("on a Cluster: 2 shards per master by default, each master holding two shards' jobs", async () => {
  const store = (await makeStore('cluster', 'shards-cluster')) as RedisStore;
  open.push(store);
  expect(store.shardLayout).toMatchObject({ count: 6, known: 6 });
  const masters = await cluster().masters();
  const owners = await shardOwners(store);
  const perMaster = masters.map((m) => owners.filter((p) => p === m.port).length);
  expect(perMaster).toEqual([2, 2, 2]);
  const ids: string[] = [];
  for (let i = 0; i < 6; i++) ids.push(...(await store.jobs.enqueue([task(i)])).map((j) => j.id));
  expect(new Set(ids.map(shardOf))).toEqual(new Set([0, 1, 2, 3, 4, 5]));
});

test('a claim across shards never leaves a job claimed and unanswered while one master refuses: what was claimed is answered or given back uncounted', async () => {
  const store = (await makeStore('cluster', 'shards-claim-fail')) as RedisStore;
  open.push(store);
  const owners = await shardOwners(store);
  const bad = owners[1]; // the master of shard 1 (and of one other shard)
  for (let i = 0; i < 24; i++) await store.jobs.enqueue([task(i)]); // 4 in each shard
  const opts = { consumer: 'w', leaseMs: 60_000 };
  const held = new Map<string, string>(); // job id → token: what the caller was answered
  // one job of a shard on the master that is about to refuse, held to acknowledge there
  let onBad: { id: string; token: string } | null = null;
  while (!onBad) {
    const { jobs } = await store.jobs.claim('default', { ...opts, max: 1 });
    for (const c of jobs) {
      held.set(c.job.id, c.token);
      if (owners[shardOf(c.job.id)] === bad) onBad = { id: c.job.id, token: c.token };
    }
  }
  await cluster().cli(bad, 'CONFIG', 'SET', 'maxmemory', '1'); // its scripts are refused whole: an OOM answer, nothing ran
  try {
    let failed = 0;
    for (let i = 0; i < 6; i++) {
      // a claim that meets the refusing master after another shard gave jobs keeps those
      const claimed = await store.jobs.claim('default', { ...opts, max: 4 }).catch(() => null);
      for (const c of claimed?.jobs ?? []) held.set(c.job.id, c.token);
      // the acknowledgement there fails the call: the claim made beside it in another shard is given back
      const both = await store.jobs
        .completeAndClaim([{ jobId: onBad.id, token: onBad.token, result: 1 }], 'default', { ...opts, max: 2 })
        .catch(() => null);
      if (both === null) failed++;
      for (const c of both?.claim.jobs ?? []) held.set(c.job.id, c.token);
    }
    expect(failed).toBe(6);
  } finally {
    await cluster().cli(bad, 'CONFIG', 'SET', 'maxmemory', '0');
  }
  // what Redis holds under this consumer is exactly what the caller was answered, once the claims
  // thrown away are given back (lost-claims.ts): PENDING again, the attempt not counted
  const started = await waitUntil(
    async () => {
      const { jobs } = await store.reads.list({ state: 'STARTED', limit: 100 });
      return jobs.every((j) => held.has(j.id)) ? jobs : null;
    },
    10_000,
    'the claims thrown away given back',
    100,
  );
  expect(started.map((j) => j.id).sort()).toEqual([...held.keys()].sort());
  const { jobs: waiting } = await store.reads.list({ state: 'PENDING', limit: 100 });
  expect(waiting.length + held.size).toBe(24);
  for (const j of waiting) expect({ id: j.id, attempts: j.attempts }).toEqual({ id: j.id, attempts: 0 });
});

test("on a Cluster the store condition is every master's: one out of memory is out of memory", async () => {
  const store = (await makeStore('cluster', 'shards-oom')) as RedisStore;
  open.push(store);
  expect(await store.server.condition()).toEqual({ condition: null, message: null });
  const masters = await cluster().masters();
  for (const m of masters) {
    await cluster().cli(m.port, 'CONFIG', 'SET', 'maxmemory', '1');
    try {
      // whichever node a keyless INFO would go to, the full one speaks
      for (let i = 0; i < 3; i++) expect((await store.server.condition()).condition).toBe('out of memory');
    } finally {
      await cluster().cli(m.port, 'CONFIG', 'SET', 'maxmemory', '0');
    }
  }
  expect(await store.server.condition()).toEqual({ condition: null, message: null });
});
