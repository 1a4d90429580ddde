/**
 * Issue 24's attacks, each as it was made, against a live API (over real HTTP, with API tokens)
 * on both stores: ids that named the keys beside a job's record (`<id>:results`, `<id>:children`),
 * a client sending a prime count to the bots' queue, a bot forging a chunk's result (a million, and
 * 1e308, which once made the day's datalake export a 500). The prime count attacked must still
 * finish with its exact count, and no answer may be a 500.
 */
import { BATCH_DEFAULTS } from '../../src/core/batch';
import { parseTokenList } from '../../src/core/tokens';
import { lakeRecord, utcDay } from '../../src/core/datalake';
import { countPrimesInRange } from '../../src/core/sieve';
import { startApi, RunningApi } from '../../src/roles/api';
import { tokenTable } from '../../src/roles/api/access-gate';
import { OPEN_SECURITY } from '../../src/roles/api/security';
import type { ClaimedJob, Store } from '../../src/store/types';
import { silentLogger } from '../helpers/log';
import { http } from '../helpers/procs';
import { ADAPTERS, makeStore } from '../helpers/stores';

const T = {
  admin: 'attack-admin-token-0123456789',
  client: 'attack-client-token-0123456789',
  bot: 'attack-bot-role-token-0123456789',
};
const botWork = {
  botQueue: 'bots',
  botLeaseMs: 60_000,
  batch: { ...BATCH_DEFAULTS, size: 1, processingDurationMs: 10, failureRate: 0 },
};
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
type ErrorBody = { error: { code: string; message: string; details: { field: string; message: string }[] } };
type PrimeJob = {
  state: string;
  progress: { completed: number; total: number };
  result: { prime_count: number } | null;
  error: string | null;
};

describe.each(ADAPTERS)('on the %s store', (adapter) => {
  let store: Store;
  let api: RunningApi;
  /** every status the API answered in this file: none may be a 500 */
  const statuses: number[] = [];
  const call = async <T = unknown>(method: string, path: string, body?: unknown, token = T.client) => {
    const res = await http<T>(method, `${api.url}${path}`, body, bearer(token));
    statuses.push(res.status);
    return res;
  };

  beforeAll(async () => {
    store = await makeStore(adapter, 'attacks');
    const tokens = tokenTable(parseTokenList(`ops:admin:${T.admin},cli:client:${T.client},fleet:bot:${T.bot}`));
    api = await startApi(store, {
      nodeId: 'api-attacked',
      port: 0,
      log: silentLogger,
      botWork,
      security: { ...OPEN_SECURITY, tokens },
    });
  });
  afterAll(async () => {
    await api.close(true);
    await store.close();
    expect(statuses.filter((s) => s >= 500)).toEqual([]);
  });

  /** the chunks of a prime count, claimed from the default queue as a worker claims them (what other tests left there is cancelled) */
  const claimChunks = async (parentId: string): Promise<ClaimedJob[]> => {
    const { jobs } = await store.jobs.claim('default', { consumer: 'test-worker', max: 100, leaseMs: 60_000 });
    for (const other of jobs.filter((c) => c.job.parentId !== parentId)) await store.jobs.cancel(other.job.id);
    return jobs.filter((c) => c.job.parentId === parentId);
  };
  /** a chunk completed as a worker completes it: with its true count */
  const work = (c: ClaimedJob) =>
    store.jobs.complete(
      c.job.id,
      c.token,
      countPrimesInRange(c.job.params.lo as number, c.job.params.hi as number),
      c.job,
    );

  test('ids naming the keys beside a job (:results, :children) are 404s everywhere; the count they aimed at finishes with its exact count', async () => {
    const made = await call<{ job_id: string }>('POST', '/api/count-primes', { n: 10_000, chunks: 4 });
    expect(made.status).toBe(202);
    const id = made.body.job_id;
    const chunks = await claimChunks(id);
    expect(chunks.map((c) => c.job.params.index)).toEqual([0, 1, 2, 3]);
    await work(chunks[0]); // the results key exists now

    for (const suffix of [':results', ':children', '%3Aresults', '%3Achildren']) {
      const bad = `${id}${suffix}`;
      // the GET that once wrote checked_by into the results key, and every other route that takes an id
      for (const [method, path, token] of [
        ['GET', `/tasks/${bad}/status`, T.client],
        ['GET', `/jobs/${bad}`, T.client],
        ['GET', `/api/jobs/${bad}`, T.client],
        ['GET', `/api/jobs/${bad}/events`, T.client],
        ['GET', `/jobs/${bad}/chunks`, T.client],
        ['POST', `/jobs/${bad}/cancel`, T.client],
        ['POST', `/jobs/${bad}/retry`, T.admin],
        ['POST', `/dlq/${bad}/retry`, T.admin],
      ]) {
        const res = await call<ErrorBody>(method, path, method === 'POST' ? {} : undefined, token);
        expect([method, path, res.status, res.body.error.code]).toEqual([method, path, 404, 'not_found']);
      }
    }
    // a bot's routes too
    const bot = (await call<{ token: string }>('POST', '/bots/register', {}, T.bot)).body.token;
    for (const action of ['start', 'complete', 'fail']) {
      const res = await call<ErrorBody>(
        'POST',
        `/jobs/${id}:results/${action}`,
        action === 'fail' ? { error: 'x' } : {},
        bot,
      );
      expect([action, res.status]).toEqual([action, 404]);
    }
    expect((await call('DELETE', `/bots/${id}:children`, undefined, T.admin)).status).toBe(404);

    // the store refuses them as well, whoever asks (the scripts check the key is a job's record)
    expect(await store.reads.check(`${id}:results`, 'attacker')).toBeNull();
    expect(await store.reads.job(`${id}:children`)).toBeNull();
    await expect(store.jobs.cancel(`${id}:children`)).rejects.toMatchObject({ code: 'not_found' });
    await expect(store.dead.retry(`${id}:results`)).rejects.toMatchObject({ code: 'not_found' });
    await expect(store.dead.retryFailed(`${id}:results`)).rejects.toMatchObject({ code: 'not_found' });
    await expect(store.jobs.complete(`${id}:results`, 'token', 1)).rejects.toMatchObject({ code: 'not_found' });
    await expect(store.jobs.complete(`${id}:children`, 'token', 1)).rejects.toMatchObject({ code: 'not_found' });
    await expect(store.jobs.renew(`${id}:children`, 'token', 1000)).rejects.toMatchObject({ code: 'not_found' });
    expect(await store.reads.children(`${id}:results`)).toEqual([]);

    // the count was not wedged: the last chunk completes it, with the exact count
    for (const c of chunks.slice(1)) await work(c);
    const done = await call<PrimeJob>('GET', `/api/jobs/${id}`);
    expect(done.body).toMatchObject({
      state: 'SUCCESS',
      progress: { completed: 4, total: 4 },
      result: { prime_count: 1229 },
    });
    expect((await call<{ checked_by: string | null }>('GET', `/jobs/${id}`)).body.checked_by).toBeNull();
  });

  test("a whole job id is still found: a UUID, and a shard's s<N>-<UUID> (as a 404 when it names no job)", async () => {
    const task = await call<{ task_id: string }>('POST', '/task', { a: 2, b: 3 });
    expect(
      (await call<{ task_id: string; checked_by: string }>('GET', `/tasks/${task.body.task_id}/status`)).body,
    ).toMatchObject({ task_id: task.body.task_id, checked_by: 'api-attacked' });
    expect((await call('GET', '/jobs/s3-00000000-0000-4000-8000-000000000000')).status).toBe(404);
    expect((await call('GET', `/jobs/${task.body.task_id.toUpperCase()}`)).status).toBe(404);
  });

  test("a client cannot send work to the bots' queue, or a sim job anywhere but there: a 400 naming queue, nothing made", async () => {
    const before = (await store.reads.list({ limit: 500 })).total;
    for (const [path, body] of [
      ['/api/count-primes', { n: 10_000, chunks: 2, queue: 'bots' }],
      ['/task', { a: 1, b: 2, queue: 'bots' }],
      ['/jobs', { type: 'primes', params: { n: 10_000, chunks: 2 }, queue: 'bots' }],
      ['/jobs', { type: 'task', params: { a: 1, b: 2 }, queue: 'bots' }],
      ['/jobs', { type: 'sim', params: { duration_ms: 10, failure_rate: 0 }, queue: 'default' }],
    ] as const) {
      const res = await call<ErrorBody>('POST', path, body);
      expect([path, res.status, res.body.error.details[0]?.field]).toEqual([path, 400, 'queue']);
    }
    expect((await store.reads.list({ limit: 500 })).total).toBe(before);
    // its own queue, named or not, is fine
    const sim = await call<{ job_id: string; queue: string }>('POST', '/jobs', {
      type: 'sim',
      params: { duration_ms: 10, failure_rate: 0 },
      queue: 'bots',
    });
    expect(sim.body.queue).toBe('bots');
    expect(
      (await call<{ queue: string }>('POST', '/jobs', { type: 'task', params: { a: 1, b: 2 }, queue: 'default' })).body
        .queue,
    ).toBe('default');
    expect((await call('POST', `/jobs/${sim.body.job_id}/cancel`)).status).toBe(200); // out of the bots' way
  });

  test('a chunk\'s forged result (1,000,000; 1e308; -1; 1.5; "12") is refused with a 400 naming result, whoever reports it; the count ends exact and the day exports', async () => {
    // a prime count whose chunks wait on the bots' queue, as one made before the fix (the store takes it; the API no longer does)
    const { job: parent } = await store.jobs.submit({
      parent: { type: 'primes', params: { n: 10_000, chunks: 2 } },
      children: [
        { type: 'primes_chunk', queue: 'bots', params: { lo: 1, hi: 5000, index: 0 } },
        { type: 'primes_chunk', queue: 'bots', params: { lo: 5001, hi: 10_000, index: 1 } },
      ],
    });
    const bot = (await call<{ token: string }>('POST', '/bots/register', {}, T.bot)).body.token;
    const forged = [1_000_000, 1e308, -1, 1.5, '12', 5001, null];
    for (let i = 0; i < 2; i++) {
      const claimed = await call<{ job: { job_id: string; params: { lo: number; hi: number } } }>(
        'POST',
        '/jobs/claim',
        {},
        bot,
      );
      const chunk = claimed.body.job;
      for (const result of forged) {
        const res = await call<ErrorBody>('POST', `/jobs/${chunk.job_id}/complete`, { result }, bot);
        expect([result, res.status, res.body.error.details[0]?.field]).toEqual([result, 400, 'result']);
        expect(res.body.error.message).toMatch(/an integer from 0 to hi - lo \+ 1/);
      }
      expect((await store.reads.job(chunk.job_id))!.state).toBe('STARTED'); // nothing changed
      expect(
        (
          await call(
            'POST',
            `/jobs/${chunk.job_id}/complete`,
            { result: countPrimesInRange(chunk.params.lo, chunk.params.hi) },
            bot,
          )
        ).status,
      ).toBe(200);
    }
    expect((await call<PrimeJob>('GET', `/api/jobs/${parent.id}`)).body).toMatchObject({
      state: 'SUCCESS',
      result: { prime_count: 1229 },
    });

    // the worker's path is held to the same: a forged count is a ValidationError and changes nothing
    const made = await call<{ job_id: string }>('POST', '/api/count-primes', { n: 10_000, chunks: 1 });
    const [chunk] = await claimChunks(made.body.job_id);
    for (const result of [1e308, 10_001, 2 ** 53])
      await expect(store.jobs.complete(chunk.job.id, chunk.token, result)).rejects.toMatchObject({
        code: 'validation_failed',
      });
    expect((await store.reads.job(chunk.job.id))!.state).toBe('STARTED');
    await work(chunk);
    expect((await call<PrimeJob>('GET', `/api/jobs/${made.body.job_id}`)).body.result?.prime_count).toBe(1229);

    // the day's export answers, every line JSON
    const day = await fetch(`${api.url}/datalake/export/${utcDay(Date.now())}`, { headers: bearer(T.client) });
    statuses.push(day.status);
    expect(day.status).toBe(200);
    const lines = (await day.text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { job_id: string; result: unknown });
    expect(lines.find((l) => l.job_id === parent.id)?.result).toEqual({
      prime_count: 1229,
      duration_sec: expect.any(Number),
    });
  });
});

test('a datalake entry written before results were checked (a result that is not JSON) is exported as its text, not a 500', () => {
  const entry = JSON.stringify([
    'p',
    'primes',
    '',
    'SUCCESS',
    '{"prime_count":inf,"duration_sec":0.010}',
    '',
    1,
    'api',
    '',
    1000,
    1000,
    2000,
  ]);
  expect(lakeRecord(entry)).toMatchObject({
    job_id: 'p',
    status: 'SUCCESS',
    result: '{"prime_count":inf,"duration_sec":0.010}',
  });
});
