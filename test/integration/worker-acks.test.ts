/**
 * How a worker acknowledges (src/roles/worker.ts): the acks of a lane ride its next
 * completeAndClaim call, and a job that finishes while its lane waits on an empty queue is
 * acknowledged on its own, as are the jobs of a claim that came back short of the lane's free
 * slots (the queue ran dry: the lane's next claim would find nothing, so it waits at once), and the
 * lanes' calls go a turn apart (never made in the same turn of the event loop). A lane with
 * nothing to run waits and claims in one call (waitAndClaim: on one Redis its claim waits in Redis
 * behind its BZPOPMIN), also where an ACL refuses CLIENT. The store is the real Redis one; a thin wrapper counts what the worker asks of it and, where a test
 * says so, makes a call fail as a Redis outage would.
 */
import { StoreUnavailableError } from '../../src/core/errors';
import { RunningWorker, startWorker } from '../../src/roles/worker';
import type { Completion, Store, WaitAndClaimOptions } from '../../src/store/types';
import { silentLogger } from '../helpers/log';
import { sleep } from '../../src/util/time';
import { waitUntil } from '../helpers/procs';
import { makeStore } from '../helpers/stores';
import { startRedisServer } from '../helpers/redis-server';
import { redisCommand } from '../helpers/redis-sentinel';
import { RedisStore } from '../../src/store/redis';

let store: Store;
let worker: RunningWorker | null = null;
/** job id → how many times the worker sent its completion */
const sent = new Map<string, number>();
/** the worker's queue-path calls as answered, in order: `claim <acks sent> <jobs got>`, `wait <jobs got>` (waitAndClaim), `complete <job id>` */
const calls: string[] = [];
/** how many times a lane began to wait for work (and claim: waitAndClaim) */
let waits = 0;
/** fail the first wait for work that follows a call that carried acks */
let failWaitAfterAcks = false;
let acksJustSent = false;
/** each completeAndClaim call's answer is held back this long (a slow Redis) */
let slowClaimsMs = 0;
/** calls unanswered now; calls made while another was unanswered, and in the same turn of the event loop as another */
let unanswered = 0;
let overlapping = 0;
let sameTurn = 0;
let madeThisTurn = false;

/** the real store, counting completions and failing one waitAndClaim on request (its queue path, store.jobs, watched) */
function watched(inner: Store): Store {
  const count = (id: string) => sent.set(id, (sent.get(id) ?? 0) + 1);
  const jobs = new Proxy(inner.jobs, {
    get(target, prop, receiver) {
      if (prop === 'completeAndClaim') {
        return (
          completions: Completion[],
          ...rest: Parameters<Store['jobs']['completeAndClaim']> extends [unknown, ...infer R] ? R : never
        ) => {
          completions.forEach((c) => count(c.jobId));
          acksJustSent = completions.length > 0;
          if (unanswered > 0) overlapping++;
          if (madeThisTurn) sameTurn++;
          unanswered++;
          madeThisTurn = true;
          setImmediate(() => (madeThisTurn = false));
          return target
            .completeAndClaim(completions, ...rest)
            .then(async (got) => {
              if (slowClaimsMs) await sleep(slowClaimsMs);
              calls.push(`claim ${completions.length} ${got.claim.jobs.length}`);
              return got;
            })
            .finally(() => unanswered--);
        };
      }
      if (prop === 'complete') {
        return (jobId: string, ...rest: unknown[]) => {
          count(jobId);
          calls.push(`complete ${jobId}`);
          return (target.complete as (...a: unknown[]) => Promise<void>)(jobId, ...rest);
        };
      }
      if (prop === 'waitAndClaim') {
        return async (queue: string, timeoutMs: number, opts: WaitAndClaimOptions) => {
          waits++;
          if (failWaitAfterAcks && acksJustSent) {
            failWaitAfterAcks = false;
            throw new StoreUnavailableError('Redis is unavailable: a test outage');
          }
          const got = await target.waitAndClaim(queue, timeoutMs, opts);
          calls.push(`wait ${got.jobs.length}`);
          return got;
        };
      }
      const value = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'jobs') return jobs;
      const value = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** a worker of one thread on the watched store */
const watchedWorker = (nodeId: string, concurrency: number, blockMs: number) =>
  startWorker(watched(store), { nodeId, concurrency, threads: 1, blockMs, log: silentLogger });

beforeEach(async () => {
  store = await makeStore('redis', `worker-acks-${Date.now()}`);
  sent.clear();
  calls.length = 0;
  waits = 0;
  failWaitAfterAcks = false;
  acksJustSent = false;
  slowClaimsMs = 0;
  unanswered = overlapping = sameTurn = 0;
  madeThisTurn = false;
});

afterEach(async () => {
  await worker?.close();
  worker = null;
  await store.close();
});

test('every job is acknowledged once, and an outage while the lane waits for work sends no ack again', async () => {
  worker = watchedWorker('acks-1', 1, 200);
  // the wait on the empty queue right after the last acks fails; the lane backs off and resumes
  failWaitAfterAcks = true;
  const first = await store.jobs.enqueue(
    [1, 2, 3].map((a) => ({ type: 'task' as const, params: { a, b: 1, op: 'add' } })),
  );
  await waitUntil(
    async () => (await store.reads.countByState()).SUCCESS === 3,
    10_000,
    'the first three to succeed',
    10,
  );
  await waitUntil(async () => !failWaitAfterAcks, 10_000, 'the failed wait', 10);
  const second = await store.jobs.enqueue(
    [4, 5].map((a) => ({ type: 'task' as const, params: { a, b: 1, op: 'add' } })),
  );
  await waitUntil(async () => (await store.reads.countByState()).SUCCESS === 5, 10_000, 'all five to succeed', 10);
  await sleep(300); // anything sent twice would be sent by now
  expect(Object.fromEntries(sent)).toEqual(Object.fromEntries([...first, ...second].map((j) => [j.id, 1])));
  for (const job of [...first, ...second])
    expect(await store.reads.job(job.id)).toMatchObject({ state: 'SUCCESS', result: (job.params.a as number) + 1 });
});

test('a lone job on an idle worker is acknowledged on its own at once: no claim after it that finds nothing', async () => {
  worker = watchedWorker('acks-lone', 4, 10_000);
  await waitUntil(async () => waits >= 2, 10_000, 'both lanes to wait on the empty queue', 10);
  calls.length = 0;
  const [job] = await store.jobs.enqueue([{ type: 'task', params: { a: 1, b: 1, op: 'add' } }]);
  await waitUntil(async () => (await store.reads.job(job.id))?.state === 'SUCCESS', 10_000, 'the job to succeed', 5);
  await sleep(200); // a claim after it would be made by now
  // one waiting lane claims it as its wait ends (1 for its 2 slots: the queue is empty), waits
  // again at once and sends the ack alone (completeJobs), not with a next claim that would find nothing
  expect(calls).toEqual(['wait 1', `complete ${job.id}`]);
  expect(Object.fromEntries(sent)).toEqual({ [job.id]: 1 });
  expect(await store.reads.job(job.id)).toMatchObject({ state: 'SUCCESS', result: 2 });
});

test("the lanes' calls overlap but never go out in the same turn of the event loop", async () => {
  // a backlog for both lanes, and a slow Redis: each lane sends while the other's call is unanswered
  await store.jobs.enqueue(
    Array.from({ length: 320 }, (_, a) => ({ type: 'task' as const, params: { a, b: 1, op: 'add' } })),
  );
  slowClaimsMs = 20;
  worker = watchedWorker('acks-turns', 64, 200);
  await waitUntil(async () => (await store.reads.countByState()).SUCCESS === 320, 20_000, 'all to succeed', 10);
  // both lanes were busy at once (the first two calls start together without the gate), one turn apart
  expect(overlapping).toBeGreaterThan(2);
  expect(sameTurn).toBe(0);
  expect(new Set(sent.values())).toEqual(new Set([1]));
});

test('an idle worker waits with its claim already in Redis: a job on the empty queue is claimed as the wait ends, and a stop ends the wait at once', async () => {
  // a Redis of its own: its CLIENT LIST holds this worker's connections only
  const redis = await startRedisServer();
  const own = await new RedisStore({ url: redis.url, prefix: 'lanes' }).connect();
  const waiting = async () =>
    String(await redisCommand(redis.port, ['CLIENT', 'LIST', 'TYPE', 'normal']))
      .split('\n')
      .filter((l) => / flags=b /.test(l) && / cmd=bzpopmin /.test(l) && !/ qbuf=0 /.test(l)).length;
  let idle: RunningWorker | null = startWorker(own, {
    nodeId: 'lanes-1',
    concurrency: 4,
    threads: 1,
    blockMs: 30_000,
    log: silentLogger,
  });
  try {
    // each lane blocks on a connection of its own, its claim script read behind the BZPOPMIN
    await waitUntil(async () => (await waiting()) === 2, 10_000, 'both lanes to wait with a claim behind', 10);
    const [job] = await own.jobs.enqueue([{ type: 'task', params: { a: 1, b: 1, op: 'add' } }]);
    await waitUntil(async () => (await own.reads.job(job.id))?.state === 'SUCCESS', 10_000, 'the job to succeed', 5);
    expect(await own.reads.job(job.id)).toMatchObject({ state: 'SUCCESS', result: 2, attempts: 1 });
    await waitUntil(async () => (await waiting()) === 2, 10_000, 'both lanes to wait again', 10);
    // a stop ends both waits (CLIENT UNBLOCK), well before their 30 s
    const began = Date.now();
    await idle.close();
    idle = null;
    expect(Date.now() - began).toBeLessThan(5_000);
    expect(await waiting()).toBe(0);
  } finally {
    await idle?.close();
    await own.close();
    await redis.destroy();
  }
});

test('on a Redis whose ACL refuses CLIENT the lanes still wait and claim: jobs before and after the refusal succeed once', async () => {
  const redis = await startRedisServer({
    extraArgs: ['--user', 'default', 'on', 'nopass', '~*', '&*', '+@all', '-client'],
  });
  const own = await new RedisStore({ url: redis.url, prefix: 'noclient' }).connect();
  let idle: RunningWorker | null = startWorker(own, {
    nodeId: 'noclient-1',
    concurrency: 4,
    threads: 1,
    blockMs: 200,
    log: silentLogger,
  });
  try {
    const done = async (ids: string[]) => {
      await waitUntil(
        async () => (await Promise.all(ids.map((id) => own.reads.job(id)))).every((j) => j?.state === 'SUCCESS'),
        10_000,
        'the jobs to succeed',
        10,
      );
      for (const id of ids) expect(await own.reads.job(id)).toMatchObject({ state: 'SUCCESS', result: 2, attempts: 1 });
    };
    // the first waits go with a claim behind them (CLIENT ID refused: nothing can end them early)
    await done((await own.jobs.enqueue([{ type: 'task', params: { a: 1, b: 1, op: 'add' } }])).map((j) => j.id));
    await sleep(500); // waits that timed out: from here on a wait, then a claim
    await done(
      (await own.jobs.enqueue([1, 1, 1].map((a) => ({ type: 'task' as const, params: { a, b: 1, op: 'add' } })))).map(
        (j) => j.id,
      ),
    );
    await idle.close();
    idle = null;
  } finally {
    await idle?.close();
    await own.close();
    await redis.destroy();
  }
});
