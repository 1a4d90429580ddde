/**
 * Seed 004's endpoints over real HTTP, on a real Redis: status codes (400/401/403/404/409), the
 * admin token, bots moving only their own jobs, 20 bots racing on claim, the datalake export.
 */
import { startApi, RunningApi } from '../../src/roles/api';
import type { Store } from '../../src/store/types';
import { http, waitUntil } from '../helpers/procs';
import { makeStore } from '../helpers/stores';
import { silentLogger } from '../helpers/log';
import { BATCH_DEFAULTS } from '../../src/core/batch';

const ADMIN = 'test-admin-token';
const processing = {
  botQueue: 'bots',
  botLeaseMs: 60_000,
  batch: { ...BATCH_DEFAULTS, size: 3, processingDurationMs: 10, failureRate: 0 },
};

let store: Store;
let api: RunningApi;
let open: RunningApi;
const url = (path: string) => `${api.url}${path}`;
const admin = { authorization: `Bearer ${ADMIN}` };
const as = (token: string) => ({ authorization: `Bearer ${token}` });

interface Registered {
  bot_id: string;
  token: string;
}
const register = async (name?: string) =>
  (await http<Registered>('POST', url('/bots/register'), name ? { name } : {})).body;
const populate = async (count: number) =>
  (await http<{ job_ids: string[] }>('POST', url('/jobs/populate'), { count }, admin)).body.job_ids;

beforeAll(async () => {
  store = await makeStore('redis', 'bots-api');
  api = await startApi(store, { nodeId: 'api-a', port: 0, log: silentLogger, adminToken: ADMIN, botWork: processing });
  open = await startApi(store, { nodeId: 'api-b', port: 0, log: silentLogger, botWork: processing });
});
afterAll(async () => {
  await api.close(true);
  await open.close(true);
  await store.close();
});

describe('the admin token', () => {
  test('with no ADMIN_TOKEN configured, admin endpoints (the abacus reset too) are refused, not open', async () => {
    for (const [method, path] of [
      ['POST', '/jobs/populate'],
      ['DELETE', '/bots/some-bot'],
      ['DELETE', '/abacus/sum'],
    ]) {
      const res = await http<{ error: { code: string; message: string } }>(
        method,
        `${open.url}${path}`,
        method === 'POST' ? {} : undefined,
        admin,
      );
      expect([path, res.status, res.body.error.code]).toEqual([path, 403, 'admin_token_not_configured']);
      expect(res.body.error.message).toMatch(/no admin token \(ADMIN_TOKEN\) is configured/);
    }
    expect((await http('DELETE', url('/abacus/sum'))).status).toBe(401);
  });

  test('no token or a wrong one is 401, the right one (either header) passes', async () => {
    expect((await http('POST', url('/jobs/populate'), {})).status).toBe(401);
    expect((await http('POST', url('/jobs/populate'), {}, { authorization: 'Bearer nope' })).status).toBe(401);
    expect((await http('POST', url('/jobs/populate'), {}, { authorization: `Bearer ${ADMIN}x` })).status).toBe(401);
    expect((await http('DELETE', url('/bots/whoever'), undefined, { 'x-admin-token': 'nope' })).status).toBe(401);
    const ok = await http<{ created: number; type: string; queue: string; job_ids: string[] }>(
      'POST',
      url('/jobs/populate'),
      {},
      { 'x-admin-token': ADMIN },
    );
    expect(ok.status).toBe(201);
    expect(ok.body).toMatchObject({ created: 3, type: 'sim', queue: 'bots' });
    const job = await http<{ params: Record<string, unknown> }>('GET', url(`/jobs/${ok.body.job_ids[0]}`));
    expect(job.body.params).toEqual({ duration_ms: 10, failure_rate: 0, batch: expect.stringMatching(/^manual-/) });
  });

  test.each([
    [{ count: 0 }, 'count'],
    [{ type: 'primes' }, 'type'],
    [{ type: 'task', params: { a: 'x', b: 1 } }, 'params'],
    [{ params: { failure_rate: 2 } }, 'params'],
    [{ bogus: 1 }, '(body)'],
  ])('populate %j → 400 naming %s', async (body, field) => {
    const res = await http<{ error: { code: string; details: { field: string }[] } }>(
      'POST',
      url('/jobs/populate'),
      body,
      admin,
    );
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_failed');
    expect(res.body.error.details[0].field).toBe(field);
  });
});

describe('GET /jobs', () => {
  test.each([
    ['status=bogus', 'status'],
    ['limit=0', 'limit'],
    ['limit=501', 'limit'],
    ['offset=-1', 'offset'],
    ['offset=1.5', 'offset'],
  ])('?%s → 400 naming %s', async (query, field) => {
    const res = await http<{ error: { details: { field: string }[] } }>('GET', url(`/jobs?${query}`));
    expect(res.status).toBe(400);
    expect(res.body.error.details[0].field).toBe(field);
  });

  test('filters by status (seed names too) and pages newest first', async () => {
    const ids = await populate(4);
    const page = await http<{ total: number; jobs: { job_id: string; status: string }[] }>(
      'GET',
      url('/jobs?status=pending&limit=2&offset=1'),
    );
    expect(page.status).toBe(200);
    const all = await http<{ total: number; jobs: { job_id: string }[] }>('GET', url('/jobs?status=PENDING&limit=500'));
    expect(page.body.total).toBe(all.body.total);
    expect(page.body.jobs.map((j) => j.job_id)).toEqual(all.body.jobs.slice(1, 3).map((j) => j.job_id));
    expect(
      all.body.jobs
        .slice(0, 4)
        .map((j) => j.job_id)
        .sort(),
    ).toEqual([...ids].sort());
    expect((await http('GET', url('/jobs/no-such-job'))).status).toBe(404);
  });
});

describe('bots', () => {
  beforeEach(async () => {
    // an empty bots queue for each test: claim away whatever the others left
    const sweeper = await register('sweeper');
    for (;;) {
      const c = await http<{ job: { job_id: string } }>('POST', url('/jobs/claim'), {}, as(sweeper.token));
      if (c.status === 204) break;
      await http('POST', url(`/jobs/${c.body.job.job_id}/complete`), { result: 'swept' }, as(sweeper.token));
    }
    await http('DELETE', url(`/bots/${sweeper.bot_id}`), undefined, admin);
  });

  test('bot endpoints need a known bot token: 401 otherwise', async () => {
    expect((await http('POST', url('/jobs/claim'), {})).status).toBe(401);
    expect((await http('POST', url('/jobs/claim'), {}, as('made-up'))).status).toBe(401);
    expect((await http('POST', url('/bots/heartbeat'), {}, as('made-up'))).status).toBe(401);
    expect((await http('POST', url('/bots/register'), { name: '' })).status).toBe(400);
  });

  test("a bot claims from the bot queue only: another queue's jobs (math tasks, prime chunks) are not its to take", async () => {
    const b = await register('queue-probe');
    const [task] = await store.jobs.enqueue([{ type: 'task', params: { a: 1, b: 2, op: 'add' } }]);
    const denied = await http<{ error: { code: string; message: string; details: { field: string }[] } }>(
      'POST',
      url('/jobs/claim'),
      { queue: 'default' },
      as(b.token),
    );
    expect(denied.status).toBe(403);
    expect(denied.body.error).toMatchObject({ code: 'forbidden', details: [{ field: 'queue' }] });
    expect(denied.body.error.message).toContain("'default'");
    expect(await store.reads.job(task.id)).toMatchObject({ state: 'PENDING', attempts: 0 }); // untouched
    expect((await http('POST', url('/jobs/claim'), { queue: 'bad queue!' }, as(b.token))).status).toBe(400);
    await http('DELETE', url(`/bots/${b.bot_id}`), undefined, admin);
  });

  test('a bot claims one job at a time and only it may start, complete or fail it', async () => {
    const [first, second] = await populate(2);
    const a = await register('a');
    const b = await register('b');
    const claim = await http<{ job: { job_id: string; status: string; handled_by: string } }>(
      'POST',
      url('/jobs/claim'),
      {},
      as(a.token),
    );
    expect(claim.status).toBe(200);
    expect(claim.body.job).toMatchObject({ job_id: first, status: 'STARTED', handled_by: a.bot_id });
    expect(claim.body.job).not.toHaveProperty('token');
    expect((await http('POST', url('/jobs/claim'), {}, as(a.token))).status).toBe(409);
    // what a bot whose claim answer was lost reads to resume its job
    expect(
      (await http<{ current_job: string }>('POST', url('/bots/heartbeat'), {}, as(a.token))).body.current_job,
    ).toBe(first);

    for (const [action, body] of [
      ['start', {}],
      ['complete', { result: 1 }],
      ['fail', { error: 'x' }],
    ] as const) {
      expect((await http('POST', url(`/jobs/${first}/${action}`), body, as(b.token))).status).toBe(409);
    }
    expect((await http('POST', url('/jobs/no-such-job/start'), {}, as(a.token))).status).toBe(404);
    expect((await http('POST', url(`/jobs/${first}/fail`), {}, as(a.token))).status).toBe(400);

    const started = await http<{ status: string }>('POST', url(`/jobs/${first}/start`), {}, as(a.token));
    expect(started.body.status).toBe('PROGRESS');
    const done = await http<{ status: string; result: unknown }>(
      'POST',
      url(`/jobs/${first}/complete`),
      { result: { ok: true } },
      as(a.token),
    );
    expect(done.body).toMatchObject({ status: 'SUCCESS', result: { ok: true } });
    expect((await http('POST', url(`/jobs/${first}/complete`), {}, as(a.token))).status).toBe(409);

    const next = await http<{ job: { job_id: string } }>('POST', url('/jobs/claim'), {}, as(a.token));
    expect(next.body.job.job_id).toBe(second);
    const failed = await http<{ status: string; error: string }>(
      'POST',
      url(`/jobs/${second}/fail`),
      { error: 'flaky' },
      as(a.token),
    );
    expect(failed.body).toMatchObject({ status: 'RETRY', error: 'flaky' });
    // back on the queue after its backoff (500 ms base, jittered)
    const again = await waitUntil(
      async () => {
        const c = await http<{ job: { job_id: string; attempts: number } }>(
          'POST',
          url('/jobs/claim'),
          {},
          as(b.token),
        );
        return c.status === 200 && c;
      },
      5000,
      'the retried job',
      100,
    );
    expect(again.body.job).toMatchObject({ job_id: second, attempts: 2 });
    const final = await http<{ status: string }>(
      'POST',
      url(`/jobs/${second}/fail`),
      { error: 'simulated failure', permanent: true },
      as(b.token),
    );
    expect(final.body.status).toBe('FAILURE');

    const bots = await http<{ bots: { bot_id: string; jobs_done: number; jobs_failed: number; status: string }[] }>(
      'GET',
      url('/bots'),
    );
    expect(
      bots.body.bots
        .filter((x) => [a.bot_id, b.bot_id].includes(x.bot_id))
        .map((x) => [x.bot_id, x.status, x.jobs_done, x.jobs_failed]),
    ).toEqual([
      [a.bot_id, 'up', 1, 1],
      [b.bot_id, 'up', 0, 1],
    ]);
  });

  test('a deleted bot is unknown (401) and its job goes back; deleting it again is 404', async () => {
    const [job] = await populate(1);
    const a = await register('doomed');
    await http('POST', url('/jobs/claim'), {}, as(a.token));
    expect((await http('POST', url('/bots/heartbeat'), {}, as(a.token))).status).toBe(200);
    expect((await http('DELETE', url(`/bots/${a.bot_id}`), undefined, admin)).status).toBe(204);
    expect((await http('DELETE', url(`/bots/${a.bot_id}`), undefined, admin)).status).toBe(404);
    expect((await http('POST', url('/bots/heartbeat'), {}, as(a.token))).status).toBe(401);
    expect((await http<{ status: string; attempts: number }>('GET', url(`/jobs/${job}`))).body).toMatchObject({
      status: 'PENDING',
      attempts: 0,
    });
  });

  test('20 bots racing on claim never double-claim', async () => {
    const bots = await Promise.all(Array.from({ length: 20 }, (_, i) => register(`racer-${i}`)));
    const ids = await populate(12);
    // half the claims through each of two API nodes sharing the store
    const claims = await Promise.all(
      bots.map((b, i) =>
        http<{ job: { job_id: string } }>('POST', `${(i % 2 ? open : api).url}/jobs/claim`, {}, as(b.token)),
      ),
    );
    const claimed = claims.filter((c) => c.status === 200).map((c) => c.body.job.job_id);
    expect(claims.filter((c) => c.status === 204)).toHaveLength(8);
    expect(claimed).toHaveLength(12);
    expect(new Set(claimed).size).toBe(12);
    expect([...claimed].sort()).toEqual([...ids].sort());
  });
});

describe('the datalake and the summary', () => {
  test('finished jobs are in the export once each, one JSON object a line; bad days are 400, empty ones 404', async () => {
    const before = await http<{ total: number }>('GET', url('/datalake/stats'));
    const bot = await register('lake');
    const ids = await populate(3);
    const outcomes: Record<string, string> = {};
    for (let i = 0; i < 3; i++) {
      const c = await http<{ job: { job_id: string } }>('POST', url('/jobs/claim'), {}, as(bot.token));
      const id = c.body.job.job_id;
      if (i === 1) await http('POST', url(`/jobs/${id}/fail`), { error: 'no', permanent: true }, as(bot.token));
      else await http('POST', url(`/jobs/${id}/complete`), { result: i }, as(bot.token));
      outcomes[id] = i === 1 ? 'FAILURE' : 'SUCCESS';
    }
    const stats = await http<{ total: number; days: { date: string }[] }>('GET', url('/datalake/stats'));
    expect(stats.body.total).toBe(before.body.total + 3);
    const today = new Date().toISOString().slice(0, 10);
    const res = await fetch(url(`/datalake/export/${today}`));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
    const lines = (await res.text()).split('\n');
    expect(lines.pop()).toBe('');
    const records = lines.map((l) => JSON.parse(l) as { job_id: string; status: string });
    const mine = records.filter((r) => ids.includes(r.job_id));
    expect(mine).toHaveLength(3);
    expect(Object.fromEntries(mine.map((r) => [r.job_id, r.status]))).toEqual(outcomes);
    expect(new Set(records.map((r) => r.job_id)).size).toBe(records.length);

    for (const bad of ['2026-02-30', '2026-13-01', 'yesterday', '2026-1-01']) {
      const r = await http<{ error: { details: { field: string }[] } }>('GET', url(`/datalake/export/${bad}`));
      expect([bad, r.status, r.body.error.details[0].field]).toEqual([bad, 400, 'date']);
    }
    expect((await http('GET', url('/datalake/export/1999-01-01'))).status).toBe(404);
  });

  test('the summary counts jobs by state and bots up and down', async () => {
    const s = await http<{
      jobs: { total: number; by_state: Record<string, number> };
      bots: { total: number; up: number; down: number };
      throughput_per_minute: number;
      success_rate: number | null;
    }>('GET', url('/metrics/summary'));
    expect(s.status).toBe(200);
    const counts = await store.reads.countByState();
    expect(s.body.jobs.by_state).toEqual(counts);
    const bots = await store.bots.list();
    expect(s.body.bots).toEqual({
      total: bots.length,
      up: bots.filter((b) => b.status === 'up').length,
      down: bots.filter((b) => b.status === 'down').length,
    });
    expect(s.body.throughput_per_minute).toBe(counts.SUCCESS + counts.FAILURE + counts.DEAD);
    expect(s.body.success_rate).toBe(
      Math.round((counts.SUCCESS / (counts.SUCCESS + counts.FAILURE + counts.DEAD)) * 10_000) / 10_000,
    );
  });
});
