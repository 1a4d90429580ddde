/**
 * Issue 24 (items 4 and 7) over real HTTP, on both stores: queues are declared, never made by a
 * request; who submitted a job is recorded, and a client token cancels only its own; idempotency
 * keys are scoped by the caller; the bounds of a request (400 naming the field) and the quotas of
 * a token (429 naming the quota), none of them in open mode.
 */
import { BATCH_DEFAULTS } from '../../src/core/batch';
import { parseTokenList } from '../../src/core/tokens';
import { Limits } from '../../src/core/quotas';
import { startApi, RunningApi } from '../../src/roles/api';
import { tokenTable } from '../../src/roles/api/access-gate';
import { OPEN_SECURITY } from '../../src/roles/api/security';
import type { Store } from '../../src/store/types';
import { silentLogger } from '../helpers/log';
import { http } from '../helpers/procs';
import { ADAPTERS, makeStore } from '../helpers/stores';

const T = {
  admin: 'quota-admin-token-0123456789',
  alice: 'quota-alice-token-0123456789',
  bob: 'quota-bob-token-0123456789',
  carol: 'quota-carol-token-0123456789',
  dave: 'quota-dave-token-0123456789',
  erin: 'quota-erin-token-0123456789',
  bot: 'quota-bot-role-token-0123456789',
};
const TOKENS = `ops:admin:${T.admin},alice:client:${T.alice},bob:client:${T.bob},carol:client:${T.carol},dave:client:${T.dave},erin:client:${T.erin},fleet:bot:${T.bot}`;
const botWork = {
  botQueue: 'bots',
  botLeaseMs: 60_000,
  batch: { ...BATCH_DEFAULTS, size: 1, processingDurationMs: 10, failureRate: 0 },
};
/** small quotas and bounds, so a test reaches them */
const LIMITS: Limits = {
  bounds: { maxDurationMs: 60_000, maxAttempts: 5, maxDelayMs: 3_600_000 },
  quotas: { jobs: 3, cpuSeconds: 2, streams: 2 },
};
type ErrorBody = { error: { code: string; message: string; details: { field: string; message: string }[] } };
type JobBody = {
  job_id: string;
  state: string;
  principal: string | null;
  idempotency_key: string | null;
  existing: boolean;
  queue: string;
};

describe.each(ADAPTERS)('on the %s store', (adapter) => {
  let store: Store;
  let api: RunningApi;
  let open: RunningApi;
  const statuses: number[] = [];
  const call = async <R = unknown>(
    method: string,
    path: string,
    body?: unknown,
    token?: string,
    base = api.url,
    headers: Record<string, string> = {},
  ) => {
    const res = await http<R>(method, `${base}${path}`, body, {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...headers,
    });
    statuses.push(res.status);
    return res;
  };
  const task = (token: string, extra: Record<string, unknown> = {}) =>
    call<JobBody>('POST', '/jobs', { type: 'task', params: { a: 1, b: 2 }, ...extra }, token);
  const sim = (token: string, durationMs: number, extra: Record<string, unknown> = {}) =>
    call<JobBody & ErrorBody>(
      'POST',
      '/jobs',
      { type: 'sim', params: { duration_ms: durationMs, failure_rate: 0 }, attempts: 1, ...extra },
      token,
    );

  beforeAll(async () => {
    store = await makeStore(adapter, 'quotas');
    const tokens = tokenTable(parseTokenList(TOKENS));
    api = await startApi(store, {
      nodeId: 'api-quotas',
      port: 0,
      log: silentLogger,
      botWork,
      limits: LIMITS,
      security: { ...OPEN_SECURITY, tokens },
    });
    open = await startApi(store, { nodeId: 'api-open', port: 0, log: silentLogger, botWork, limits: LIMITS });
  });
  afterAll(async () => {
    await api.close(true);
    await open.close(true);
    await store.close();
    expect(statuses.filter((s) => s >= 500)).toEqual([]);
  });

  test('1,000 POST /task {queue: qN} make no queue: each a 400 naming queue; an admin declares one, and forgets it once empty', async () => {
    const before = await store.queues.known();
    for (let i = 0; i < 1000; i++) {
      const res = await call<ErrorBody>('POST', '/task', { a: 1, b: 2, queue: `q${i}` }, T.admin);
      expect([i, res.status, res.body.error.details[0].field]).toEqual([i, 400, 'queue']);
    }
    expect(await store.queues.known()).toEqual(before);
    expect(before).toEqual(expect.arrayContaining(['bots', 'default']));

    expect((await call('POST', '/queues', { name: 'high' }, T.alice)).status).toBe(403); // admins declare
    expect((await call('POST', '/queues', { name: 'no:colon' }, T.admin)).status).toBe(400);
    expect(await call<{ name: string }>('POST', '/queues', { name: 'high' }, T.admin)).toMatchObject({
      status: 201,
      body: { name: 'high', waiting: 0 },
    });
    expect((await call('POST', '/queues', { name: 'high' }, T.admin)).status).toBe(200);
    const made = await call<{ task_id: string }>('POST', '/task', { a: 1, b: 2, queue: 'high' }, T.admin);
    expect(made.status).toBe(202);
    expect(
      (await call<{ queues: { name: string; waiting: number }[] }>('GET', '/queues', undefined, T.alice)).body.queues,
    ).toContainEqual(expect.objectContaining({ name: 'high', waiting: 1 }));
    expect((await call<ErrorBody>('DELETE', '/queues/high', undefined, T.admin)).status).toBe(409); // it holds a job
    expect((await call('DELETE', '/queues/default', undefined, T.admin)).status).toBe(409); // this node's own
    expect((await call('POST', `/jobs/${made.body.task_id}/cancel`, undefined, T.admin)).status).toBe(200);
    expect((await call('DELETE', '/queues/high', undefined, T.admin)).status).toBe(204);
    expect((await call('DELETE', '/queues/high', undefined, T.admin)).status).toBe(404);
    expect((await call('POST', '/task', { a: 1, b: 2, queue: 'high' }, T.admin)).status).toBe(400);
    expect(await store.queues.known()).toEqual(before);
  }, 120_000);

  test("who submitted a job is on its record; a client cancels only its own (a chunk: its count's), an admin any", async () => {
    const mine = await task(T.alice);
    expect(mine.status).toBe(202);
    expect((await call<JobBody>('GET', `/jobs/${mine.body.job_id}`, undefined, T.bob)).body.principal).toBe(
      'client:alice',
    );
    const refused = await call<ErrorBody>('POST', `/jobs/${mine.body.job_id}/cancel`, undefined, T.bob);
    expect([refused.status, refused.body.error.code]).toEqual([403, 'forbidden']);
    expect((await store.reads.job(mine.body.job_id))!.state).toBe('PENDING');
    expect((await call<JobBody>('POST', `/jobs/${mine.body.job_id}/cancel`, undefined, T.alice)).body.state).toBe(
      'CANCELLED',
    );

    const count = await call<{ job_id: string }>('POST', '/api/count-primes', { n: 10_000, chunks: 2 }, T.bob);
    const [chunk] = await store.reads.children(count.body.job_id);
    expect(chunk.principal).toBe('client:bob');
    expect((await call('POST', `/jobs/${chunk.id}/cancel`, undefined, T.alice)).status).toBe(403);
    expect((await call<JobBody>('POST', `/jobs/${chunk.id}/cancel`, undefined, T.admin)).body).toMatchObject({
      job_id: count.body.job_id,
      state: 'CANCELLED',
    });

    // a job no token submitted (the scheduler's, an open API's) is an admin's to cancel
    const [scheduled] = await store.jobs.enqueue([{ type: 'task', params: { a: 1, b: 1, op: 'add' } }]);
    expect((await call<JobBody>('GET', `/jobs/${scheduled.id}`, undefined, T.alice)).body.principal).toBeNull();
    expect((await call('POST', `/jobs/${scheduled.id}/cancel`, undefined, T.alice)).status).toBe(403);
    // an open API names nobody: anyone cancels (as before tokens)
    expect((await call('POST', `/jobs/${scheduled.id}/cancel`, undefined, undefined, open.url)).status).toBe(200);
  });

  test("an idempotency key is the caller's: two callers with one key get two jobs, the same caller its first job", async () => {
    const key = { 'idempotency-key': 'order-17' };
    const a = await call<JobBody>('POST', '/jobs', { type: 'task', params: { a: 1, b: 2 } }, T.bob, api.url, key);
    const b = await call<JobBody>('POST', '/jobs', { type: 'task', params: { a: 1, b: 2 } }, T.carol, api.url, key);
    expect([a.status, b.status]).toEqual([202, 202]);
    expect(a.body.job_id).not.toBe(b.body.job_id);
    const again = await call<JobBody>('POST', '/jobs', { type: 'task', params: { a: 1, b: 2 } }, T.bob, api.url, key);
    expect([again.status, again.body.job_id, again.body.existing, again.body.idempotency_key]).toEqual([
      200,
      a.body.job_id,
      true,
      'order-17',
    ]);
    expect((await call<JobBody>('GET', `/jobs/${a.body.job_id}`, undefined, T.bob)).body).toMatchObject({
      idempotency_key: 'order-17',
      principal: 'client:bob',
    });
    // the same key with other params: a 409 for its own caller, a new job for another
    const other = await call<ErrorBody>(
      'POST',
      '/jobs',
      { type: 'task', params: { a: 9, b: 9 }, idempotency_key: 'order-17' },
      T.bob,
    );
    expect([other.status, other.body.error.details[0].field]).toEqual([409, 'idempotency_key']);
    expect(other.body.error.message).toContain("'order-17'");
    expect(
      (await call('POST', '/jobs', { type: 'task', params: { a: 9, b: 9 }, idempotency_key: 'order-17' }, T.admin))
        .status,
    ).toBe(202);
    // a key holds no ':' (it would forge another caller's scope)
    const colon = await call<ErrorBody>(
      'POST',
      '/task',
      { a: 1, b: 2, idempotency_key: 'client:bob:order-17' },
      T.carol,
    );
    expect([colon.status, colon.body.error.details[0].field]).toEqual([400, 'idempotency_key']);
    expect(
      (await call<ErrorBody>('POST', '/task', { a: 1, b: 2 }, T.carol, api.url, { 'idempotency-key': 'a:b' })).body
        .error.details[0].field,
    ).toBe('Idempotency-Key');
  });

  test('bounds: duration_ms, attempts, delay_ms and run_at past them are 400s naming the field, for every caller', async () => {
    for (const [body, field] of [
      [{ type: 'sim', params: { duration_ms: 60_001, failure_rate: 0 } }, 'params.duration_ms'],
      [{ type: 'task', params: { a: 1, b: 2 }, attempts: 6 }, 'attempts'],
      [{ type: 'task', params: { a: 1, b: 2 }, delay_ms: 3_600_001 }, 'delay_ms'],
      [{ type: 'task', params: { a: 1, b: 2 }, run_at: new Date(Date.now() + 2 * 3_600_000).toISOString() }, 'run_at'],
    ] as const) {
      for (const [token, base] of [
        [T.admin, api.url],
        [undefined, open.url],
      ] as const) {
        const res = await call<ErrorBody>('POST', '/jobs', body, token, base);
        expect([field, res.status, res.body.error.details[0].field]).toEqual([field, 400, field]);
      }
    }
    expect(
      (await call('POST', '/jobs', { type: 'task', params: { a: 1, b: 2 }, attempts: 5, delay_ms: 3_600_000 }, T.admin))
        .status,
    ).toBe(202);
  });

  test('the jobs quota: a token past its jobs that have not finished gets a 429 naming it; finished ones free it; admins and an open API have none', async () => {
    const made: string[] = [];
    for (let i = 0; i < 3; i++) made.push((await task(T.dave)).body.job_id);
    const refused = await call<ErrorBody>('POST', '/task', { a: 1, b: 2 }, T.dave);
    expect([refused.status, refused.body.error.code, refused.body.error.details]).toEqual([
      429,
      'quota_exceeded',
      [{ field: 'quota', message: 'jobs' }],
    ]);
    expect(refused.body.error.message).toMatch(
      /^quota jobs: client:dave has 3 jobs that have not finished, at most 3 \(--quota-jobs, WIZARD_QUOTA_JOBS\)/,
    );
    expect((await call('POST', '/api/count-primes', { n: 10_000, chunks: 1 }, T.dave)).status).toBe(429);
    // others are not held to dave's quota
    expect((await task(T.admin)).status).toBe(202);
    for (let i = 0; i < 4; i++)
      expect((await call('POST', '/task', { a: 1, b: 2 }, undefined, open.url)).status).toBe(202);
    // one of dave's finishes (cancelled), one is taken and done: two more fit, not three
    await call('POST', `/jobs/${made[0]}/cancel`, undefined, T.dave);
    const claimed = (await store.jobs.claim('default', { consumer: 'w', max: 100, leaseMs: 60_000 })).jobs.find(
      (c) => c.job.id === made[1],
    )!;
    await store.jobs.complete(claimed.job.id, claimed.token, 3);
    expect((await task(T.dave)).status).toBe(202);
    expect((await task(T.dave)).status).toBe(202);
    expect((await task(T.dave)).status).toBe(429);
  });

  test("POST /flows: the jobs quota counts a flow's nodes as jobs; a flow past it is a 429 as POST /jobs's, and nothing is made", async () => {
    const flowOf = (...ids: string[]) => ({
      nodes: ids.map((id, i) => ({ id, type: 'task', params: { a: i, b: 2 }, ...(i > 0 ? { deps: [ids[0]] } : {}) })),
    });
    expect((await call('POST', '/flows', flowOf('a', 'b'), T.erin)).status).toBe(202);
    const before = await store.flows.recent(50);
    const refused = await call<ErrorBody>('POST', '/flows', flowOf('c', 'd'), T.erin);
    expect([refused.status, refused.body.error.code, refused.body.error.details]).toEqual([
      429,
      'quota_exceeded',
      [{ field: 'quota', message: 'jobs' }],
    ]);
    expect(refused.body.error.message).toMatch(
      /^quota jobs: client:erin has 2 jobs that have not finished and asks for 2 more, at most 3 \(--quota-jobs, WIZARD_QUOTA_JOBS\)/,
    );
    expect(await store.flows.recent(50)).toEqual(before);
    expect((await call('POST', '/flows', flowOf('e'), T.erin)).status).toBe(202);
    expect((await task(T.erin)).status).toBe(429); // the nodes count for POST /jobs too
  });

  test('the CPU budget: a sim costs duration_ms x attempts; past the budget a 429 with Retry-After, a job bigger than it a 429 at once; a repeated key costs nothing', async () => {
    expect((await sim(T.carol, 1500, { idempotency_key: 'sim-1' })).status).toBe(202); // 1.5 of 2 core-seconds
    expect((await sim(T.carol, 1500, { idempotency_key: 'sim-1' })).status).toBe(200); // the same job: given back
    const over = await sim(T.carol, 1000);
    expect([over.status, over.body.error.details]).toEqual([429, [{ field: 'quota', message: 'cpu' }]]);
    expect(over.body.error.message).toMatch(
      /^quota cpu: this job may cost 1 core-seconds and client:carol has 0 left of 2 an hour \(--quota-cpu-seconds, WIZARD_QUOTA_CPU_SECONDS\); try again in \d+ s$/,
    );
    const wait = Number(over.headers.get('retry-after'));
    expect(wait).toBeGreaterThanOrEqual(1);
    expect(wait).toBeLessThanOrEqual(3600);
    expect((await sim(T.carol, 500)).status).toBe(202); // what is left fits
    const huge = await sim(T.bob, 3000);
    expect([huge.status, huge.headers.get('retry-after')]).toEqual([429, null]);
    expect(huge.body.error.message).toMatch(/more than client:bob's whole budget of 2 an hour/);
    expect((await sim(T.admin, 60_000, { attempts: 5 })).status).toBe(202); // an admin has no quota
  });

  test('the streams quota: a token holds at most its quota of event streams open on a node; a closed one frees its place', async () => {
    const count = await call<{ job_id: string }>('POST', '/api/count-primes', { n: 10_000, chunks: 1 }, T.admin);
    const events = `/api/jobs/${count.body.job_id}/events`;
    const streams = [new AbortController(), new AbortController()];
    const opened = await Promise.all(
      streams.map((c) =>
        fetch(`${api.url}${events}`, { headers: { authorization: `Bearer ${T.bob}` }, signal: c.signal }),
      ),
    );
    expect(opened.map((r) => r.status)).toEqual([200, 200]);
    const third = await call<ErrorBody>('GET', events, undefined, T.bob);
    expect([third.status, third.body.error.details]).toEqual([429, [{ field: 'quota', message: 'streams' }]]);
    expect(third.body.error.message).toMatch(
      /^quota streams: client:bob holds 2 event streams open on this API node, at most 2/,
    );
    streams[0].abort();
    // the server sees the close, then the place is free
    let again = 429;
    for (let i = 0; i < 100 && again === 429; i++) {
      const c = new AbortController();
      const r = await fetch(`${api.url}${events}`, { headers: { authorization: `Bearer ${T.bob}` }, signal: c.signal });
      again = r.status;
      c.abort();
      if (again === 429) await new Promise((res) => setTimeout(res, 50));
    }
    expect(again).toBe(200);
    streams[1].abort();
  });
});
