/**
 * The Redis adapter behind a link that stops forwarding (test/helpers/tcp-proxy.ts): every call
 * fails within its deadline even after it was written, an idle connection that stops answering
 * is found by its PING and replaced, calls work again by themselves after the heal, and a claim
 * whose answer was lost is given back (its attempt not counted) once Redis answers again.
 */
import { StoreUnavailableError } from '../../src/core/errors';
import { RedisStore } from '../../src/store/redis';
import { testPrefix, testRedisUrl } from '../helpers/env';
import { waitUntil } from '../helpers/procs';
import { startTcpProxy, TcpProxy } from '../helpers/tcp-proxy';

const DEADLINE_MS = 500;
const prefix = testPrefix('deadlines');
let proxy: TcpProxy;
let direct: RedisStore;
let viaProxy: RedisStore;

beforeAll(async () => {
  proxy = await startTcpProxy(Number(new URL(testRedisUrl()).port));
  direct = await new RedisStore({ url: testRedisUrl(), prefix }).connect();
  viaProxy = await new RedisStore({ url: proxy.url, prefix, commandTimeoutMs: DEADLINE_MS }).connect();
});
afterEach(async () => {
  proxy.heal();
  await waitUntil(async () => (await viaProxy.server.ping()) !== null, 10_000, 'the link to answer again');
});
afterAll(async () => {
  await viaProxy.close();
  await direct.close();
  await proxy.close();
});

/** how a promise settles and how long it took */
async function timed(p: Promise<unknown>): Promise<{ ms: number; err: unknown }> {
  const started = Date.now();
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  return { ms: Date.now() - started, err };
}

test('a call written before the cut fails with StoreUnavailableError at its deadline, and calls work again after the heal', async () => {
  proxy.cut();
  const { ms, err } = await timed(viaProxy.reads.job('nope'));
  expect(err).toBeInstanceOf(StoreUnavailableError);
  expect((err as Error).message).toMatch(`no answer within ${DEADLINE_MS} ms`);
  expect(ms).toBeGreaterThanOrEqual(DEADLINE_MS - 50);
  expect(ms).toBeLessThan(DEADLINE_MS + 500);
  // the connection was replaced; its successor cannot finish its handshake: calls fail at once
  const next = await timed(viaProxy.reads.job('nope'));
  expect(next.err).toBeInstanceOf(StoreUnavailableError);
  expect(next.ms).toBeLessThan(100);
  proxy.heal();
  await waitUntil(
    async () => (await viaProxy.reads.job('nope')) === null,
    10_000,
    'calls to work again after the heal',
  );
});

test('an idle connection that stops answering is found by its PING and replaced', async () => {
  proxy.cut();
  await new Promise((r) => setTimeout(r, DEADLINE_MS * 3)); // no calls: only the PING notices
  expect(viaProxy.isReady).toBe(false);
  const { ms, err } = await timed(viaProxy.reads.job('nope'));
  expect(err).toBeInstanceOf(StoreUnavailableError);
  expect(ms).toBeLessThan(100);
});

test('a claim whose answer was lost is given back once Redis answers: each job is claimed once, with attempts 1', async () => {
  const queue = 'lost-claim';
  const jobs = await direct.jobs.enqueue([1, 2, 3].map((a) => ({ type: 'task', queue, params: { a, b: 0 } })));
  proxy.cut();
  const { err } = await timed(viaProxy.jobs.claim(queue, { consumer: 'cut-off-worker', max: 3, leaseMs: 60_000 }));
  expect(err).toBeInstanceOf(StoreUnavailableError);
  expect((await direct.queues.depth(queue)).waiting).toBe(3); // held in the cut link, not run yet
  proxy.heal(); // the claim arrives and runs now; its answer goes to a connection that is gone
  await waitUntil(
    async () => {
      const held = await Promise.all(jobs.map((j) => direct.reads.job(j.id)));
      // PENDING again, and touched since they were made: the held claim ran (STARTED) and was given back
      // (right after the heal the jobs are still PENDING from before: that alone proves nothing)
      return held.every((j) => j?.state === 'PENDING' && j.attempts === 0 && j.updatedAt > j.createdAt);
    },
    10_000,
    'the lost claim to be given back',
  );
  expect(await direct.queues.depth(queue)).toEqual({ waiting: 3, active: 0, delayed: 0 });
  const again = await viaProxy.jobs.claim(queue, { consumer: 'worker', max: 3, leaseMs: 60_000 });
  expect(again.jobs.map((c) => [c.job.id, c.job.attempts]).sort()).toEqual(jobs.map((j) => [j.id, 1]).sort());
});
