/**
 * The scripts as a Redis Functions library (src/store/scripts.ts): loaded on first use and again
 * when Redis lost it (FUNCTION FLUSH, a restart without persistence), beside another build's
 * library, refused (an ACL without FUNCTION, OOM) with the scripts then run by EVALSHA, and no
 * state of one call seen by the next (lib-call.lua), even after a call that failed midway.
 */
import { createClient } from 'redis';
import { StoreOutOfMemoryError } from '../../src/core/errors';
import { RedisStore } from '../../src/store/redis';
import { library, SCRIPT_NAMES, scripts } from '../../src/store/scripts';
import { claimArgs, completionArgs } from '../../src/store/redis/shared';
import { CLAIM_ARGS } from '../../src/store/wire';
import type { NewJob } from '../../src/core/job';
import { testPrefix } from '../helpers/env';
import { clusterCli } from '../helpers/redis-cluster';
import { startRedisServer, TestRedis } from '../helpers/redis-server';
import { useOwnTestCluster } from '../helpers/stores';

type Client = ReturnType<typeof createClient>;
const task = (a: number): NewJob => ({ type: 'task', params: { a, b: 1, op: 'add' } });
const lib = library();

let redis: TestRedis;
let admin: Client;
const open: RedisStore[] = [];

beforeAll(async () => {
  redis = await startRedisServer();
  admin = createClient({ url: redis.url, socket: { reconnectStrategy: 50 } });
  admin.on('error', () => undefined);
  await admin.connect();
});
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
  await admin.configSet('maxmemory', '0');
  await admin.sendCommand(['FUNCTION', 'FLUSH']);
  await admin.sendCommand(['SCRIPT', 'FLUSH']);
  await admin.sendCommand(['ACL', 'DELUSER', 'nofunction']);
});
afterAll(async () => {
  await admin?.quit();
  await redis?.destroy();
});

async function store(name: string, url = redis.url): Promise<RedisStore> {
  const s = await new RedisStore({ url, prefix: testPrefix(name) }).connect();
  open.push(s);
  return s;
}

/** the libraries Redis has: name → {function name → its flags} */
async function libraries(): Promise<Record<string, Record<string, string[]>>> {
  const list = (await admin.sendCommand(['FUNCTION', 'LIST'])) as unknown[][];
  const out: Record<string, Record<string, string[]>> = {};
  for (const l of list) {
    const fns = l[l.indexOf('functions') + 1] as unknown[][];
    out[String(l[l.indexOf('library_name') + 1])] = Object.fromEntries(
      fns.map((f) => [String(f[f.indexOf('name') + 1]), (f[f.indexOf('flags') + 1] as string[]).map(String)]),
    );
  }
  return out;
}

/** calls of FCALL and of EVALSHA/EVAL since the last reset (those refused before they ran too) */
async function calls(): Promise<{ fcall: number; eval: number }> {
  const info = await admin.info('commandstats');
  await admin.configResetStat();
  const n = (cmd: string) => {
    const m = new RegExp(`cmdstat_${cmd}:calls=(\\d+),.*rejected_calls=(\\d+)`).exec(info);
    return m ? Number(m[1]) + Number(m[2]) : 0;
  };
  return { fcall: n('fcall'), eval: n('evalsha') + n('eval') };
}

/** one job through: enqueued, claimed, completed */
async function roundTrip(s: RedisStore, a: number): Promise<void> {
  const [job] = await s.jobs.enqueue([task(a)]);
  const { jobs } = await s.jobs.claim('default', { consumer: 'w', max: 1, leaseMs: 60_000 });
  expect(jobs.map((c) => c.job.id)).toEqual([job.id]);
  await s.jobs.complete(job.id, jobs[0].token, a + 1, jobs[0].job);
  expect((await s.reads.job(job.id))?.state).toBe('SUCCESS');
}

test('one library, named by its hash, has every script as a function, allow-oom flagged on the lease renewals and heartbeats only; the calls go by FCALL', async () => {
  const s = await store('fn-list');
  await calls();
  await roundTrip(s, 1);
  expect(await calls()).toEqual({ fcall: 3, eval: 0 });
  expect(lib.name).toMatch(/^wizard_[0-9a-f]{16}$/);
  const fns = (await libraries())[lib.name];
  expect(Object.keys(fns).sort()).toEqual(SCRIPT_NAMES.map((n) => `${lib.name}_${n}`).sort());
  const all = scripts();
  for (const name of SCRIPT_NAMES) expect(fns[all[name].fn]).toEqual(all[name].allowOom ? ['allow-oom'] : []);
  expect(SCRIPT_NAMES.filter((n) => all[n].allowOom).sort()).toEqual([
    'heartbeatBot',
    'heartbeatNode',
    'liveNodes',
    'renewLease',
  ]);
});

test('FUNCTION FLUSH: the next call loads the library again and runs', async () => {
  const s = await store('fn-flush');
  await roundTrip(s, 1);
  await admin.sendCommand(['FUNCTION', 'FLUSH']);
  expect(await libraries()).toEqual({});
  await calls();
  await roundTrip(s, 2);
  // the first FCALL found nothing, the library was loaded, that call made again: 4 FCALLs, no EVAL
  expect(await calls()).toEqual({ fcall: 4, eval: 0 });
  expect(Object.keys(await libraries())).toEqual([lib.name]);
});

test('a restart that lost the library (no persistence): the store reconnects and has it again', async () => {
  const s = await store('fn-restart');
  await roundTrip(s, 1);
  await redis.stop();
  await redis.start();
  await new Promise((r) => setTimeout(r, 300)); // the admin reconnects
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ok = await roundTrip(s, 2).then(
      () => true,
      (e: unknown) => (Date.now() > deadline ? Promise.reject(e) : false),
    );
    if (ok) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  expect(Object.keys(await libraries())).toEqual([lib.name]);
});

test("another build's library (another hash) stays beside this one, each build calling its own", async () => {
  const other = lib.source.replaceAll(lib.name, 'wizard_0123456789abcdef');
  await admin.sendCommand(['FUNCTION', 'LOAD', other]);
  const s = await store('fn-two');
  await roundTrip(s, 1);
  expect(Object.keys(await libraries()).sort()).toEqual(['wizard_0123456789abcdef', lib.name].sort());
  // the other build's function runs too (checkJob of a job that does not exist: an empty answer)
  const base = s.keys.base;
  expect(
    await admin.sendCommand([
      'FCALL',
      'wizard_0123456789abcdef_checkJob',
      '2',
      base,
      `${base}guard`,
      '',
      '1000',
      '1000',
      'nope',
      'n',
    ]),
  ).toEqual([]);
});

test.each(['function', 'fcall'])('a user whose ACL has no %s: the scripts run by EVALSHA', async (command) => {
  await admin.sendCommand(['ACL', 'SETUSER', 'nofunction', 'on', '>pw', '~*', '&*', '+@all', `-${command}`]);
  const s = await store('fn-acl', redis.url.replace('redis://', 'redis://nofunction:pw@'));
  await calls();
  await roundTrip(s, 1);
  await roundTrip(s, 2);
  if (command === 'function') expect(await libraries()).toEqual({});
  // one FCALL refused or finding nothing (the load refused): every script since by EVALSHA (the first of each sent whole)
  expect(await calls()).toEqual({ fcall: 1, eval: 6 + 3 });
});

test('OOM: with the library the lease renewal runs and an enqueue is refused whole; without it (FUNCTION LOAD refused) the same by EVAL', async () => {
  const s = await store('fn-oom');
  const [job] = await s.jobs.enqueue([task(1)]);
  const { jobs } = await s.jobs.claim('default', { consumer: 'w', max: 1, leaseMs: 60_000 });
  const jobsBefore = await admin.zCard(`${s.keys.base}jobs`);
  await admin.configSet('maxmemory', '1');
  await calls();
  await s.jobs.renew(job.id, jobs[0].token, 60_000);
  await expect(s.jobs.enqueue([task(2)])).rejects.toBeInstanceOf(StoreOutOfMemoryError);
  expect(await calls()).toEqual({ fcall: 2, eval: 0 });
  // the library lost while OOM: FUNCTION LOAD is a write Redis refuses
  await admin.sendCommand(['FUNCTION', 'FLUSH']);
  await s.jobs.renew(job.id, jobs[0].token, 60_000);
  await expect(s.jobs.enqueue([task(3)])).rejects.toBeInstanceOf(StoreOutOfMemoryError);
  expect(await libraries()).toEqual({});
  expect((await calls()).fcall).toBe(1); // then by EVALSHA, without asking again for a while
  expect(await admin.zCard(`${s.keys.base}jobs`)).toBe(jobsBefore); // nothing of the refused enqueues ran
});

test("a call that fails midway leaves nothing to the next: its gathered events and index moves are not the next call's", async () => {
  const s = await store('fn-leak');
  const base = s.keys.base;
  const lease = { consumer: 'w', max: 1, leaseMs: 60_000 };
  const [done, good] = await s.jobs.enqueue([task(0), task(1)]); // the library loaded
  const held = (await s.jobs.claim('default', lease)).jobs[0];
  expect(held.job.id).toBe(done.id);
  // a completion (made, and its SUCCESS event and index move gathered for flush), then a claim
  // whose max is not a number: the call fails after the completion was written
  const format = { eventResultMax: 512, leanMoves: true };
  const claim = claimArgs('default', lease, 'leak', format);
  claim[CLAIM_ARGS.indexOf('max')] = 'many';
  const failing = [
    'FCALL',
    scripts().completeAndClaim.fn,
    '2',
    base,
    `${base}guard`,
    '',
    '86400000',
    '86400000',
    ...completionArgs([{ jobId: held.job.id, token: held.token, result: 1 }], format),
    ...claim,
  ].map(String);
  await expect(admin.sendCommand(failing)).rejects.toThrow('max must be a number');
  // Redis does not roll a script back: the completion was written, but not flushed by the next call
  expect(await admin.hGet(`${base}job:${done.id}`, 'state')).toBe('SUCCESS');
  const next = (await s.jobs.claim('default', lease)).jobs[0];
  expect(next.job.id).toBe(good.id);
  const [last] = await admin.xRevRange(`${base}events`, '+', '-', { COUNT: 1 });
  expect(last.message).toEqual({ [good.id]: 'STARTED' });
  expect(await admin.zScore(`${base}jobs`, done.id)).toBeNull();
  // the next call's counts move only its own job: PENDING 2 - 1 - 1, STARTED 1 + 1 (not 1 - 1 + 1)
  expect(await admin.hmGet(`${base}counts`, ['PENDING', 'STARTED'])).toEqual(['0', '2']);
});

describe('on a Cluster of its own (flushing the shared one would race with other files loading it)', () => {
  const cluster = useOwnTestCluster();
  const seed = () => cluster().nodes[0].port;
  /** the masters' ports */
  const masters = async () =>
    (await clusterCli(seed(), 'CLUSTER', 'NODES'))
      .split('\n')
      .filter((l) => l.includes('master') && !l.includes('fail'))
      .map((l) => Number(/:(\d+)@/.exec(l)![1]));
  const hasLibrary = async (port: number) =>
    (await clusterCli(port, 'FUNCTION', 'LIST', 'LIBRARYNAME', lib.name)).includes(lib.name);
  const shardOf = (id: string) => Number(/^s(\d+)-/.exec(id)?.[1] ?? 0);

  test('every master has the library once a store connects; flushed from all of them, the calls of every shard load it again, the durable ones (WAIT) too', async () => {
    const prefix = testPrefix('fn-cluster');
    const url = `redis://127.0.0.1:${seed()}`;
    const s = await new RedisStore({ url, cluster: true, prefix }).connect();
    const durable = await new RedisStore({ url, cluster: true, prefix, durability: 'replica' }).connect();
    open.push(s, durable);
    const ports = await masters();
    expect(ports.length).toBeGreaterThan(1);
    for (const port of ports) expect(await hasLibrary(port)).toBe(true);
    for (const port of ports) await clusterCli(port, 'FUNCTION', 'FLUSH');
    for (const port of ports) expect(await hasLibrary(port)).toBe(false);
    const shards = s.shardLayout.count;
    const ids = new Set<string>();
    for (let i = 0; ids.size < 2 * shards; i++) for (const j of await durable.jobs.enqueue([task(i)])) ids.add(j.id);
    expect(new Set([...ids].map(shardOf)).size).toBe(shards);
    const held = [];
    for (;;) {
      const { jobs } = await s.jobs.claim('default', { consumer: 'w', max: 100, leaseMs: 60_000 });
      if (!jobs.length) break;
      held.push(...jobs);
    }
    expect(held.map((c) => c.job.id).sort()).toEqual([...ids].sort());
    for (const c of held) await s.jobs.complete(c.job.id, c.token, 1, c.job);
    for (const port of ports) expect(await hasLibrary(port)).toBe(true);
  });
});
