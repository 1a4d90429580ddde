/**
 * POST /jobs/populate with an Idempotency-Key, on both stores: the batch is made once; the same
 * request again makes nothing and answers 200 with the first batch's ids; another batch under
 * the same key is a 409 naming it; a key that is too long is a 400 naming the header.
 */
import { startApi, RunningApi } from '../../src/roles/api';
import type { Store } from '../../src/store/types';
import { http } from '../helpers/procs';
import { makeStore } from '../helpers/stores';
import { silentLogger } from '../helpers/log';
import { BATCH_DEFAULTS } from '../../src/core/batch';

const ADMIN = 'test-admin-token';
const processing = {
  botQueue: 'bots',
  botLeaseMs: 60_000,
  batch: { ...BATCH_DEFAULTS, size: 3, processingDurationMs: 10, failureRate: 0 },
};
interface Populated {
  batch: string;
  created: number;
  job_ids: string[];
  error?: { message: string; details: { field: string }[] };
}

describe.each(['memory', 'redis'] as const)('%s store', (adapter) => {
  let store: Store;
  let api: RunningApi;
  beforeAll(async () => {
    store = await makeStore(adapter, 'populate-key');
    api = await startApi(store, {
      nodeId: 'api-a',
      port: 0,
      log: silentLogger,
      adminToken: ADMIN,
      botWork: processing,
    });
  });
  afterAll(async () => {
    await api.close(true);
    await store.close();
  });
  const populate = (body: unknown, key?: string) =>
    http<Populated>('POST', `${api.url}/jobs/populate`, body, {
      authorization: `Bearer ${ADMIN}`,
      ...(key === undefined ? {} : { 'idempotency-key': key }),
    });

  test('a repeated key makes nothing and answers the first batch; another batch under it is a 409 naming it', async () => {
    const first = await populate({ count: 2 }, 'nightly-2026-12-01');
    expect([first.status, first.body.created, first.body.job_ids.length]).toEqual([201, 2, 2]);
    const again = await populate({ count: 2 }, 'nightly-2026-12-01');
    expect([again.status, again.body.created, again.body.batch, again.body.job_ids]).toEqual([
      200,
      0,
      first.body.batch,
      first.body.job_ids,
    ]);
    expect(
      (await store.reads.list({ limit: 100 })).jobs.filter(
        (j) => (j.params as { batch?: string }).batch === first.body.batch,
      ),
    ).toHaveLength(2);
    for (const other of [{ count: 3 }, { count: 1 }, { count: 2, type: 'task', params: { a: 1, b: 2 } }]) {
      const refused = await populate(other, 'nightly-2026-12-01');
      expect([refused.status, refused.body.error!.message]).toEqual([
        409,
        expect.stringContaining("'nightly-2026-12-01'"),
      ]);
    }
    expect((await store.reads.list({ limit: 100 })).total).toBe(2);
    // without a key each call makes a batch of its own, as before
    const a = await populate({ count: 1 });
    const b = await populate({ count: 1 });
    expect([a.status, b.status, a.body.batch === b.body.batch]).toEqual([201, 201, false]);
    const long = await populate({ count: 1 }, 'k'.repeat(201));
    expect([long.status, long.body.error!.details[0].field]).toEqual([400, 'Idempotency-Key']);
  });
});
