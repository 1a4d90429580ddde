/**
 * The store contract for schedules (issue 18): kept by name, listed, replaced only when asked,
 * removed; a schedule's occurrence is enqueued once per once-key and its jobs carry the schedule
 * and the slot, in the answer and in the record; a prime count's occurrence (a flow) is made once
 * per once-key too, and its chunks' results make its count. Both adapters.
 */
import { batchJobs } from '../../src/core/batch';
import { primeCountFlow } from '../../src/core/chunks';
import type { NewJob } from '../../src/core/job';
import { Schedule } from '../../src/core/schedule';
import type { Store } from '../../src/store/types';
import { ADAPTERS, makeStore } from '../helpers/stores';

const schedule = (name: string, over: Partial<Schedule> = {}): Schedule => ({
  name,
  type: 'sim',
  params: { duration_ms: 10, failure_rate: 0 },
  everyMs: 60_000,
  cron: null,
  tz: null,
  size: 1,
  queue: 'bots',
  builtin: false,
  createdAt: 1_700_000_000_000,
  ...over,
});
const sim: NewJob = { type: 'sim', queue: 'bots', params: { duration_ms: 10, failure_rate: 0 } };

describe.each(ADAPTERS)('schedules contract: %s', (adapter) => {
  let store: Store;
  beforeEach(async () => {
    store = await makeStore(adapter, 'schedules-contract');
  });
  afterEach(async () => {
    await store.close();
  });

  test('schedules are kept by name, listed by name, not replaced unless asked, removed once', async () => {
    expect(await store.schedules.list()).toEqual([]);
    const b = schedule('b', { cron: '*/2 * * * * *', everyMs: null, tz: 'Europe/Paris' });
    expect(await store.schedules.save(b)).toBe(true);
    expect(await store.schedules.save(schedule('a'))).toBe(true);
    expect(await store.schedules.save(schedule('a', { size: 9 }))).toBe(false);
    expect(await store.schedules.list()).toEqual([schedule('a'), b]);
    expect(await store.schedules.save(schedule('a', { size: 9 }), true)).toBe(true);
    expect((await store.schedules.list()).map((s) => [s.name, s.size])).toEqual([
      ['a', 9],
      ['b', 1],
    ]);
    expect(await store.schedules.remove('a')).toBe(true);
    expect(await store.schedules.remove('a')).toBe(false);
    expect(await store.schedules.list()).toEqual([b]);
  });

  test("an occurrence is made once per once-key, and its jobs carry the schedule's name and slot", async () => {
    const slot = '2026-03-10T12:00:00.000Z';
    const made = await store.schedules.enqueue('nightly', slot, 'schedule:nightly:1', 60_000, [sim, sim]);
    expect(made).toHaveLength(2);
    expect(made!.map((j) => [j.schedule, j.slot, j.state])).toEqual([
      ['nightly', slot, 'PENDING'],
      ['nightly', slot, 'PENDING'],
    ]);
    expect(await store.schedules.enqueue('nightly', slot, 'schedule:nightly:1', 60_000, [sim, sim])).toBeNull();
    for (const j of made!)
      expect(await store.reads.job(j.id)).toMatchObject({
        id: j.id,
        schedule: 'nightly',
        slot,
        type: 'sim',
        queue: 'bots',
      });
    const next = await store.schedules.enqueue('nightly', '2026-03-11T12:00:00.000Z', 'schedule:nightly:2', 60_000, [
      sim,
    ]);
    expect(next).toHaveLength(1);
    expect((await store.reads.list({ limit: 10 })).total).toBe(3);
    // a job made otherwise has no schedule
    const [plain] = await store.jobs.enqueue([sim]);
    const read = await store.reads.job(plain.id);
    expect(read!.schedule ?? null).toBeNull();
  });

  test("a module's type: the attempts and timeout a schedule kept reach its jobs where the type is not known (a scheduler without the module)", async () => {
    const s = schedule('reports', {
      type: 'report',
      params: { to: 'ops' },
      queue: 'default',
      maxAttempts: 7,
      timeoutMs: 45_000,
    });
    expect(await store.schedules.save(s)).toBe(true);
    const [kept] = await store.schedules.list();
    expect(kept).toEqual(s);
    const slot = '2026-03-10T12:00:00.000Z';
    const made = await store.schedules.enqueue(
      'reports',
      slot,
      'schedule:reports:1',
      60_000,
      batchJobs(kept, slot, 'scheduler-1'),
    );
    expect(made).toHaveLength(1);
    expect(await store.reads.job(made![0].id)).toMatchObject({
      type: 'report',
      params: { to: 'ops', batch: slot },
      maxAttempts: 7,
      timeoutMs: 45_000,
      schedule: 'reports',
      slot,
    });
    // a schedule without them (a batch type, or one kept before they were): the type's as this process knows it
    const [plain] = (await store.schedules.enqueue(
      'other',
      slot,
      'schedule:other:1',
      60_000,
      batchJobs(schedule('other'), slot, 'scheduler-1'),
    ))!;
    expect(await store.reads.job(plain.id)).toMatchObject({ type: 'sim', maxAttempts: 3 });
    expect((await store.reads.job(plain.id))!.timeoutMs ?? null).toBeNull();
  });

  test("a module's cpu type: a schedule keeps it, so its jobs wait in the CPU lists where the type is not known (a scheduler without the module)", async () => {
    const s = schedule('renders', { type: 'render', params: {}, queue: 'default', maxAttempts: 2, cpu: true });
    expect(await store.schedules.save(s)).toBe(true);
    const [kept] = await store.schedules.list();
    expect(kept).toEqual(s);
    const slot = '2026-03-10T12:00:00.000Z';
    const [job] = (await store.schedules.enqueue(
      'renders',
      slot,
      'schedule:renders:1',
      60_000,
      batchJobs(kept, slot, 'scheduler-1'),
    ))!;
    expect(await store.jobs.claim('default', { consumer: 'w1', max: 5, maxCpu: 0, leaseMs: 60_000 })).toMatchObject({
      jobs: [],
    });
    const {
      jobs: [held],
    } = await store.jobs.claim('default', { consumer: 'w1', max: 5, maxCpu: 1, leaseMs: 60_000 });
    expect(held.job).toMatchObject({ id: job.id, type: 'render', maxAttempts: 2 });
  });

  test("a prime count's occurrence is made once per once-key: one parent, its chunks, the schedule and slot on its record, its count from its chunks", async () => {
    const slot = '2026-03-10T12:00:00.000Z';
    const flow = () => primeCountFlow(20, 2, { initiatedBy: 'sched-1' }, { queue: 'default' });
    const made = await store.schedules.enqueue('counts', slot, 'schedule:counts:1', 60_000, flow());
    expect(made!.map((j) => [j.type, j.schedule, j.slot])).toEqual([
      ['primes', 'counts', slot],
      ['primes_chunk', 'counts', slot],
      ['primes_chunk', 'counts', slot],
    ]);
    expect(await store.schedules.enqueue('counts', slot, 'schedule:counts:1', 60_000, flow())).toBeNull();
    const [parent] = made!;
    const listed = await store.reads.list({ limit: 10 });
    expect([listed.total, listed.jobs.map((j) => j.id)]).toEqual([1, [parent.id]]); // the chunks are not top-level jobs
    expect(await store.reads.job(parent.id)).toMatchObject({
      type: 'primes',
      schedule: 'counts',
      slot,
      params: { n: 20, chunks: 2 },
      initiatedBy: 'sched-1',
    });
    const { jobs: held } = await store.jobs.claim('default', { consumer: 'w1', max: 5, leaseMs: 60_000 });
    expect(held.map((c) => c.job.params)).toEqual([
      { lo: 1, hi: 10, index: 0 },
      { lo: 11, hi: 20, index: 1 },
    ]);
    await store.jobs.complete(held[0].job.id, held[0].token, 4); // 2 3 5 7
    await store.jobs.complete(held[1].job.id, held[1].token, 4); // 11 13 17 19
    expect(await store.reads.job(parent.id)).toMatchObject({
      state: 'SUCCESS',
      result: { prime_count: 8 },
      schedule: 'counts',
      slot,
    });
    expect(await store.jobs.claim('default', { consumer: 'w1', max: 5, leaseMs: 60_000 })).toMatchObject({ jobs: [] });
  });
});
