/**
 * The two adapters' raw data, step by step: each scenario runs the same operations on the Redis
 * adapter and the in-memory one (test/helpers/twins.ts) and, after every step, compares what
 * each answered and everything each holds: the job hashes field by field, the wait lists, lease
 * and delayed sets, the per-state indexes and counts, the dead-letter set, the bots. The Lua
 * scripts are the truth: a difference is a drift of src/store/memory.
 */
import { createClient } from 'redis';
import { checkTransition, NewJob } from '../../src/core/job';
import { keyBase, keysAt } from '../../src/store/keys';
import type { ClaimResult, Store } from '../../src/store/types';
import { testRedisUrl } from '../helpers/env';
import { makeTwins, Twins } from '../helpers/twins';

const LEASE = 1000;
const task = (id: string, extra: Partial<NewJob> = {}): NewJob => ({
  id,
  type: 'task',
  params: { a: 1, b: 2, op: 'add' },
  ...extra,
});
const chunk = (id: string): NewJob => ({ id, type: 'primes_chunk', params: { lo: 1, hi: 10 } });
const claim =
  (consumer = 'w1', max = 1, queue = 'default') =>
  (s: Store) =>
    s.jobs.claim(queue, { consumer, max, leaseMs: LEASE });
/** the token a store's claim gave job `id` (each store has its own) */
const tokens = new Map<Store, Map<string, string>>();
/** a claim's answer, its tokens remembered */
const remember = (s: Store, r: ClaimResult): ClaimResult => {
  const mine = tokens.get(s) ?? new Map<string, string>();
  tokens.set(s, mine);
  for (const c of r.jobs) mine.set(c.job.id, c.token);
  return r;
};
const claimed =
  (consumer = 'w1', max = 1, queue = 'default') =>
  async (s: Store) =>
    remember(s, await claim(consumer, max, queue)(s));
/** claimed, for a consumer that asks for `maxCpu` CPU jobs besides `max` others */
const claimedCpu =
  (max: number, maxCpu: number, consumer = 'w1') =>
  async (s: Store) =>
    remember(s, await s.jobs.claim('default', { consumer, max, maxCpu, leaseMs: LEASE }));
const tokenOf = (s: Store, id: string) => tokens.get(s)?.get(id) ?? 'no-token';

let twins: Twins;
let drifts: { step: string; key: string; redis: unknown; memory: unknown }[];

beforeEach(async () => {
  twins = await makeTwins('twins');
  drifts = [];
  tokens.clear();
});
afterEach(async () => {
  await twins.close();
});

/** one step on both stores; then both answers and both stores' raw data must be the same */
async function step<T>(name: string, op: (s: Store) => Promise<T>): Promise<void> {
  const { redis, memory } = await twins.both(op);
  if (canonical(redis) !== canonical(memory))
    drifts.push({
      step: name,
      key: '(answer)',
      redis: JSON.parse(canonical(redis)),
      memory: JSON.parse(canonical(memory)),
    });
  const views = await twins.views();
  for (const key of new Set([...Object.keys(views.redis), ...Object.keys(views.memory)])) {
    const [r, m] = [views.redis[key], views.memory[key]];
    if (canonical(r) === canonical(m)) continue;
    if (key.startsWith('job:') && r && m && !Array.isArray(r)) {
      // a job hash: only the fields that differ
      const [rh, mh] = [r as Record<string, string>, m as Record<string, string>];
      const fields = [...new Set([...Object.keys(rh), ...Object.keys(mh)])].filter((f) => rh[f] !== mh[f]).sort();
      drifts.push({
        step: name,
        key,
        redis: Object.fromEntries(fields.map((f) => [f, rh[f]])),
        memory: Object.fromEntries(fields.map((f) => [f, mh[f]])),
      });
    } else drifts.push({ step: name, key, redis: r, memory: m });
  }
}
const advance = (ms: number) => twins.clock.advance(ms);

/** JSON with sorted object keys and the random part of claim tokens as '*' */
function canonical(v: unknown): string {
  const sort = (x: unknown): unknown =>
    Array.isArray(x)
      ? x.map(sort)
      : x && typeof x === 'object'
        ? Object.fromEntries(
            Object.keys(x)
              .sort()
              .map((k) => [k, sort((x as Record<string, unknown>)[k])]),
          )
        : x;
  return JSON.stringify(sort(v ?? null)).replace(/:[0-9a-f-]{13}\.(\d+)/g, ':*.$1');
}

test('a task: enqueue, claim, renew, check, complete', async () => {
  await step('enqueue', (s) => s.jobs.enqueue([task('t1', { initiatedBy: 'api-1' }), task('t2')]));
  advance(5);
  await step('claim', claimed('w1', 2));
  advance(5);
  await step('renew', (s) => s.jobs.renew('t1', tokenOf(s, 't1'), LEASE));
  await step('check', (s) => s.reads.check('t1', 'api-2'));
  advance(5);
  await step('complete', (s) => s.jobs.complete('t1', tokenOf(s, 't1'), 3));
  await step('complete again', (s) => s.jobs.complete('t1', tokenOf(s, 't1'), 4));
  await step('release', (s) => s.jobs.release('t2', tokenOf(s, 't2')));
  await step('claim the released', claimed('w2'));
  await step('counts', (s) => s.reads.countByState());
  await step('list STARTED', (s) => s.reads.list({ state: 'STARTED' }));
  await step('list SUCCESS', (s) => s.reads.list({ state: 'SUCCESS' }));
  expect(drifts).toEqual([]);
});

test('retries: RETRY with a delay, FAILURE, a retry by hand; DEAD by a lapsed lease and from the dead-letter queue', async () => {
  await step('enqueue', (s) => s.jobs.enqueue([task('r1'), task('d1', { maxAttempts: 1 })]));
  await step('claim', claimed('w1', 2));
  advance(5);
  await step('fail to RETRY', (s) => s.jobs.fail('r1', tokenOf(s, 'r1'), 'boom', { to: 'RETRY', delayMs: 100 }));
  advance(LEASE + 1);
  await step('reap: d1 is DEAD', (s) => s.jobs.reap('default'));
  await step('claim the due retry', claimed('w1'));
  await step('fail to RETRY at once', (s) => s.jobs.fail('r1', tokenOf(s, 'r1'), 'again', { to: 'RETRY', delayMs: 0 }));
  await step('claim it', claimed('w1'));
  await step('fail to FAILURE', (s) => s.jobs.fail('r1', tokenOf(s, 'r1'), 'bad input', { to: 'FAILURE' }));
  advance(5);
  await step('retry the failed', (s) => s.dead.retryFailed('r1'));
  await step('retry the dead', (s) => s.dead.retry('d1'));
  await step('claim both', claimed('w3', 2));
  await step('fail to DEAD', (s) => s.jobs.fail('d1', tokenOf(s, 'd1'), 'dead', { to: 'DEAD' }));
  await step('list dead', (s) => s.dead.list());
  await step('clean the tasks that are dead', (s) => s.dead.clean({ states: ['DEAD'], type: 'task', limit: 5 }));
  await step('purge dead', (s) => s.dead.purge());
  await step('counts', (s) => s.reads.countByState());
  expect(drifts).toEqual([]);
});

test('a prime count: chunks in PROGRESS and SUCCESS; a failed chunk fails its parent and ends the others', async () => {
  await step('flow', (s) =>
    s.jobs.enqueueFlow({
      parent: { id: 'p1', type: 'primes', params: { n: 30 } },
      children: [chunk('p1c0'), chunk('p1c1'), chunk('p1c2')],
    }),
  );
  await step('flow 2', (s) =>
    s.jobs.enqueueFlow({
      parent: { id: 'p2', type: 'primes', params: { n: 20 } },
      children: [chunk('p2c0'), chunk('p2c1')],
    }),
  );
  await step('claim 3', claimed('w1', 3));
  advance(5);
  await step('complete a chunk', (s) => s.jobs.complete('p1c0', tokenOf(s, 'p1c0'), 4));
  await step('complete another', (s) => s.jobs.complete('p1c1', tokenOf(s, 'p1c1'), 2));
  await step('the last chunk fails', (s) => s.jobs.fail('p1c2', tokenOf(s, 'p1c2'), 'broken', { to: 'FAILURE' }));
  await step('claim p2', claimed('w1', 2));
  await step('a forged result is refused', (s) => s.jobs.complete('p2c0', tokenOf(s, 'p2c0'), 11));
  await step('one that is no count too', (s) => s.jobs.complete('p2c0', tokenOf(s, 'p2c0'), 1e308));
  await step('complete p2 chunks', async (s) => {
    await s.jobs.complete('p2c0', tokenOf(s, 'p2c0'), 1);
    await s.jobs.complete('p2c1', tokenOf(s, 'p2c1'), 1);
  });
  await step('children', (s) => s.reads.children('p2'));
  await step('clean the failed count, its chunks with it', (s) => s.dead.clean({ states: ['FAILURE'], limit: 10 }));
  await step('clean the rest, one a call', (s) => s.dead.clean({ states: ['SUCCESS'], limit: 1 }));
  await step('counts', (s) => s.reads.countByState());
  expect(drifts).toEqual([]);
});

test('the CPU lists: chunks and cpu jobs apart from tasks, claimed by maxCpu, back in their lists by every way back', async () => {
  await step('flow', (s) =>
    s.jobs.enqueueFlow({
      parent: { id: 'p5', type: 'primes', params: { n: 40 } },
      children: [chunk('p5c0'), chunk('p5c1'), chunk('p5c2'), { ...chunk('p5c3'), priority: 2 }],
    }),
  );
  await step('enqueue', (s) =>
    s.jobs.enqueue([task('t1'), task('t2', { cpu: true }), task('t3', { cpu: true, delayMs: 100 }), task('t4')]),
  );
  await step('claim tasks, no thread free', claimedCpu(1, 0));
  await step('claim a task and two CPU jobs', claimedCpu(1, 2));
  await step('claim the rest of the CPU lists', claimedCpu(0, 10));
  advance(5);
  await step('a chunk to RETRY at once', (s) =>
    s.jobs.fail('p5c0', tokenOf(s, 'p5c0'), 'flaky', { to: 'RETRY', delayMs: 0 }),
  );
  await step('a chunk released', (s) => s.jobs.release('p5c3', tokenOf(s, 'p5c3')));
  await step('a cpu job to RETRY later', (s) =>
    s.jobs.fail('t2', tokenOf(s, 't2'), 'flaky', { to: 'RETRY', delayMs: 50 }),
  );
  advance(150);
  await step('no thread free: the due ones wait in the CPU lists', claimedCpu(5, 0));
  await step('claim them', claimedCpu(0, 2));
  advance(LEASE + 1);
  await step('reap', (s) => s.jobs.reap('default'));
  await step('a bot takes a CPU job when no other waits', async (s) => [
    await s.bots.register('b9', 'nine', 'h9'),
    await s.bots.claim('b9', 'default', LEASE),
  ]);
  await step('cancel the count', (s) => s.jobs.cancel('p5'));
  await step('depth', (s) => s.queues.depth('default'));
  await step('list PENDING', (s) => s.reads.list({ state: 'PENDING' }));
  expect(drifts).toEqual([]);
});

test('cancel: a waiting job, a held one, a prime count with waiting and held chunks', async () => {
  await step('enqueue', (s) => s.jobs.enqueue([task('c1'), task('c2'), task('c3', { delayMs: 500 })]));
  await step('flow', (s) =>
    s.jobs.enqueueFlow({
      parent: { id: 'p3', type: 'primes', params: { n: 30 } },
      children: [chunk('p3c0'), chunk('p3c1'), chunk('p3c2')],
    }),
  );
  await step('claim 3', claimed('w1', 3));
  await step('cancel the held', (s) => s.jobs.cancel('c1'));
  await step('cancel the delayed', (s) => s.jobs.cancel('c3'));
  await step('cancel a chunk: its parent', (s) => s.jobs.cancel('p3c1'));
  await step('cancel again', (s) => s.jobs.cancel('p3'));
  await step('complete the cancelled', (s) => s.jobs.complete('p3c0', tokenOf(s, 'p3c0'), 1));
  await step('claim the rest', claimed('w1', 5));
  await step('cancelled among', (s) => s.jobs.cancelledAmong(['c1', 'c2', 'p3c0']));
  expect(drifts).toEqual([]);
});

test('delays, priorities, a paused queue, an idempotency key, another queue', async () => {
  await step('enqueue', (s) =>
    s.jobs.enqueue([
      task('a5'),
      task('a1', { priority: 1 }),
      task('a9', { priority: 9, timeoutMs: 300 }),
      task('dl', { delayMs: 200, priority: 2 }),
    ]),
  );
  await step('submit with a key', (s) => s.jobs.submit(task('k1', { idempotencyKey: 'key-1', queue: 'other' })));
  await step('submit again', (s) => s.jobs.submit(task('k2', { idempotencyKey: 'key-1', queue: 'other' })));
  await step('the same key, another principal', (s) =>
    s.jobs.submit(task('k3', { idempotencyKey: 'key-1', principal: 'client:a', queue: 'other' })),
  );
  await step('the same key, the same principal', (s) =>
    s.jobs.submit(task('k4', { idempotencyKey: 'key-1', principal: 'client:a', queue: 'other' })),
  );
  await step('the key as the store keeps it', (s) => s.jobs.idempotentJob('client:a:key-1'));
  await step('declare a queue', (s) => s.queues.declare('declared'));
  await step('forget it', (s) => s.queues.remove('declared'));
  await step('forget a busy one', (s) => s.queues.remove('other'));
  await step('pause', (s) => s.queues.pause('default'));
  await step('claim paused', claimed('w1', 5));
  await step('resume', (s) => s.queues.resume('default'));
  advance(250);
  await step('claim 2', claimed('w1', 2));
  await step('claim the rest', claimed('w1', 5));
  await step('claim other', claimed('w1', 1, 'other'));
  await step('depth', (s) => s.queues.depth('default'));
  await step('list PENDING', (s) => s.reads.list({ state: 'PENDING' }));
  await step('list STARTED', (s) => s.reads.list({ state: 'STARTED', limit: 3 }));
  await step('list all', (s) => s.reads.list({}));
  await step('list by queue', (s) => s.reads.list({ queue: 'other' }));
  await step('list by type and state', (s) => s.reads.list({ type: 'task', state: 'STARTED', limit: 2 }));
  await step('list by type, none', (s) => s.reads.list({ type: 'sim' }));
  expect(drifts).toEqual([]);
});

test('debounce and throttle windows: made, replaced, due again, claimed, a new job; throttled, cancelled', async () => {
  const debounce = (ttlMs: number, maxWaitMs?: number) => ({ key: 'd', ttlMs, mode: 'debounce' as const, maxWaitMs });
  const throttle = { key: 't', ttlMs: 60_000, mode: 'throttle' as const };
  await step('debounce', (s) => s.jobs.submit(task('d1', { dedupe: debounce(100, 250) })));
  advance(60);
  await step('replace: other params, a priority, a timeout', (s) =>
    s.jobs.submit({ ...task('d2', { dedupe: debounce(100, 250), priority: 2, timeoutMs: 50 }), params: { a: 2 } }),
  );
  advance(120);
  await step('due: in its wait list', claimed('w1', 0));
  await step('replace a due one: capped', (s) =>
    s.jobs.submit({ ...task('d3', { dedupe: debounce(100, 250) }), params: { a: 3 } }),
  );
  advance(70);
  await step('claim it', claimed('w1', 1));
  await step('claimed: a new job', (s) => s.jobs.submit(task('d4', { dedupe: debounce(100), group: 'g' })));
  await step('in a group', (s) => s.jobs.submit(task('d5', { dedupe: debounce(100), group: 'g' })));
  await step('throttle', (s) => s.jobs.submit(task('t1', { dedupe: throttle })));
  await step('throttled', (s) => s.jobs.submit(task('t2', { dedupe: throttle })));
  await step('the other mode', (s) => s.jobs.submit(task('t3', { dedupe: { ...throttle, mode: 'debounce' } })));
  await step('cancel', (s) => s.jobs.cancel('t1'));
  await step('cancelled: a new job', (s) => s.jobs.submit(task('t4', { dedupe: throttle })));
  advance(150);
  await step('claim the rest', claimed('w1', 5));
  expect(drifts).toEqual([]);
});

test('groups and limits: turns, priority inside a group, a group at its limit, every way back, cancel', async () => {
  const g = (id: string, group: string, extra: Partial<NewJob> = {}) => task(id, { group, ...extra });
  await step('limits', (s) => s.groups.setLimits('default', { groupConcurrency: 2 }));
  await step('a group of its own', (s) => s.groups.setGroupLimit('default', 'b', { concurrency: 1 }));
  await step('enqueue', (s) =>
    s.jobs.enqueue([g('a1', 'a'), g('a2', 'a', { priority: 1 }), g('a3', 'a'), g('b1', 'b'), g('b2', 'b'), task('u1')]),
  );
  await step('enqueue a delayed one', (s) => s.jobs.enqueue([g('a4', 'a', { delayMs: 10 })]));
  await step('claim in turns, to the limits', claimed('w1', 10));
  advance(5);
  await step('complete a2', (s) => s.jobs.complete('a2', tokenOf(s, 'a2'), 3));
  await step('fail b1 to RETRY at once', (s) =>
    s.jobs.fail('b1', tokenOf(s, 'b1'), 'boom', { to: 'RETRY', delayMs: 0 }),
  );
  advance(20);
  await step('claim again: the due one, b1 at its head', claimed('w1', 10));
  await step('release a1', (s) => s.jobs.release('a1', tokenOf(s, 'a1')));
  await step('cancel a waiting one', (s) => s.jobs.cancel('b2'));
  advance(LEASE + 1);
  await step('reap', (s) => s.jobs.reap('default'));
  await step('claim what is back', claimed('w2', 10));
  await step('the busiest', (s) => s.groups.busiest('default', 5));
  await step('held back', (s) => s.groups.heldBack('default'));
  expect(drifts).toEqual([]);
});

test('bots: claim, start, complete, fail, down, removed while holding', async () => {
  await step('register', async (s) => [
    await s.bots.register('b1', 'one', 'h1'),
    await s.bots.register('b2', 'two', 'h2'),
  ]);
  await step('enqueue', (s) => s.jobs.enqueue([task('x1'), task('x2'), task('x3'), task('x4')]));
  await step('b1 claims', (s) => s.bots.claim('b1', 'default', LEASE));
  await step('b1 starts', (s) => s.bots.startJob('b1', 'x1'));
  advance(5);
  await step('b1 completes', (s) => s.bots.completeJob('b1', 'x1', 7));
  await step('b1 claims again', (s) => s.bots.claim('b1', 'default', LEASE));
  await step('b1 fails', (s) => s.bots.failJob('b1', 'x2', 'nope', { to: 'RETRY', delayMs: 0 }));
  await step('b2 claims', (s) => s.bots.claim('b2', 'default', LEASE));
  await step('b1 claims a third', (s) => s.bots.claim('b1', 'default', LEASE));
  await step('b1 heartbeat', (s) => s.bots.heartbeat('b1', LEASE));
  advance(600);
  await step('b1 heartbeat later', (s) => s.bots.heartbeat('b1', LEASE));
  advance(600);
  await step('b2 is down', (s) => s.bots.markDown(1000));
  await step('b1 removed while holding', (s) => s.bots.remove('b1'));
  await step('bots', (s) => s.bots.list());
  expect(drifts).toEqual([]);
});

test("a worker's acks with its next claim, a scheduled batch, a batch made once, a dead chunk retried", async () => {
  await step('enqueue', (s) => s.jobs.enqueue([task('w1'), task('w2'), task('w3')]));
  await step('claim', claimed('w1', 1));
  await step('complete and claim', async (s) => {
    const r = await s.jobs.completeAndClaim([{ jobId: 'w1', token: tokenOf(s, 'w1'), result: 2 }], 'default', {
      consumer: 'w1',
      max: 2,
      leaseMs: LEASE,
    });
    for (const c of r.claim.jobs) tokens.get(s)!.set(c.job.id, c.token);
    return r;
  });
  await step('scheduled', (s) =>
    s.schedules.enqueue('nightly', '2026-01-01T00:00:00.000Z', 'once-1', 60_000, [
      task('s1'),
      task('s2', { priority: 3 }),
    ]),
  );
  await step('scheduled again', (s) =>
    s.schedules.enqueue('nightly', '2026-01-01T00:00:00.000Z', 'once-1', 60_000, [task('s3')]),
  );
  await step('once', (s) => s.schedules.enqueueOnce('once-2', 60_000, [task('o1')]));
  await step('flow', (s) =>
    s.jobs.enqueueFlow({
      parent: { id: 'p4', type: 'primes', params: { n: 30 } },
      children: [{ ...chunk('p4c0'), maxAttempts: 1 }, chunk('p4c1')],
    }),
  );
  await step('claim', claimed('w2', 10));
  advance(LEASE + 1);
  await step('reap: the chunk of one attempt is DEAD', (s) => s.jobs.reap('default'));
  await step('retry the dead chunk', (s) => s.dead.retry('p4c0'));
  await step('claim it', claimed('w3', 10));
  expect(drifts).toEqual([]);
});

test('a move TRANSITIONS does not list fails the script before it writes; checkTransition, which the memory adapter calls, refuses it too', async () => {
  await step('enqueue', (s) => s.jobs.enqueue([task('z1')]));
  await step('claim', claimed('w1'));
  // a held job made SUCCESS behind the adapters' back: completing it again would be SUCCESS -> SUCCESS
  const client = createClient({ url: testRedisUrl() });
  await client.connect();
  const jobKey = keysAt(keyBase(twins.redis.options.prefix)).job('z1');
  await client.hSet(jobKey, 'state', 'SUCCESS');
  const before = await client.hGetAll(jobKey);
  await expect(twins.redis.jobs.complete('z1', tokenOf(twins.redis, 'z1'), 1)).rejects.toThrow(
    /no transition SUCCESS -> SUCCESS/,
  );
  expect(await client.hGetAll(jobKey)).toEqual(before);
  await client.quit();
  expect(() => checkTransition('SUCCESS', 'SUCCESS')).toThrow('no transition SUCCESS -> SUCCESS');
  expect(() => checkTransition('CANCELLED', 'PENDING')).toThrow('no transition CANCELLED -> PENDING');
  expect(() => checkTransition('FAILURE', 'PENDING')).not.toThrow();
});
