/**
 * The jobs list filtered by type and queue, and the bulk actions on a filtered set (admin):
 * retry every DEAD and FAILURE job, cancel every job that has not finished; over real HTTP on a
 * real Redis, each call bounded and saying whether more remain.
 */
import { startApi, RunningApi } from '../../src/roles/api';
import type { NewJob } from '../../src/core/job';
import type { Store } from '../../src/store/types';
import { http } from '../helpers/procs';
import { makeStore } from '../helpers/stores';
import { silentLogger } from '../helpers/log';

const ADMIN = 'bulk-admin-token';
const admin = { authorization: `Bearer ${ADMIN}` };

let store: Store;
let api: RunningApi;
const url = (path: string) => `${api.url}${path}`;

interface Page {
  total: number;
  type: string | null;
  queue: string | null;
  partial: boolean;
  jobs: { job_id: string; type: string; queue: string; state: string }[];
}
interface Bulk {
  matched: number;
  acted: number;
  skipped: number;
  more: boolean;
  job_ids: string[];
}
const task = (queue: string, type = 'task'): NewJob => ({
  type,
  params: { a: 1, b: 0, op: 'div' },
  queue,
  maxAttempts: 1,
});

/** a job of the queue failed to `to` (held by the test, then failed) */
async function failed(queue: string, to: 'DEAD' | 'FAILURE', type = 'task'): Promise<string> {
  const [job] = await store.jobs.enqueue([task(queue, type)]);
  const { jobs } = await store.jobs.claim(queue, { consumer: 'bulk-test', max: 1, leaseMs: 30_000 });
  await store.jobs.fail(job.id, jobs[0].token, 'b must not be 0', { to });
  return job.id;
}

beforeAll(async () => {
  store = await makeStore('redis', 'jobs-bulk-api');
  api = await startApi(store, { nodeId: 'api-bulk', port: 0, log: silentLogger, adminToken: ADMIN });
});
afterAll(async () => {
  await api.close(true);
  await store.close();
});

test('GET /jobs?type=&queue=: only the jobs of that type and queue, with the state too; a bad name is a 400 naming the field', async () => {
  await store.jobs.enqueue([task('list-a'), task('list-a', 'sim'), task('list-b'), task('list-b', 'sim')]);
  const page = await http<Page>('GET', url('/jobs?type=sim&queue=list-a'));
  expect(page.status).toBe(200);
  expect(page.body).toMatchObject({ total: 1, type: 'sim', queue: 'list-a', partial: false });
  expect(page.body.jobs.map((j) => [j.type, j.queue])).toEqual([['sim', 'list-a']]);
  const pending = await http<Page>('GET', url('/jobs?status=pending&queue=list-b'));
  expect(pending.body.jobs.map((j) => [j.type, j.state]).sort()).toEqual([
    ['sim', 'PENDING'],
    ['task', 'PENDING'],
  ]);
  expect((await http<Page>('GET', url('/jobs'))).body).toMatchObject({ type: null, queue: null, partial: false });
  for (const [query, field] of [
    ['type=a%20b', 'type'],
    ['queue=', 'queue'],
  ]) {
    const bad = await http<{ error: { details: { field: string }[] } }>('GET', url(`/jobs?${query}`));
    expect([query, bad.status, bad.body.error.details.map((d) => d.field)]).toEqual([query, 400, [field]]);
  }
});

test('POST /jobs/retry: every DEAD and FAILURE job of the filter back on its queue; others untouched; admin only', async () => {
  const dead = [await failed('retry-a', 'DEAD'), await failed('retry-a', 'DEAD')];
  const failure = await failed('retry-a', 'FAILURE');
  const other = await failed('retry-b', 'DEAD');
  expect((await http('POST', url('/jobs/retry'), { queue: 'retry-a' })).status).toBe(401);
  const onlyDead = await http<Bulk>('POST', url('/jobs/retry'), { queue: 'retry-a', status: 'dead' }, admin);
  expect(onlyDead.status).toBe(200);
  expect(onlyDead.body).toMatchObject({ matched: 2, acted: 2, skipped: 0, more: false });
  expect(onlyDead.body.job_ids.sort()).toEqual([...dead].sort());
  for (const id of dead) expect(await store.reads.job(id)).toMatchObject({ state: 'PENDING', attempts: 0 });
  expect(await store.reads.job(failure)).toMatchObject({ state: 'FAILURE' });
  const rest = await http<Bulk>('POST', url('/jobs/retry'), { queue: 'retry-a' }, admin);
  expect(rest.body).toMatchObject({ matched: 1, acted: 1, job_ids: [failure], more: false });
  expect(await store.reads.job(failure)).toMatchObject({ state: 'PENDING' });
  expect(await store.reads.job(other)).toMatchObject({ state: 'DEAD' });
  const bad = await http<{ error: { details: { field: string; message: string }[] } }>(
    'POST',
    url('/jobs/retry'),
    { status: 'PENDING' },
    admin,
  );
  expect(bad.status).toBe(400);
  expect(bad.body.error.details).toEqual([{ field: 'status', message: 'must be one of FAILURE, DEAD' }]);
  expect((await http('POST', url('/jobs/retry'), { nope: 1 }, admin)).status).toBe(400);
});

test('POST /jobs/cancel: every job of the filter that has not finished, waiting or held; finished ones untouched', async () => {
  const deadOne = await failed('cancel-a', 'DEAD');
  const waiting = await store.jobs.enqueue([task('cancel-a'), task('cancel-a'), task('cancel-a', 'sim')]);
  const { jobs: held } = await store.jobs.claim('cancel-a', { consumer: 'bulk-test', max: 1, leaseMs: 30_000 });
  const keep = await store.jobs.enqueue([task('cancel-b')]);
  const sims = await http<Bulk>('POST', url('/jobs/cancel'), { queue: 'cancel-a', type: 'sim' }, admin);
  expect(sims.body).toMatchObject({ matched: 1, acted: 1, job_ids: [waiting[2].id] });
  const all = await http<Bulk>('POST', url('/jobs/cancel'), { queue: 'cancel-a' }, admin);
  expect(all.body).toMatchObject({ matched: 2, acted: 2, skipped: 0, more: false });
  expect(all.body.job_ids).toContain(held[0].job.id);
  for (const j of waiting) expect(await store.reads.job(j.id)).toMatchObject({ state: 'CANCELLED' });
  expect(await store.reads.job(deadOne)).toMatchObject({ state: 'DEAD' });
  expect(await store.reads.job(keep[0].id)).toMatchObject({ state: 'PENDING' });
  expect((await http<Bulk>('POST', url('/jobs/cancel'), { queue: 'cancel-a' }, admin)).body).toMatchObject({
    matched: 0,
    acted: 0,
    more: false,
  });
});

interface Cleaned {
  deleted: number;
  skipped: number;
  more: boolean;
  cursor: string | null;
  job_ids: string[];
}

test('DELETE /jobs: every finished job of the filter deleted, a call at a time from its cursor; counts exact; admin only, final states only', async () => {
  const dead = [await failed('clean-a', 'DEAD'), await failed('clean-a', 'DEAD')];
  const failure = await failed('clean-a', 'FAILURE');
  const sim = await failed('clean-a', 'DEAD', 'sim');
  const other = await failed('clean-b', 'DEAD');
  const [waiting] = await store.jobs.enqueue([task('clean-a')]);
  const before = await store.reads.countByState();
  expect((await http('DELETE', url('/jobs?queue=clean-a'))).status).toBe(401);
  const bad = await http<{ error: { details: { field: string; message: string }[] } }>(
    'DELETE',
    url('/jobs?status=pending'),
    undefined,
    admin,
  );
  expect(bad.status).toBe(400);
  expect(bad.body.error.details).toEqual([
    { field: 'status', message: 'must be one of SUCCESS, FAILURE, DEAD, CANCELLED, SKIPPED' },
  ]);
  const badCursor = await http<{ error: { details: { field: string }[] } }>(
    'DELETE',
    url('/jobs?status=dead&cursor=x'),
    undefined,
    admin,
  );
  expect([badCursor.status, badCursor.body.error.details.map((d) => d.field)]).toEqual([400, ['cursor']]);

  const deadTasks = await http<Cleaned>('DELETE', url('/jobs?status=dead&type=task&queue=clean-a'), undefined, admin);
  expect(deadTasks.status).toBe(200);
  expect(deadTasks.body).toMatchObject({ deleted: 2, skipped: 0, more: false, cursor: null });
  expect(deadTasks.body.job_ids.sort()).toEqual([...dead].sort());
  for (const id of dead) expect(await store.reads.job(id)).toBeNull();
  expect(await store.reads.countByState()).toEqual({ ...before, DEAD: before.DEAD - 2 });

  const rest = await http<Cleaned>('DELETE', url('/jobs?queue=clean-a'), undefined, admin);
  expect(rest.body).toMatchObject({ deleted: 2, more: false });
  expect(rest.body.job_ids.sort()).toEqual([failure, sim].sort());
  expect(await store.reads.job(other)).toMatchObject({ state: 'DEAD' });
  expect(await store.reads.job(waiting.id)).toMatchObject({ state: 'PENDING' });
});

test('DELETE /jobs: more than one call holds goes on from the cursor until more is false', async () => {
  const made = await store.jobs.enqueue(Array.from({ length: 520 }, () => task('clean-many')));
  for (const j of made) await store.jobs.cancel(j.id);
  const first = await http<Cleaned>('DELETE', url('/jobs?status=cancelled&queue=clean-many'), undefined, admin);
  expect(first.body).toMatchObject({ deleted: 500, more: true });
  const second = await http<Cleaned>(
    'DELETE',
    url(`/jobs?status=cancelled&queue=clean-many&cursor=${encodeURIComponent(first.body.cursor!)}`),
    undefined,
    admin,
  );
  expect(second.body).toMatchObject({ deleted: 20, more: false, cursor: null });
  expect([...first.body.job_ids, ...second.body.job_ids].sort()).toEqual(made.map((j) => j.id).sort());
});
