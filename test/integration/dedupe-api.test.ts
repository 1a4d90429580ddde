/**
 * Debounce and throttle over real HTTP, on both stores (docs/flow-control.md "Debounce and
 * throttle"): POST /jobs's dedupe, its answers (202 made, 200 deduplicated, the same job), the
 * record's dedupe, bad windows as 400s naming the field, POST /jobs/bulk's per-job windows, and
 * two callers' same key as two windows.
 */
import { LIMIT_DEFAULTS } from '../../src/core/quotas';
import { startApi } from '../../src/roles/api';
import { silentLogger } from '../helpers/log';
import { http } from '../helpers/procs';
import { ADAPTERS } from '../helpers/stores';
import { apiWithTokens, tokensSecurity, type ApiBody as Body } from '../helpers/token-api';

const T = {
  admin: 'dedupe-admin-token-0123456789',
  alice: 'dedupe-alice-token-0123456789',
  bob: 'dedupe-bob-token-01234567890',
  carol: 'dedupe-carol-token-0123456789',
};
const TOKENS = `ops admin ${T.admin}\nalice client ${T.alice}\nbob client ${T.bob}\ncarol client ${T.carol}\n`;

describe.each(ADAPTERS)('debounce and throttle over HTTP: %s', (adapter) => {
  const api = apiWithTokens(adapter, 'dedupe', TOKENS, T.alice);
  const { call } = api;
  const submit = (a: number, dedupe: unknown, extra: Record<string, unknown> = {}, token = T.alice) =>
    call('POST', '/jobs', { type: 'task', params: { a, b: 1 }, dedupe, ...extra }, token);

  test('throttle: 202 made, then 200 deduplicated with the same job; the record shows its window', async () => {
    const window = { key: 'report-7', ttl_ms: 60_000, mode: 'throttle' };
    const first = await submit(1, window);
    expect(first.status).toBe(202);
    expect(first.body).toMatchObject({
      deduplicated: false,
      existing: false,
      dedupe: { key: 'report-7', mode: 'throttle' },
    });
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => submit(i + 2, window)));
    expect(answers.map((r) => [r.status, r.body.job_id, r.body.deduplicated])).toEqual(
      answers.map(() => [200, first.body.job_id, true]),
    );
    expect(answers[0].headers.get('location')).toBe(`/jobs/${first.body.job_id as string}`);
    const job = await call('GET', `/jobs/${first.body.job_id as string}`);
    expect(job.body).toMatchObject({ params: { a: 1 }, dedupe: { key: 'report-7', mode: 'throttle' } });
    const plain = await call('POST', '/jobs', { type: 'task', params: { a: 1, b: 1 } });
    expect('dedupe' in (await call('GET', `/jobs/${plain.body.job_id as string}`)).body).toBe(false);
    // another caller's same key is another window
    const bob = await submit(1, window, {}, T.bob);
    expect([bob.status, bob.body.job_id === first.body.job_id]).toEqual([202, false]);
  });

  test('debounce: every answer names the job that will run, with the last params', async () => {
    const window = { key: 'digest', ttl_ms: 60_000, mode: 'debounce', max_wait_ms: 120_000 };
    const first = await submit(1, window);
    expect([first.status, first.body.status]).toEqual([202, 'PENDING']);
    const second = await submit(2, window, { priority: 1 });
    expect([second.status, second.body.job_id, second.body.deduplicated, second.body.priority]).toEqual([
      200,
      first.body.job_id,
      true,
      1,
    ]);
    const job = await call('GET', `/jobs/${first.body.job_id as string}`);
    expect(job.body).toMatchObject({ params: { a: 2, b: 1 }, dedupe: { key: 'digest', mode: 'debounce' } });
    const other = await submit(3, { ...window, mode: 'throttle', max_wait_ms: undefined });
    expect([other.status, other.body.error?.details[0].field]).toEqual([409, 'dedupe.mode']);
  });

  test('a bad window is a 400 naming its field', async () => {
    const ok = { key: 'k', ttl_ms: 1000, mode: 'debounce' };
    const cases: [unknown, Record<string, unknown>, string][] = [
      [{ ...ok, key: 'a:b' }, {}, 'dedupe.key'],
      [{ ...ok, key: 'x'.repeat(201) }, {}, 'dedupe.key'],
      [{ ...ok, ttl_ms: 0 }, {}, 'dedupe.ttl_ms'],
      [{ ...ok, ttl_ms: 1.5 }, {}, 'dedupe.ttl_ms'],
      [{ ...ok, ttl_ms: 31 * 86_400_000 }, {}, 'dedupe.ttl_ms'],
      [{ ...ok, mode: 'sometimes' }, {}, 'dedupe.mode'],
      [{ key: 'k', mode: 'throttle' }, {}, 'dedupe.ttl_ms'],
      [{ ...ok, max_wait_ms: 999 }, {}, 'dedupe.max_wait_ms'],
      [{ ...ok, mode: 'throttle', max_wait_ms: 5000 }, {}, 'dedupe.max_wait_ms'],
      [{ ...ok, extra: 1 }, {}, 'dedupe'],
      ['k', {}, 'dedupe'],
      [ok, { delay_ms: 10 }, 'delay_ms'],
      [ok, { run_at: '2030-01-01T00:00:00Z' }, 'run_at'],
      [ok, { idempotency_key: 'idem' }, 'dedupe'],
    ];
    for (const [dedupe, extra, field] of cases) {
      const r = await submit(1, dedupe, extra);
      expect([JSON.stringify(dedupe), r.status, r.body.error?.details[0].field]).toEqual([
        JSON.stringify(dedupe),
        400,
        field,
      ]);
    }
    const primes = await call('POST', '/jobs', {
      type: 'primes',
      params: { n: 10_000, chunks: 2 },
      dedupe: { ...ok, mode: 'throttle' },
    });
    expect([primes.status, primes.body.error?.details[0].field]).toEqual([400, 'dedupe']);
    // the seed routes take no window
    const task = await call('POST', '/task', { a: 1, b: 2, dedupe: ok });
    expect(task.status).toBe(400);
  });

  test("a window's later submissions pass the jobs quota, which counted its job; a debounce's ttl_ms is a delay's bound", async () => {
    const limited = await startApi(api.store, {
      nodeId: 'api-dedupe-quota',
      port: 0,
      log: silentLogger,
      security: tokensSecurity(TOKENS),
      limits: {
        bounds: { ...LIMIT_DEFAULTS.bounds, maxDelayMs: 100_000 },
        quotas: { ...LIMIT_DEFAULTS.quotas, jobs: 1 },
      },
    });
    try {
      const post = (a: number, dedupe: unknown) =>
        http<Body>(
          'POST',
          `${limited.url}/jobs`,
          { type: 'task', params: { a, b: 1 }, dedupe },
          {
            authorization: `Bearer ${T.carol}`,
          },
        );
      const window = { key: 'quota-w', ttl_ms: 60_000, mode: 'debounce' };
      const first = await post(1, window);
      expect(first.status).toBe(202);
      const again = await post(2, window);
      expect([again.status, again.body.job_id, again.body.deduplicated]).toEqual([200, first.body.job_id, true]);
      const other = await post(3, { ...window, key: 'quota-other' });
      expect([other.status, other.body.error?.message]).toEqual([
        429,
        expect.stringMatching(/^quota jobs: client:carol/),
      ]);
      const long = await post(4, { ...window, ttl_ms: 100_001 });
      expect([long.status, long.body.error?.details[0].field]).toEqual([400, 'dedupe.ttl_ms']);
    } finally {
      await limited.close(true);
    }
  });

  test('POST /jobs/bulk: each job may have its window; a bad one is named jobs.<i>.dedupe...', async () => {
    const window = { key: 'bulk-w', ttl_ms: 60_000, mode: 'throttle' };
    const r = await call('POST', '/jobs/bulk', {
      jobs: [
        { type: 'task', params: { a: 1, b: 1 }, dedupe: window },
        { type: 'task', params: { a: 2, b: 1 } },
        { type: 'task', params: { a: 3, b: 1 }, dedupe: window },
      ],
    });
    expect(r.status).toBe(202);
    const jobs = r.body.jobs as { job_id: string; deduplicated: boolean; existing: boolean }[];
    expect(jobs.map((j) => j.deduplicated)).toEqual([false, false, true]);
    expect(jobs[2].job_id).toBe(jobs[0].job_id);
    expect(jobs[1].job_id).not.toBe(jobs[0].job_id);
    const again = await submit(9, window);
    expect([again.status, again.body.job_id]).toEqual([200, jobs[0].job_id]);
    const bad = await call('POST', '/jobs/bulk', {
      jobs: [
        { type: 'task', params: { a: 1, b: 1 } },
        { type: 'task', params: { a: 1, b: 1 }, dedupe: { ...window, ttl_ms: -1 } },
      ],
    });
    expect([bad.status, bad.body.error?.details[0].field]).toEqual([400, 'jobs.1.dedupe.ttl_ms']);
    const late = await call('POST', '/jobs/bulk', {
      jobs: [{ type: 'task', params: { a: 1, b: 1 }, dedupe: { ...window, mode: 'debounce' }, delay_ms: 5 }],
    });
    expect([late.status, late.body.error?.details[0].field]).toEqual([400, 'jobs.0.delay_ms']);
  });
});
