/**
 * A rolling upgrade's steps on a real Redis (src/store/upgrade.ts, src/store/format.ts): the
 * format a role brings a prefix to when it joins, the live roles with their versions (heartbeats
 * and node-id claims, made up here as an older role leaves them), `finish` refused while an older
 * one is alive and switching the format once none is, and the roles of this version putting CPU
 * jobs in the CPU lists (and new job records without their default fields) only from then on.
 */
import { createClient } from 'redis';
import { primeCountFlow } from '../../src/core/chunks';
import { FORMAT_VERSION, joinPrefix, roleStamp, ROLLING_FORMAT, watchFormat } from '../../src/store/format';
import { redisKeys } from '../../src/store/keys';
import { RedisStore } from '../../src/store/redis';
import { finishUpgrade, liveRoles } from '../../src/store/upgrade';
import { waitUntil } from '../helpers/procs';
import { testPrefix, testRedisUrl } from '../helpers/env';
import { silentLogger } from '../helpers/log';
import { sleep } from '../../src/util/time';

type Raw = ReturnType<typeof createClient>;
let raw: Raw;
const stores: RedisStore[] = [];

beforeAll(async () => {
  raw = createClient({ url: testRedisUrl() });
  await raw.connect();
});
afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  raw.destroy();
});

async function open(name: string, format?: string) {
  const prefix = testPrefix(name);
  if (format !== undefined) await raw.set(redisKeys(prefix).format, format);
  const store = await new RedisStore({ url: testRedisUrl(), prefix }).connect();
  stores.push(store);
  return { store, prefix, k: redisKeys(prefix) };
}

/** where a prime count's chunks wait: the ordinary list or the CPU one */
async function chunksIn(store: RedisStore, k: ReturnType<typeof redisKeys>) {
  await store.jobs.enqueueFlow(primeCountFlow(100, 2, {}, {}));
  return { wait: await raw.lLen(k.wait('default')), cpuwait: await raw.lLen(k.cpuWait('default')) };
}

test('an empty prefix gets the newest format; one that is not new stays at the rolling one, and CPU jobs wait in the ordinary lists there', async () => {
  const fresh = await open('upgrade-new');
  expect(await joinPrefix(fresh.store)).toMatchObject({ created: true, format: FORMAT_VERSION });
  expect(await raw.get(fresh.k.format)).toBe(String(FORMAT_VERSION));
  expect(await chunksIn(fresh.store, fresh.k)).toEqual({ wait: 0, cpuwait: 2 });

  for (const written of [String(ROLLING_FORMAT), `${ROLLING_FORMAT}>${FORMAT_VERSION}`]) {
    const rolling = await open('upgrade-rolling', written);
    expect(await joinPrefix(rolling.store)).toMatchObject({
      created: false,
      found: ROLLING_FORMAT,
      format: ROLLING_FORMAT,
    });
    expect(await raw.get(rolling.k.format)).toBe(written); // left as it was
    expect(await chunksIn(rolling.store, rolling.k)).toEqual({ wait: 2, cpuwait: 0 });
    // a flow's nodes would not be settled by a role of the previous release: none is made
    const flow = {
      nodes: [
        { id: 'a', deps: [], onDepFailure: 'fail' as const, job: { type: 'task' as const, params: { a: 1, b: 2 } } },
      ],
    };
    await expect(rolling.store.flows.create(flow)).rejects.toThrow(/wizard upgrade finish/);
    expect(await rolling.store.flows.recent(10)).toEqual([]);
  }
  const flow = {
    nodes: [
      { id: 'a', deps: [], onDepFailure: 'fail' as const, job: { type: 'task' as const, params: { a: 1, b: 2 } } },
    ],
  };
  expect((await fresh.store.flows.create(flow)).jobs).toHaveProperty('a');
});

/** a task run through the store: the raw value of its SUCCESS event, as an older reader reads it */
async function successEvent(store: RedisStore, k: ReturnType<typeof redisKeys>) {
  const [job] = await store.jobs.enqueue([{ type: 'task', params: { a: 1, b: 1, op: 'add' } }]);
  const { jobs } = await store.jobs.claim('default', { consumer: 'w1', max: 1, leaseMs: 10_000 });
  await store.jobs.complete(job.id, jobs[0].token, 2);
  const entries = await raw.xRange(k.events, '-', '+');
  return entries
    .flatMap((e) => Object.entries(e.message))
    .find(([id, v]) => id === job.id && v.startsWith('SUCCESS'))![1];
}

test('a SUCCESS event carries the result only at format 3: an older reader on a rolling prefix reads it as it always did', async () => {
  const fresh = await open('upgrade-events-new');
  await joinPrefix(fresh.store);
  expect(await successEvent(fresh.store, fresh.k)).toBe('SUCCESS\n2');
  const rolling = await open('upgrade-events-rolling', String(ROLLING_FORMAT));
  await joinPrefix(rolling.store);
  expect(await successEvent(rolling.store, rolling.k)).toBe('SUCCESS');
});

test('finish: refused while a role with no version is alive (a heartbeat without one, a claim without a heartbeat); switches once none is', async () => {
  const { store, k } = await open('upgrade-finish', String(ROLLING_FORMAT));
  await joinPrefix(store);
  const locks = (role: string, id: string) => k.lock(`node:${role}:${id}`);
  // this version's worker: its claim and a heartbeat with its version
  await raw.set(locks('worker', 'w-new'), 'host 1 a', { PX: 60_000 });
  await store.nodes.heartbeat('worker', 'w-new', 60_000, { ...roleStamp(), pid: 1 });
  // the previous release's: a worker's heartbeat with no version, an API's claim and no heartbeat
  await store.nodes.heartbeat('worker', 'w-old', 60_000, { concurrency: 4, pid: 2 });
  await raw.set(locks('api', 'api-old'), 'host 3 b', { PX: 60_000 });

  expect(await liveRoles(store)).toEqual([
    { role: 'api', nodeId: 'api-old', version: null, format: null, seenAt: null },
    expect.objectContaining({ role: 'worker', nodeId: 'w-new', version: roleStamp().version, format: FORMAT_VERSION }),
    expect.objectContaining({ role: 'worker', nodeId: 'w-old', version: null, format: null }),
  ]);
  const refused = await finishUpgrade(store, 10);
  expect(refused).toMatchObject({ outcome: 'older roles', from: ROLLING_FORMAT, to: FORMAT_VERSION });
  expect(refused.outcome === 'older roles' && refused.older.map((r) => r.nodeId)).toEqual(['api-old', 'w-old']);
  expect(await raw.get(k.format)).toBe(String(ROLLING_FORMAT));

  // the old API stops (its claim goes); the old worker's heartbeat still names it
  await raw.del(locks('api', 'api-old'));
  expect(await finishUpgrade(store, 10)).toMatchObject({ outcome: 'older roles', older: [{ nodeId: 'w-old' }] });
  await store.nodes.remove('worker', 'w-old');

  // a running role of this version sees the switch and makes CPU jobs in the CPU lists from then on
  const watch = watchFormat(store, silentLogger, 20);
  try {
    expect(await chunksIn(store, k)).toEqual({ wait: 2, cpuwait: 0 });
    expect(await finishUpgrade(store, 10)).toMatchObject({
      outcome: 'finished',
      from: ROLLING_FORMAT,
      to: FORMAT_VERSION,
    });
    expect(await raw.get(k.format)).toBe(String(FORMAT_VERSION));
    await waitUntil(async () => store.cpuLists, 5_000, 'the switch seen');
    expect(await chunksIn(store, k)).toEqual({ wait: 2, cpuwait: 2 });
  } finally {
    await watch.close();
  }
  expect(await finishUpgrade(store, 10)).toMatchObject({ outcome: 'already', to: FORMAT_VERSION });
});

test('finish: a fence left by a finish cut off half-way is taken from there; a prefix with no format, format 1 or an unknown one is refused', async () => {
  const left = await open('upgrade-fence', `${ROLLING_FORMAT}>${FORMAT_VERSION}`);
  expect(await finishUpgrade(left.store, 10)).toMatchObject({ outcome: 'finished' });
  expect(await raw.get(left.k.format)).toBe(String(FORMAT_VERSION));

  for (const written of [undefined, '1', String(FORMAT_VERSION + 1), 'x']) {
    const { store, k } = await open('upgrade-refused', written);
    expect(await finishUpgrade(store, 10)).toMatchObject({ outcome: 'refused' });
    expect(await raw.get(k.format)).toBe(written ?? null);
  }
});

test('a new job record leaves its default queue and max_attempts out at format 3 (a job with no options its PENDING state too), is written whole at format 2 (as v0.1.0 reads it), and both read the same', async () => {
  const fresh = await open('upgrade-lean');
  await joinPrefix(fresh.store);
  const rolling = await open('upgrade-whole', String(ROLLING_FORMAT));
  await joinPrefix(rolling.store);
  const jobs = [
    { type: 'task', params: { a: 1 } }, // both defaults
    { type: 'task', params: { a: 2 }, queue: 'other', maxAttempts: 5 }, // neither
    { type: 'task', params: { a: 3 }, maxAttempts: 1, priority: 9 }, // with an option
  ] as const;
  const fields = async (s: { store: RedisStore; k: ReturnType<typeof redisKeys> }) => {
    const made = await s.store.jobs.enqueue(jobs.map((j) => ({ ...j })));
    const records = await Promise.all(made.map((j) => raw.hmGet(s.k.job(j.id), ['state', 'queue', 'max_attempts'])));
    const read = await Promise.all(made.map(async (j) => (await s.store.reads.job(j.id))!));
    expect(read).toEqual(made);
    // each listed as PENDING, and claimed as such: the claim writes its state
    const listed = await s.store.reads.list({ state: 'PENDING', limit: 10 });
    expect(listed.jobs.map((j) => j.id).sort()).toEqual(made.map((j) => j.id).sort());
    const claimed = await s.store.jobs.claim('default', { consumer: 'upgrade-test', max: 10, leaseMs: 30_000 });
    expect(claimed.jobs.map((c) => c.job.id).sort()).toEqual([made[0].id, made[2].id].sort());
    expect(await raw.hGet(s.k.job(made[0].id), 'state')).toBe('STARTED');
    return { records, read: read.map((j) => [j.state, j.queue, j.maxAttempts]) };
  };
  const lean = await fields(fresh);
  const whole = await fields(rolling);
  expect(lean.records).toEqual([
    [null, null, null],
    ['PENDING', 'other', '5'],
    ['PENDING', null, '1'],
  ]);
  expect(whole.records).toEqual([
    ['PENDING', 'default', '3'],
    ['PENDING', 'other', '5'],
    ['PENDING', 'default', '1'],
  ]);
  expect(lean.read).toEqual([
    ['PENDING', 'default', 3],
    ['PENDING', 'other', 5],
    ['PENDING', 'default', 1],
  ]);
  expect(whole.read).toEqual(lean.read);
});

test("a claim and a completion leave updated_at out at format 3 (it is the started_at or finished_at they write) and write it at format 2 (v0.1.0 reads it); the job reads its last move's time either way", async () => {
  const fresh = await open('upgrade-moves-lean');
  await joinPrefix(fresh.store);
  const rolling = await open('upgrade-moves-whole', String(ROLLING_FORMAT));
  await joinPrefix(rolling.store);
  const run = async (s: { store: RedisStore; k: ReturnType<typeof redisKeys> }) => {
    const [job] = await s.store.jobs.enqueue([{ type: 'task', params: { a: 1 } }]);
    await sleep(5); // Redis's clock moves on: each time below is its own
    const [held] = (await s.store.jobs.claim('default', { consumer: 'upgrade-test', max: 1, leaseMs: 30_000 })).jobs;
    const claimed = await raw.hGet(s.k.job(job.id), 'updated_at');
    const started = (await s.store.reads.job(job.id))!;
    expect(started.updatedAt).toBe(held.job.startedAt);
    expect(started.updatedAt).toBeGreaterThan(job.createdAt);
    await sleep(5);
    await s.store.jobs.complete(job.id, held.token, 2, held.job);
    const done = (await s.store.reads.job(job.id))!;
    expect(done.updatedAt).toBe(done.finishedAt);
    expect(done.finishedAt!).toBeGreaterThan(started.updatedAt);
    return {
      claimed,
      finished: await raw.hGet(s.k.job(job.id), 'updated_at'),
      times: [String(started.updatedAt), String(done.updatedAt)],
    };
  };
  const lean = await run(fresh);
  expect([lean.claimed, lean.finished]).toEqual([null, null]);
  const whole = await run(rolling);
  expect([whole.claimed, whole.finished]).toEqual(whole.times);
});

test('the all-jobs index leaves out a job waiting in its queue at format 3 and holds it at format 2 (v0.1.0 lists it); both list the same, before and after finish', async () => {
  const index = async (k: ReturnType<typeof redisKeys>) => (await raw.zRange(k.jobs, 0, -1)).sort();
  const run = async (s: { store: RedisStore; k: ReturnType<typeof redisKeys> }) => {
    // a few milliseconds apart (Redis's clock): the listing's order is by creation
    const [done] = await s.store.jobs.enqueue([{ type: 'task', params: { a: 1 } }]);
    await sleep(3);
    const [waiting] = await s.store.jobs.enqueue([{ type: 'task', params: { a: 2 } }]);
    await sleep(3);
    const [delayed] = await s.store.jobs.enqueue([{ type: 'task', params: { a: 3 }, delayMs: 60_000 }]);
    const before = await index(s.k);
    const [held] = (await s.store.jobs.claim('default', { consumer: 'w1', max: 2, leaseMs: 5_000 })).jobs;
    expect(held.job.id).toBe(done.id);
    await s.store.jobs.complete(done.id, held.token, 3);
    const listed = await s.store.reads.list({ limit: 10 });
    expect(listed.total).toBe(3);
    return {
      ids: { done: done.id, waiting: waiting.id, delayed: delayed.id },
      before,
      after: await index(s.k),
      listed,
    };
  };
  const fresh = await open('upgrade-index-new');
  await joinPrefix(fresh.store);
  const lean = await run(fresh);
  expect(lean.before).toEqual([lean.ids.delayed]); // a delayed job keeps its entry: its queue lists only the first due
  expect(lean.after).toEqual([lean.ids.delayed, lean.ids.done].sort());
  expect(lean.listed.jobs.map((j) => j.id)).toEqual([lean.ids.delayed, lean.ids.waiting, lean.ids.done]);

  const rolling = await open('upgrade-index-rolling', String(ROLLING_FORMAT));
  await joinPrefix(rolling.store);
  const whole = await run(rolling);
  const all = Object.values(whole.ids).sort();
  expect(whole.before).toEqual(all);
  expect(whole.after).toEqual(all);
  expect(whole.listed.jobs.map((j) => j.id)).toEqual([whole.ids.delayed, whole.ids.waiting, whole.ids.done]);

  // finished: the waiting job's entry stays (harmless: listed once, counted by the counters) and
  // leaves with it; a new waiting job has none
  expect(await finishUpgrade(rolling.store, 0)).toMatchObject({ outcome: 'finished' });
  const watch = watchFormat(rolling.store, silentLogger, 20);
  try {
    await waitUntil(async () => rolling.store.cpuLists, 5_000, 'the switch seen');
  } finally {
    await watch.close();
  }
  await sleep(3);
  const [late] = await rolling.store.jobs.enqueue([{ type: 'task', params: { a: 4 } }]);
  expect(await index(rolling.k)).toEqual(all);
  const listed = await rolling.store.reads.list({ limit: 10 });
  expect(listed.total).toBe(4);
  expect(listed.jobs.map((j) => j.id)).toEqual([late.id, whole.ids.delayed, whole.ids.waiting, whole.ids.done]);
  expect((await rolling.store.reads.list({ offset: 1, limit: 2 })).jobs.map((j) => j.id)).toEqual([
    whole.ids.delayed,
    whole.ids.waiting,
  ]);
});
