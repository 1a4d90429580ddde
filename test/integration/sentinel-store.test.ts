/**
 * The Redis adapter on Sentinel (real servers: a master, a replica and three Sentinels): it
 * connects to the master the Sentinels name and follows a promotion by itself; with
 * durability 'replica' a write is answered once a replica has it, and is a 503 within the WAIT
 * timeout when no replica answers.
 */
import { StoreUnavailableError } from '../../src/core/errors';
import { openStore, Store } from '../../src/store';
import { parseSentinels } from '../../src/commands/store-options';
import { redisKeys } from '../../src/store/keys';
import { waitUntil } from '../helpers/procs';
import { startRedisServer } from '../helpers/redis-server';
import { MASTER_NAME, redisCommand, startSentinelSet, TestSentinelSet, waitForSync } from '../helpers/redis-sentinel';
import { startTcpProxy } from '../helpers/tcp-proxy';

let set: TestSentinelSet;
const stores: Store[] = [];

beforeAll(async () => {
  set = await startSentinelSet();
}, 60_000);

afterAll(async () => {
  for (const s of stores) await s.close();
  await set?.destroy();
});

const open = async (prefix: string, durability: 'none' | 'replica' = 'none') => {
  const s = await openStore({
    sentinel: { sentinels: parseSentinels(set.sentinelList), masterName: MASTER_NAME },
    prefix,
    durability,
    durabilityTimeoutMs: 500,
  });
  stores.push(s);
  return s;
};

test('a durable write waits for the replica; with the replica paused it is a 503 within the WAIT timeout, not confirmed', async () => {
  const store = await open('sentinel-durable', 'replica');
  expect(store.location).toBe(`sentinel://${set.sentinelList}/${MASTER_NAME}`);
  const [job] = await store.jobs.enqueue([{ type: 'task', params: { op: 'add', a: 1, b: 2 } }]);
  // the replica has it the moment the write is answered
  expect(await redisCommand(set.replica.port, ['EXISTS', redisKeys('sentinel-durable').job(job.id)])).toBe(1);
  expect((await store.abacus.add(5)).sum).toBe(5n);

  // the replica stops reading its link: no replica acknowledges, so the answer is a 503
  await redisCommand(set.replica.port, ['DEBUG', 'SLEEP', '0']);
  const sleeping = redisCommand(set.replica.port, ['DEBUG', 'SLEEP', '2']);
  await new Promise((r) => setTimeout(r, 100));
  const started = Date.now();
  const err = await store.jobs.enqueue([{ type: 'task', params: { op: 'add', a: 2, b: 2 } }]).catch((e: unknown) => e);
  const took = Date.now() - started;
  expect(err).toBeInstanceOf(StoreUnavailableError);
  expect((err as Error).message).toContain('not confirmed by a replica');
  expect(took).toBeGreaterThanOrEqual(450);
  expect(took).toBeLessThan(1500);
  const add = await store.abacus.add(1).catch((e: unknown) => e);
  expect(add).toBeInstanceOf(StoreUnavailableError);
  await sleeping;
}, 30_000);

test('the store follows a promotion by itself: writes and reads go to the new master', async () => {
  const store = await open('sentinel-follow');
  const [before] = await store.jobs.enqueue([{ type: 'task', params: { op: 'add', a: 1, b: 1 } }]);
  await waitForSync(set.replica.port);
  const old = await set.masterPort();
  expect(old).toBe(set.master.port);
  await set.master.stop(true);
  const promoted = await set.waitForFailover(old);
  expect(promoted).toBe(set.replica.port);
  const after = await waitUntil(
    async () =>
      (await store.jobs.enqueue([{ type: 'task', params: { op: 'add', a: 2, b: 2 } }]).catch(() => null))?.[0],
    20_000,
    'a write on the new master',
  );
  expect((await store.reads.job(before.id))?.id).toBe(before.id);
  expect(await redisCommand(promoted, ['EXISTS', redisKeys('sentinel-follow').job(after.id)])).toBe(1);
}, 60_000);

/**
 * Why --durability replica: a replica that has not received a write when its master dies takes
 * over without it. The replica's link runs through a proxy that is cut, so the write never
 * reaches it, deterministically; the master is then killed and the replica promoted.
 */
test('without durability an acknowledged job is lost in a failover; with it, that job is never acknowledged', async () => {
  const master = await startRedisServer();
  const link = await startTcpProxy(master.port);
  const replica = await startRedisServer({ extraArgs: ['--replicaof', '127.0.0.1', String(link.port)] });
  try {
    await waitForSync(replica.port);
    const plain = await openStore({ redisUrl: master.url, prefix: 'loss' });
    const durable = await openStore({
      redisUrl: master.url,
      prefix: 'loss',
      durability: 'replica',
      durabilityTimeoutMs: 300,
    });
    stores.push(plain, durable);
    const [synced] = await plain.jobs.enqueue([{ type: 'task', params: { op: 'add', a: 1, b: 1 } }]);
    await waitUntil(
      async () => (await redisCommand(replica.port, ['EXISTS', redisKeys('loss').job(synced.id)])) === 1,
      5000,
      'the first job on the replica',
    );

    link.cut();
    const [acknowledged] = await plain.jobs.enqueue([{ type: 'task', params: { op: 'add', a: 2, b: 2 } }]);
    const refused = await durable.jobs
      .enqueue([{ type: 'task', params: { op: 'add', a: 3, b: 3 } }])
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(StoreUnavailableError);
    expect((refused as Error).message).toContain('not confirmed by a replica');

    await master.stop(true);
    await redisCommand(replica.port, ['REPLICAOF', 'NO', 'ONE']);
    const keys = redisKeys('loss');
    expect(await redisCommand(replica.port, ['EXISTS', keys.job(synced.id)])).toBe(1);
    expect(await redisCommand(replica.port, ['EXISTS', keys.job(acknowledged.id)])).toBe(0); // told 202, gone
  } finally {
    await link.close();
    await replica.destroy();
    await master.destroy();
  }
}, 30_000);

/** a managed Redis's endpoint moves by DNS on failover: a connection left on the demoted node must not stay there */
test('a connection that answers READONLY (its node was demoted) is replaced, not kept', async () => {
  const a = await startRedisServer();
  const b = await startRedisServer();
  try {
    const store = await openStore({ redisUrl: a.url, prefix: 'demoted' });
    stores.push(store);
    await store.jobs.enqueue([{ type: 'task', params: { op: 'add', a: 1, b: 1 } }]);
    const clientIds = async () =>
      new Set(
        String(await redisCommand(a.port, ['CLIENT', 'LIST', 'TYPE', 'normal']))
          .split('\n')
          .filter((l) => !/cmd=client\|list/.test(l) && l.trim() !== '')
          .map((l) => /id=(\d+)/.exec(l)![1]),
      );
    const before = await clientIds();
    expect(before.size).toBeGreaterThan(0);
    await redisCommand(a.port, ['REPLICAOF', '127.0.0.1', String(b.port)]);
    const refused = await store.jobs
      .enqueue([{ type: 'task', params: { op: 'add', a: 2, b: 2 } }])
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(StoreUnavailableError);
    expect((refused as Error).message).toContain('READONLY');
    const after = await waitUntil(
      async () => {
        const ids = await clientIds();
        return ids.size > 0 && [...before].every((id) => !ids.has(id)) ? ids : null;
      },
      5000,
      'the connection on the demoted node to be replaced',
    );
    expect(after.size).toBeGreaterThan(0);
  } finally {
    await b.destroy();
    await a.destroy();
  }
}, 30_000);
