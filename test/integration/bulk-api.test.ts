/**
 * POST /jobs/bulk over real HTTP on a real Redis (3 shards in one server), a Redis Cluster and
 * the embedded store: jobs of any types made in order; one bad job is a 400 naming its index and
 * field and nothing is made; more than 10,000 jobs is a 400 naming jobs; with an Idempotency-Key
 * a retry after a partial write (one shard's jobs made, the others not) makes only the missing
 * jobs and answers the same ids; the quotas count the whole bulk.
 */
import { Client, ValidationError } from '../../src/index';
import { parseTokenList } from '../../src/core/tokens';
import { LIMIT_DEFAULTS } from '../../src/core/quotas';
import { startApi, RunningApi } from '../../src/roles/api';
import { tokenTable } from '../../src/roles/api/access-gate';
import { OPEN_SECURITY } from '../../src/roles/api/security';
import { BULK_RUN } from '../../src/store/bulk';
import { shardOfId } from '../../src/store/keys';
import type { Store } from '../../src/store/types';
import { silentLogger } from '../helpers/log';
import { http } from '../helpers/procs';
import { makeStore, useTestCluster, WITH_CLUSTER } from '../helpers/stores';

const ALICE = 'bulk-alice-token-0123456789';
const ADMIN = 'bulk-admin-token-0123456789';
const TOKENS = `ops:admin:${ADMIN},alice:client:${ALICE}`;

interface Bulk {
  jobs: { job_id: string; state: string; existing: boolean }[];
  error?: { code: string; message: string; details: { field: string; message: string }[] };
}

const task = (a: number) => ({ type: 'task', params: { a, b: 1 } });

useTestCluster();

describe.each(WITH_CLUSTER)('POST /jobs/bulk on the %s store', (adapter) => {
  let store: Store;
  let api: RunningApi;
  const statuses: number[] = [];
  beforeAll(async () => {
    store = await makeStore(adapter, 'bulk-api', adapter === 'memory' ? {} : { shards: 3 });
    api = await startApi(store, {
      nodeId: 'api-bulk',
      port: 0,
      log: silentLogger,
      limits: { ...LIMIT_DEFAULTS, quotas: { ...LIMIT_DEFAULTS.quotas, jobs: 5 } },
      security: { ...OPEN_SECURITY, tokens: tokenTable(parseTokenList(TOKENS)) },
    });
  }, 60_000);
  afterAll(async () => {
    await api?.close(true);
    await store?.close();
    expect(statuses.filter((s) => s >= 500)).toEqual([]);
  });
  const bulk = async (jobs: unknown, key?: string, token = ADMIN) => {
    const res = await http<Bulk>(
      'POST',
      `${api.url}/jobs/bulk`,
      { jobs },
      { authorization: `Bearer ${token}`, ...(key === undefined ? {} : { 'idempotency-key': key }) },
    );
    statuses.push(res.status);
    return res;
  };
  const total = async () => (await store.reads.list({ limit: 1 })).total;

  test('jobs of any types, with their options, made in order', async () => {
    const before = await total();
    const res = await bulk([
      task(1),
      { type: 'sim', params: { duration_ms: 1, failure_rate: 0 }, priority: 2, attempts: 2 },
      { type: 'primes', params: { n: 20_000, chunks: 2 } },
      { ...task(2), delay_ms: 60_000, timeout_ms: 5000, group: 'tenant-a' },
    ]);
    expect([res.status, res.body.error]).toEqual([202, undefined]);
    expect(res.body.jobs.map((j) => [j.state, j.existing])).toEqual([
      ['PENDING', false],
      ['PENDING', false],
      ['PENDING', false],
      ['PENDING', false],
    ]);
    const jobs = await Promise.all(res.body.jobs.map((j) => store.reads.job(j.job_id)));
    expect(jobs.map((j) => j?.type)).toEqual(['task', 'sim', 'primes', 'task']);
    expect([jobs[1]?.priority, jobs[1]?.maxAttempts, jobs[3]?.timeoutMs]).toEqual([2, 2, 5000]);
    expect(jobs[3]?.runAt).toBeGreaterThan(Date.now() + 30_000); // delayed
    expect(jobs[3]?.group).toBe('tenant-a');
    expect(await store.reads.children(res.body.jobs[2].job_id)).toHaveLength(2);
    expect(await total()).toBe(before + 4);
  });

  test('one bad job is a 400 naming its index and field, and nothing is made', async () => {
    const before = await total();
    for (const [bad, field] of [
      [{ type: 'task', params: { a: 'x', b: 1 } }, 'jobs.1.params.a'],
      [{ type: 'nope', params: {} }, 'jobs.1.type'],
      [{ ...task(1), priority: 42 }, 'jobs.1.priority'],
      [{ ...task(1), queue: 'undeclared' }, 'jobs.1.queue'],
      [{ ...task(1), delay_ms: 1, run_at: '2030-01-01T00:00:00Z' }, 'jobs.1.run_at'],
    ] as const) {
      const res = await bulk([task(1), bad, task(3)]);
      expect([res.status, res.body.error?.details[0].field]).toEqual([400, field]);
    }
    const empty = await bulk([]);
    expect([empty.status, empty.body.error?.details[0].field]).toEqual([400, 'jobs']);
    expect(await total()).toBe(before);
  });

  test('10,000 jobs are made; 10,001 are a 400 naming jobs', async () => {
    const before = await total();
    const many = Array.from({ length: 10_000 }, (_, i) => task(i));
    const tooMany = await bulk([...many, task(0)]);
    expect([tooMany.status, tooMany.body.error?.details[0].field]).toEqual([400, 'jobs']);
    expect(await total()).toBe(before);
    const res = await bulk(many);
    expect([res.status, res.body.jobs.length]).toEqual([202, 10_000]);
    expect(new Set(res.body.jobs.map((j) => j.job_id)).size).toBe(10_000);
    expect(await total()).toBe(before + 10_000);
    const job = await store.reads.job(res.body.jobs[9_999].job_id);
    expect(job?.params).toMatchObject({ a: 9_999, b: 1 });
    if (adapter !== 'memory')
      expect(new Set(res.body.jobs.map((j) => shardOfId(j.job_id)))).toEqual(new Set([0, 1, 2]));
  }, 120_000);

  test('with an Idempotency-Key, a retry after a partial write makes only the missing jobs, and answers the same ids', async () => {
    const jobs = Array.from({ length: BULK_RUN + 5 }, (_, i) => task(i));
    const before = await total();
    // a partial write: the first shard's run made (its first BULK_RUN jobs), the other shard's not
    const partial = await bulk(jobs.slice(0, BULK_RUN), 'nightly-1');
    expect(partial.status).toBe(202);
    expect(await total()).toBe(before + BULK_RUN);
    if (adapter === 'memory') {
      // one shard: the first write was the key's whole run; the same bulk again answers it
      const again = await bulk(jobs.slice(0, BULK_RUN), 'nightly-1');
      expect(again.body.jobs.map((j) => [j.job_id, j.existing])).toEqual(
        partial.body.jobs.map((j) => [j.job_id, true]),
      );
    } else {
      const retry = await bulk(jobs, 'nightly-1');
      expect(retry.status).toBe(202);
      const made = retry.body.jobs;
      expect(made.slice(0, BULK_RUN).map((j) => j.job_id)).toEqual(partial.body.jobs.map((j) => j.job_id));
      expect(made.map((j) => j.existing)).toEqual(jobs.map((_, i) => i < BULK_RUN));
      expect(await total()).toBe(before + BULK_RUN + 5);
      const again = await bulk(jobs, 'nightly-1');
      expect([again.status, again.body.jobs.map((j) => j.job_id)]).toEqual([202, made.map((j) => j.job_id)]);
      expect(again.body.jobs.every((j) => j.existing)).toBe(true);
      expect(await total()).toBe(before + BULK_RUN + 5);
    }
    // other jobs under the key: a 409 naming it
    const other = await bulk([task(-1)], 'nightly-1');
    expect([other.status, other.body.error?.message]).toEqual([409, expect.stringContaining("'nightly-1'")]);
  }, 60_000);

  test('the client: addBulk makes the jobs in one request; a bad one is a ValidationError naming jobs.1.params.a', async () => {
    const client = new Client({ url: api.url, token: ADMIN });
    const before = await total();
    const bad = await client
      .addBulk([
        { type: 'task', params: { a: 1, b: 2 } },
        { type: 'task', params: { a: 'x' as unknown as number, b: 2 } },
      ])
      .catch((e: unknown) => e);
    expect([bad instanceof ValidationError, (bad as ValidationError).field]).toEqual([true, 'jobs.1.params.a']);
    expect(await total()).toBe(before);
    const jobs = [
      { type: 'task' as const, params: { a: 1, b: 2 } },
      { type: 'task' as const, params: { a: 3, b: 4 }, opts: { priority: 1, run_at: new Date(Date.now() + 60_000) } },
    ];
    const made = await client.addBulk(jobs, { idempotency_key: 'client-bulk' });
    expect(made.map((j) => [j.state, j.existing])).toEqual([
      ['PENDING', false],
      ['PENDING', false],
    ]);
    const again = await client.addBulk(jobs, { idempotency_key: 'client-bulk' });
    expect(again.map((j) => [j.job_id, j.existing])).toEqual(made.map((j) => [j.job_id, true]));
    expect(await total()).toBe(before + 2);
  });

  test("the quotas count the whole bulk: past the token's jobs quota, a 429 and nothing made", async () => {
    const before = await total();
    const refused = await bulk([task(1), task(2), task(3), task(4), task(5), task(6)], undefined, ALICE);
    expect([refused.status, refused.body.error?.code]).toEqual([429, 'quota_exceeded']);
    expect(await total()).toBe(before);
    const ok = await bulk([task(1), task(2), task(3)], undefined, ALICE);
    expect(ok.status).toBe(202);
    const past = await bulk([task(1), task(2), task(3)], undefined, ALICE);
    expect(past.status).toBe(429);
    expect(await total()).toBe(before + 3);
  });
});
