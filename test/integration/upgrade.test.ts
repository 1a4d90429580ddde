/**
 * A rolling upgrade's steps on a real Redis (src/store/upgrade.ts, src/store/format.ts): the
 * format a role brings a prefix to when it joins, the live roles with their versions (heartbeats
 * and node-id claims, made up here as an older role leaves them), `finish` refused while an older
 * one is alive and switching the format once none is, and the roles of this version putting CPU
 * jobs in the CPU lists only from then on.
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
