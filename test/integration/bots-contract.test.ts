/**
 * The store contract for seed 004 (bots, batches, leadership, the datalake): every test runs
 * against the Redis adapter (a real redis-server) and the in-memory adapter.
 */
import { ConflictError, LeaseLostError, NotFoundError, UnknownBotError } from '../../src/core/errors';
import type { NewJob } from '../../src/core/job';
import type { Store } from '../../src/store/types';
import { ADAPTERS, makeStore, manualClock } from '../helpers/stores';

const sim = (queue = 'bots'): NewJob => ({
  type: 'sim',
  queue,
  params: { duration_ms: 10, failure_rate: 0 },
  initiatedBy: 'scheduler-1',
});
const LEASE = 1000;
const DAY = 86_400_000;

describe.each(ADAPTERS)('bots contract: %s', (adapter) => {
  let store: Store;
  let clock: ReturnType<typeof manualClock>;
  const register = (id: string) => store.bots.register(id, `name-${id}`, `hash-${id}`);
  const lake = (day: string) => store.lake.read(day, 0, 1000);

  beforeEach(async () => {
    clock = manualClock(Date.parse('2026-03-10T12:00:00.000Z'));
    store = await makeStore(adapter, 'bots-contract', { now: clock.now, resultTtlMs: 60_000 });
  });
  afterEach(async () => {
    await store.close();
  });

  describe('bots', () => {
    test('a registered bot is up, found by its token hash, listed oldest first', async () => {
      const a = await register('a');
      clock.advance(5);
      await register('b');
      expect(a).toEqual({
        id: 'a',
        name: 'name-a',
        status: 'up',
        registeredAt: clock.now() - 5,
        lastHeartbeat: clock.now() - 5,
        downAt: null,
        currentJob: null,
        jobsDone: 0,
        jobsFailed: 0,
      });
      expect(await store.bots.idForToken('hash-b')).toBe('b');
      expect(await store.bots.idForToken('hash-zzz')).toBeNull();
      expect((await store.bots.list()).map((b) => b.id)).toEqual(['a', 'b']);
      expect(await store.bots.get('a')).toEqual(a);
      expect(await store.bots.get('nope')).toBeNull();
    });

    test('a bot claims one job at a time, under its own id; an unknown bot is refused', async () => {
      const [j1, j2] = await store.jobs.enqueue([sim(), sim()]);
      await register('a');
      const got = await store.bots.claim('a', 'bots', LEASE);
      expect(got).toMatchObject({ id: j1.id, state: 'STARTED', handledBy: 'a', attempts: 1 });
      expect((await store.bots.get('a'))!.currentJob).toBe(j1.id);
      await expect(store.bots.claim('a', 'bots', LEASE)).rejects.toThrow(
        new ConflictError(`bot a already holds job ${j1.id}: finish it first`),
      );
      await expect(store.bots.claim('ghost', 'bots', LEASE)).rejects.toBeInstanceOf(UnknownBotError);
      await register('b');
      expect((await store.bots.claim('b', 'bots', LEASE))!.id).toBe(j2.id);
      await register('c');
      expect(await store.bots.claim('c', 'bots', LEASE)).toBeNull();
      expect(await store.queues.depth('bots')).toEqual({ waiting: 0, active: 2, delayed: 0 });
    });

    test('only the holding bot starts, completes or fails its job; the outcome is counted', async () => {
      const [j1, j2] = await store.jobs.enqueue([sim(), sim()]);
      await register('a');
      await register('b');
      await store.bots.claim('a', 'bots', LEASE);
      await expect(store.bots.startJob('b', j1.id)).rejects.toThrow(
        new ConflictError(`job ${j1.id} is not held by bot b`),
      );
      await expect(store.bots.completeJob('b', j1.id, 1)).rejects.toBeInstanceOf(ConflictError);
      await expect(store.bots.startJob('a', 'no-such-job')).rejects.toBeInstanceOf(NotFoundError);
      clock.advance(10);
      await store.bots.startJob('a', j1.id);
      await store.bots.startJob('a', j1.id); // a retried request changes nothing
      expect(await store.reads.job(j1.id)).toMatchObject({ state: 'PROGRESS', startedAt: clock.now() });
      clock.advance(200);
      await store.bots.completeJob('a', j1.id, { ok: true });
      expect(await store.reads.job(j1.id)).toMatchObject({ state: 'SUCCESS', result: { ok: true }, handledBy: 'a' });
      await expect(store.bots.completeJob('a', j1.id, 2)).rejects.toBeInstanceOf(ConflictError);
      expect(await store.bots.get('a')).toMatchObject({ currentJob: null, jobsDone: 1, jobsFailed: 0 });

      expect((await store.bots.claim('a', 'bots', LEASE))!.id).toBe(j2.id);
      await store.bots.failJob('a', j2.id, 'simulated failure', { to: 'FAILURE' });
      expect(await store.reads.job(j2.id)).toMatchObject({ state: 'FAILURE', error: 'simulated failure' });
      expect(await store.bots.get('a')).toMatchObject({ currentJob: null, jobsDone: 1, jobsFailed: 1 });
    });

    test('a failed attempt with attempts left goes back to the queue for any bot', async () => {
      const [job] = await store.jobs.enqueue([sim()]);
      await register('a');
      await register('b');
      await store.bots.claim('a', 'bots', LEASE);
      await store.bots.failJob('a', job.id, 'flaky', { to: 'RETRY', delayMs: 0 });
      expect(await store.reads.job(job.id)).toMatchObject({ state: 'RETRY', error: 'flaky' });
      expect(await store.bots.claim('b', 'bots', LEASE)).toMatchObject({ id: job.id, attempts: 2, handledBy: 'b' });
    });

    test("heartbeats keep a bot's job leased; without them the lease lapses", async () => {
      const [job] = await store.jobs.enqueue([sim()]);
      await register('a');
      await store.bots.claim('a', 'bots', LEASE);
      for (let i = 0; i < 4; i++) {
        clock.advance(LEASE / 2);
        expect(await store.bots.heartbeat('a', LEASE)).toMatchObject({
          status: 'up',
          currentJob: job.id,
          lastHeartbeat: clock.now(),
        });
        expect((await store.jobs.reap('bots')).requeued).toEqual([]);
      }
      clock.advance(LEASE + 1);
      expect((await store.jobs.reap('bots')).requeued).toEqual([job.id]);
      // the bot hears of it on its next heartbeat: it holds nothing any more
      expect(await store.bots.heartbeat('a', LEASE)).toMatchObject({ currentJob: null });
      expect(await store.bots.heartbeat('ghost', LEASE)).toBeNull();
    });

    test('a silent bot is marked down and its job goes back to the head of the queue, in one step', async () => {
      const [held, waiting] = await store.jobs.enqueue([sim(), sim()]);
      await register('a');
      await register('b');
      await store.bots.claim('a', 'bots', 10 * LEASE);
      await store.bots.startJob('a', held.id);
      clock.advance(LEASE);
      await store.bots.heartbeat('b', 10 * LEASE);
      expect(await store.bots.markDown(LEASE + 1)).toEqual({ down: [], reclaimed: [] });
      clock.advance(1);
      expect(await store.bots.markDown(LEASE)).toEqual({ down: ['a'], reclaimed: [held.id] });
      expect(await store.bots.get('a')).toMatchObject({ status: 'down', downAt: clock.now(), currentJob: null });
      expect(await store.bots.get('b')).toMatchObject({ status: 'up' });
      const back = await store.reads.job(held.id);
      expect(back).toMatchObject({
        state: 'RETRY',
        error: 'bot down: no heartbeat for 1001 ms (held by a, attempt 1 of 3)',
      });
      expect((await store.bots.claim('b', 'bots', LEASE))!.id).toBe(held.id);
      await expect(store.bots.completeJob('a', held.id, 1)).rejects.toBeInstanceOf(ConflictError);
      expect(await store.bots.markDown(LEASE)).toEqual({ down: [], reclaimed: [] });
      expect(await store.bots.heartbeat('a', LEASE)).toMatchObject({ status: 'up', downAt: null, currentJob: null });
      expect((await store.bots.claim('a', 'bots', LEASE))!.id).toBe(waiting.id);
    });

    test("bots silent through a gap in the scheduler's looks (no one reached the store) get downAfter more to be heard", async () => {
      const [job] = await store.jobs.enqueue([sim(), sim()]);
      await register('a');
      await register('b');
      await store.bots.claim('a', 'bots', LEASE);
      expect(await store.bots.markDown(LEASE)).toEqual({ down: [], reclaimed: [] }); // a look
      clock.advance(5 * LEASE); // nobody looks, no heartbeat lands
      expect(await store.bots.markDown(LEASE)).toEqual({ down: [], reclaimed: [] });
      await store.bots.heartbeat('a', LEASE); // a is back in time; b never comes back
      const down: string[][] = [];
      for (let i = 0; i < 6; i++) {
        clock.advance(LEASE / 4);
        await store.bots.heartbeat('a', LEASE);
        const r = await store.bots.markDown(LEASE);
        if (r.down.length) down.push(r.down);
      }
      expect(down).toEqual([['b']]);
      expect(await store.bots.get('a')).toMatchObject({ status: 'up', currentJob: job.id });
      expect(await store.reads.job(job.id)).toMatchObject({ state: 'STARTED', attempts: 1 });
    });

    test('a down bot whose job used its last attempt sends the job DEAD', async () => {
      const [job] = await store.jobs.enqueue([{ ...sim(), maxAttempts: 1 }]);
      await register('a');
      await store.bots.claim('a', 'bots', LEASE);
      clock.advance(LEASE);
      expect(await store.bots.markDown(LEASE)).toEqual({ down: ['a'], reclaimed: [job.id] });
      expect(await store.reads.job(job.id)).toMatchObject({ state: 'DEAD' });
    });

    test('removing a bot releases its job (the attempt not counted) and forgets its token', async () => {
      const [job] = await store.jobs.enqueue([sim()]);
      await register('a');
      await store.bots.claim('a', 'bots', LEASE);
      expect(await store.bots.remove('a')).toBe(true);
      expect(await store.bots.remove('a')).toBe(false);
      expect(await store.reads.job(job.id)).toMatchObject({ state: 'PENDING', attempts: 0, handledBy: null });
      expect(await store.bots.idForToken('hash-a')).toBeNull();
      expect(await store.bots.list()).toEqual([]);
      await expect(store.bots.completeJob('a', job.id, 1)).rejects.toBeInstanceOf(UnknownBotError);
      expect(await store.queues.depth('bots')).toEqual({ waiting: 1, active: 0, delayed: 0 });
    });
  });

  describe('batches and leadership', () => {
    test('enqueueOnce makes a batch once per key; the queues are known', async () => {
      const first = await store.schedules.enqueueOnce('batch:1000:7', 5000, [sim(), sim(), sim()]);
      expect(first).toHaveLength(3);
      expect(await store.schedules.enqueueOnce('batch:1000:7', 5000, [sim(), sim(), sim()])).toBeNull();
      expect(await store.schedules.enqueueOnce('batch:1000:8', 5000, [sim()])).toHaveLength(1);
      expect((await store.queues.depth('bots')).waiting).toBe(4);
      await store.jobs.enqueue([{ type: 'task', params: { a: 1, b: 2, op: 'add' } }]);
      expect(await store.queues.known()).toEqual(['bots', 'default']);
    });

    test('racing enqueueOnce calls on one key make one batch', async () => {
      const results = await Promise.all(
        Array.from({ length: 8 }, () => store.schedules.enqueueOnce('batch:race', 5000, [sim(), sim()])),
      );
      expect(results.filter((r) => r !== null)).toHaveLength(1);
      expect((await store.queues.depth('bots')).waiting).toBe(2);
    });

    test('holdLock: one holder, renewed only by it, free again when released or lapsed', async () => {
      expect(await store.nodes.holdLock('scheduler', 'a', 200)).toBe(true);
      expect(await store.nodes.holdLock('scheduler', 'b', 200)).toBe(false);
      expect(await store.nodes.holdLock('scheduler', 'a', 200)).toBe(true);
      await store.nodes.releaseLock('scheduler', 'b'); // not b's: nothing happens
      expect(await store.nodes.holdLock('scheduler', 'b', 200)).toBe(false);
      await store.nodes.releaseLock('scheduler', 'a');
      expect(await store.nodes.holdLock('scheduler', 'b', 200)).toBe(true);
      await new Promise((r) => setTimeout(r, 250));
      clock.advance(250);
      expect(await store.nodes.holdLock('scheduler', 'a', 200)).toBe(true);
    });

    test('finishedSince counts the jobs that reached each final state since a time', async () => {
      const [a, b, c] = await store.jobs.enqueue([sim(), sim(), { ...sim(), maxAttempts: 1 }]);
      const take = async () => (await store.jobs.claim('bots', { consumer: 'w', max: 1, leaseMs: LEASE })).jobs[0];
      await store.jobs.complete(a.id, (await take()).token, 1);
      clock.advance(100);
      const since = clock.now();
      await store.jobs.fail(b.id, (await take()).token, 'x', { to: 'FAILURE' });
      await store.jobs.fail(c.id, (await take()).token, 'x', { to: 'DEAD' });
      expect(await store.reads.finishedSince(since)).toEqual({
        SUCCESS: 0,
        FAILURE: 1,
        DEAD: 1,
        CANCELLED: 0,
        SKIPPED: 0,
      });
      expect(await store.reads.finishedSince(0)).toEqual({ SUCCESS: 1, FAILURE: 1, DEAD: 1, CANCELLED: 0, SKIPPED: 0 });
    });
  });

  describe('the datalake', () => {
    const take = async (queue = 'bots') =>
      (await store.jobs.claim(queue, { consumer: 'w', max: 1, leaseMs: LEASE })).jobs[0];

    test('each finished job is appended once, success or failure, with its record', async () => {
      const [ok, bad, dead] = await store.jobs.enqueue([sim(), sim(), { ...sim(), maxAttempts: 1 }]);
      const created = clock.now();
      clock.advance(100);
      const c1 = await take();
      clock.advance(250);
      await store.jobs.complete(ok.id, c1.token, { ok: true, duration_ms: 250 });
      await expect(store.jobs.complete(ok.id, c1.token, 1)).rejects.toBeInstanceOf(LeaseLostError);
      await store.jobs.fail(bad.id, (await take()).token, 'simulated failure', { to: 'FAILURE' });
      await take();
      clock.advance(LEASE);
      await store.jobs.reap('bots');
      const records = await lake('2026-03-10');
      expect(records).toEqual([
        {
          job_id: ok.id,
          type: 'sim',
          queue: 'bots',
          status: 'SUCCESS',
          result: { ok: true, duration_ms: 250 },
          error: null,
          attempts: 1,
          initiated_by: 'scheduler-1',
          handled_by: 'w',
          created_at: new Date(created).toISOString(),
          started_at: new Date(created + 100).toISOString(),
          finished_at: new Date(created + 350).toISOString(),
          duration_ms: 250,
        },
        expect.objectContaining({
          job_id: bad.id,
          status: 'FAILURE',
          result: null,
          error: 'simulated failure',
          duration_ms: 0,
        }),
        expect.objectContaining({
          job_id: dead.id,
          status: 'DEAD',
          error: expect.stringMatching(/^lease expired/),
          duration_ms: LEASE,
        }),
      ]);
      expect(await store.lake.days()).toEqual([
        { date: '2026-03-10', total: 3, success: 1, failure: 2, durationMsSum: 250 + 0 + LEASE, durationCount: 3 },
      ]);
      expect((await store.lake.read('2026-03-10', 1, 5)).map((r) => r.job_id)).toEqual([bad.id, dead.id]);
      expect(await store.lake.read('2026-03-11', 0, 5)).toEqual([]);
    });

    test('a record made from the claimed job (a worker completing) is the one the store makes itself', async () => {
      const [a, b, c] = await store.jobs.enqueue([sim(), sim(), sim()]);
      clock.advance(100);
      const [ca, cb] = [await take(), await take()];
      clock.advance(250);
      await store.jobs.complete(a.id, ca.token, { ok: true, note: 'quote " and \\ back' }, ca.job);
      await store.jobs.complete(b.id, cb.token, { ok: true, note: 'quote " and \\ back' });
      const [ra, rb] = await lake('2026-03-10');
      expect({ ...ra, job_id: b.id }).toEqual(rb);
      expect(ra).toMatchObject({ job_id: a.id, status: 'SUCCESS', handled_by: 'w', duration_ms: 250 });
      // the setting still decides: a type it does not list is not recorded, hint or not
      await store.lake.configure({ records: 'task' });
      const cc = await take();
      await store.jobs.complete(c.id, cc.token, 1, cc.job);
      expect(await store.lake.days()).toEqual([
        { date: '2026-03-10', total: 2, success: 2, failure: 0, durationMsSum: 500, durationCount: 2 },
      ]);
    });

    test("a record holds the finish's own result or error: a job that failed once, then succeeded, has none", async () => {
      const [job] = await store.jobs.enqueue([sim()]);
      await store.jobs.fail(job.id, (await take()).token, 'flaky', { to: 'RETRY', delayMs: 0 });
      await store.jobs.complete(job.id, (await take()).token, 7);
      const done = (await store.reads.job(job.id))!;
      // the success's record shows no error: the failed attempt's is in its attempts log
      expect(done).toMatchObject({ state: 'SUCCESS', error: null, attempts: 2 });
      expect(done.attemptsLog!.map((a) => [a.attempt, a.state, a.error])).toEqual([
        [1, 'RETRY', 'flaky'],
        [2, 'SUCCESS', null],
      ]);
      expect(await lake('2026-03-10')).toEqual([
        expect.objectContaining({ job_id: job.id, status: 'SUCCESS', result: 7, error: null, attempts: 2 }),
      ]);
    });

    test('a prime-count job is recorded, its chunks never', async () => {
      const { parent } = await store.jobs.enqueueFlow({
        parent: { type: 'primes', params: { n: 20, chunks: 2 } },
        children: [
          { type: 'primes_chunk', params: { lo: 1, hi: 10 } },
          { type: 'primes_chunk', params: { lo: 11, hi: 20 } },
        ],
      });
      const { jobs } = await store.jobs.claim('default', { consumer: 'w', max: 2, leaseMs: LEASE });
      await store.jobs.complete(jobs[0].job.id, jobs[0].token, 4);
      await store.jobs.complete(jobs[1].job.id, jobs[1].token, 4);
      expect((await lake('2026-03-10')).map((r) => [r.job_id, r.type, r.queue, r.result])).toEqual([
        [parent.id, 'primes', null, { prime_count: 8, duration_sec: 0 }],
      ]);
    });

    test('what it records is a cluster-wide setting: none, or a list of types', async () => {
      expect(await store.lake.config()).toEqual({ records: 'all', retentionDays: 30 });
      await store.lake.configure({ records: 'none' });
      const [unrecorded] = await store.jobs.enqueue([sim()]);
      await store.jobs.complete(unrecorded.id, (await take()).token, 1);
      expect(await store.lake.days()).toEqual([]);
      await store.lake.configure({ records: 'task', retentionDays: 7 });
      expect(await store.lake.config()).toEqual({ records: 'task', retentionDays: 7 });
      const [s, t] = await store.jobs.enqueue([
        sim('q'),
        { type: 'task', queue: 'q', params: { a: 1, b: 2, op: 'add' } },
      ]);
      await store.jobs.complete(s.id, (await take('q')).token, 1);
      await store.jobs.complete(t.id, (await take('q')).token, 3);
      expect((await lake('2026-03-10')).map((r) => r.job_id)).toEqual([t.id]);
    });

    test('days are UTC days, split at midnight whatever the calendar', async () => {
      for (const at of [
        '2024-02-29T23:59:59.999Z',
        '2024-03-01T00:00:00.000Z',
        '1999-12-31T23:59:59.999Z',
        '2100-02-28T12:34:56.789Z',
        '2000-02-29T00:00:00.001Z',
      ]) {
        clock.advance(Date.parse(at) - clock.now());
        const [job] = await store.jobs.enqueue([sim()]);
        await store.jobs.complete(job.id, (await take()).token, 1);
        const [record] = await lake(at.slice(0, 10));
        expect(record).toMatchObject({
          job_id: job.id,
          created_at: at,
          started_at: at,
          finished_at: at,
          duration_ms: 0,
        });
      }
      expect((await store.lake.days()).map((d) => d.date)).toEqual([
        '1999-12-31',
        '2000-02-29',
        '2024-02-29',
        '2024-03-01',
        '2100-02-28',
      ]);
    });

    test('pruning drops the days older than the retention', async () => {
      await store.lake.configure({ retentionDays: 2 });
      const start = Date.parse('2026-03-01T10:00:00.000Z');
      for (let d = 0; d < 5; d++) {
        clock.advance(start + d * DAY - clock.now());
        const [job] = await store.jobs.enqueue([sim()]);
        await store.jobs.complete(job.id, (await take()).token, 1);
      }
      expect(await store.lake.prune()).toEqual(['2026-03-01', '2026-03-02']);
      expect((await store.lake.days()).map((d) => d.date)).toEqual(['2026-03-03', '2026-03-04', '2026-03-05']);
      expect(await store.lake.read('2026-03-01', 0, 10)).toEqual([]);
      expect(await store.lake.prune()).toEqual([]);
    });
  });
});
