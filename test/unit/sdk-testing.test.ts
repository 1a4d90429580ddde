/**
 * wizard/testing's createTestStore, from the sources: a module's jobs (given as its table) and the
 * built-in ones run in-process by drain(), with the type's retry policy, a permanent error failing
 * at once, delays and backoffs passed by moving the store's clock, a bot-only type left queued,
 * and bad params or options refused as POST /jobs refuses them. The packed package's
 * `wizard/testing` in a user's jest run is test/e2e/package.test.ts.
 */
import { defineJobs } from '../../src/index';
import { createTestStore, TestStore } from '../../src/testing';
import { ValidationError } from '../../src/sdk/errors';

const jobs = defineJobs({
  resize: {
    params: { type: 'object', required: ['width'], properties: { width: { type: 'integer' } } },
    run(p: { width: number }, ctx) {
      ctx.progress(0.5);
      return { area: p.width * 2 };
    },
  },
  flaky: {
    attempts: 3,
    backoff_ms: 3_600_000,
    run(_p: Record<string, never>, ctx) {
      if (ctx.attempt < 3) throw new Error(`attempt ${ctx.attempt} failed`);
      return ctx.attempt;
    },
  },
  refuse: {
    run() {
      throw Object.assign(new Error('never'), { permanent: true });
    },
  },
  upload: { params: { type: 'object' }, queue: 'uploads' },
});

let store: TestStore<typeof jobs>;
beforeEach(async () => {
  store = await createTestStore(jobs);
});
afterEach(() => store.close());

test('drain runs each job, retries by the type policy through its backoff, and fails a permanent error at once', async () => {
  const resize = await store.add('resize', { width: 3 });
  const flaky = await store.add('flaky', {});
  const refuse = await store.add('refuse', {});
  const task = await store.add('task', { a: 6, b: 7, op: 'mul' }, { delay_ms: 600_000 });
  const primes = await store.add('primes', { n: 100_000, chunks: 3 });
  const upload = await store.add('upload', {});

  expect(await store.drain()).toEqual({ ran: 1 + 3 + 1 + 1 + 3, succeeded: 1 + 1 + 1 + 3, failed: 2 + 1 });
  expect((await store.get(resize.job_id)).result).toEqual({ area: 6 });
  const f = await store.get(flaky.job_id);
  expect([f.state, f.attempts, f.result]).toEqual(['SUCCESS', 3, 3]);
  const r = await store.get(refuse.job_id);
  expect([r.state, r.attempts, r.error]).toEqual(['FAILURE', 1, 'never']);
  expect((await store.get(task.job_id)).result).toBe(42);
  expect((await store.get(primes.job_id)).result).toMatchObject({ prime_count: 9592 });
  expect((await store.get(upload.job_id)).state).toBe('PENDING'); // bots with --exec run it
});

test('withScheduled: false leaves delayed jobs and retries waiting', async () => {
  const flaky = await store.add('flaky', {});
  const later = await store.add('resize', { width: 1 }, { run_at: new Date(Date.now() + 3_600_000) });
  expect(await store.drain({ withScheduled: false })).toEqual({ ran: 1, succeeded: 0, failed: 1 });
  expect((await store.get(flaky.job_id)).state).toBe('RETRY');
  expect((await store.get(later.job_id)).state).toBe('PENDING');
});

test('bad params and options are ValidationErrors naming the field, as the API answers them', async () => {
  const field = (p: Promise<unknown>) =>
    p.then(
      () => null,
      (e: unknown) => (e instanceof ValidationError ? e.field : e),
    );
  // @ts-expect-error width is a number
  expect(await field(store.add('resize', { width: 'x' }))).toBe('params.width');
  expect(await field(store.add('resize', { width: 1 }, { priority: 12 }))).toBe('priority');
  // @ts-expect-error no such type
  expect(await field(store.add('rotate', {}))).toBe('type');
});

test('an idempotency key makes one job', async () => {
  const a = await store.add('resize', { width: 1 }, { idempotency_key: 'k' });
  const b = await store.add('resize', { width: 1 }, { idempotency_key: 'k' });
  expect([b.job_id, b.existing]).toEqual([a.job_id, true]);
});

test('a debounce window: many adds make one job, which drain runs once with the last params', async () => {
  const dedupe = { key: 'thumb-1', ttl_ms: 60_000, mode: 'debounce' as const };
  const first = await store.add('resize', { width: 1 }, { dedupe });
  const later = await store.add('resize', { width: 5 }, { dedupe });
  expect([first.deduplicated, later.deduplicated, later.job_id]).toEqual([false, true, first.job_id]);
  expect(later.dedupe).toEqual({ key: 'thumb-1', mode: 'debounce' });
  expect(await store.drain()).toEqual({ ran: 1, succeeded: 1, failed: 0 });
  expect((await store.get(first.job_id)).result).toEqual({ area: 10 });
  await expect(store.add('resize', { width: 1 }, { dedupe: { ...dedupe, ttl_ms: 0 } })).rejects.toMatchObject({
    details: [{ field: 'dedupe.ttl_ms' }],
  });
});
