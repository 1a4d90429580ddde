/** The dead-letter queue through the API and the CLI: list, retry (then it runs), purge; admin only. */
import { spawnSync } from 'node:child_process';
import { RedisStore } from '../../src/store/redis';
import { testPrefix, testRedisUrl } from '../helpers/env';
import { http, killAll, spawnWizard, waitUntil, WIZARD_BIN } from '../helpers/procs';
import { freePort } from '../helpers/redis-server';

const ADMIN = 'dlq-admin-token-0123456';
const prefix = testPrefix('dlq');
const env = { REDIS_URL: testRedisUrl(), WIZARD_PREFIX: prefix, ADMIN_TOKEN: ADMIN };
let api: string;
let store: RedisStore;

beforeAll(async () => {
  const port = await freePort();
  api = `http://127.0.0.1:${port}`;
  await spawnWizard(['api', '--port', String(port)], env, 'api').waitForOutput(/api listening/);
  store = await new RedisStore({ url: testRedisUrl(), prefix }).connect();
});
afterAll(async () => {
  await store.close();
  await killAll();
});

/** jobs that died: claimed by a consumer that never finished, out of attempts */
async function killJobs(n: number): Promise<string[]> {
  const jobs = await store.jobs.enqueue(
    Array.from({ length: n }, (_, i) => ({ type: 'task' as const, params: { a: i, b: 1, op: 'add' }, maxAttempts: 1 })),
  );
  const { jobs: held } = await store.jobs.claim('default', { consumer: 'ghost', max: n, leaseMs: 1 });
  expect(held).toHaveLength(n);
  await new Promise((r) => setTimeout(r, 10));
  expect((await store.jobs.reap('default')).dead.sort()).toEqual(jobs.map((j) => j.id).sort());
  return jobs.map((j) => j.id);
}

const cli = (...args: string[]) =>
  spawnSync(process.execPath, [WIZARD_BIN, 'dlq', ...args, '--api', api], {
    encoding: 'utf8',
    env: { ...process.env, WIZARD_TOKEN: ADMIN },
  });
const auth = { authorization: `Bearer ${ADMIN}` };

test('the DLQ needs the admin token', async () => {
  expect((await http('GET', `${api}/dlq`)).status).toBe(401);
  expect((await fetch(`${api}/dlq`, { method: 'DELETE', headers: { authorization: 'Bearer wrong' } })).status).toBe(
    401,
  );
});

test('list, retry (the job then runs to SUCCESS from zero attempts) and purge', async () => {
  const dead = await killJobs(3);
  const listed = (await (await fetch(`${api}/dlq`, { headers: auth })).json()) as {
    total: number;
    jobs: { job_id: string }[];
  };
  expect(listed.total).toBe(3);
  expect(listed.jobs.map((j: { job_id: string }) => j.job_id).sort()).toEqual([...dead].sort());
  expect(listed.jobs[0]).toMatchObject({
    state: 'DEAD',
    attempts: 1,
    error: expect.stringContaining('lease expired (held by ghost'),
  });

  const viaCli = cli('list', '--json');
  expect(viaCli.status).toBe(0);
  expect(JSON.parse(viaCli.stdout).total).toBe(3);

  const retried = cli('retry', dead[0], '--json');
  expect(retried.status).toBe(0);
  expect(JSON.parse(retried.stdout)).toMatchObject({ job_id: dead[0], state: 'PENDING', attempts: 0 });
  expect(cli('retry', dead[0]).status).toBe(1); // no longer dead: a 409
  const worker = spawnWizard(['worker', '--node-id', 'dlq-worker'], env, 'worker');
  const done = await waitUntil(
    async () => {
      const j = await store.reads.job(dead[0]);
      return j?.state === 'SUCCESS' ? j : null;
    },
    15_000,
    'the retried job to succeed',
  );
  expect(done).toMatchObject({ result: 1, attempts: 1, handledBy: 'dlq-worker' });
  await worker.kill('SIGTERM');

  const purged = cli('purge', '--json');
  expect(JSON.parse(purged.stdout)).toEqual({ purged: 2 });
  expect(((await (await fetch(`${api}/dlq`, { headers: auth })).json()) as { total: number }).total).toBe(0);
  expect(await store.reads.job(dead[1])).toBeNull();
}, 40_000);
