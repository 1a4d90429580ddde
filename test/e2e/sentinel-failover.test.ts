/**
 * A failover on Sentinel under load, with --durability replica: an API and two workers find the
 * master through three Sentinels; the master is SIGKILLed while tasks are being posted; the
 * Sentinels promote the replica and every role follows it by itself. While the new master has
 * no replica, writes are 503 (not confirmed by a replica), never 500; once the old master is
 * back (the Sentinels make it a replica), every task whose 202 was received exists and finishes
 * once, with its exact result.
 */
import { testPrefix } from '../helpers/env';
import { http, killAll, runWizard, spawnWizard, waitUntil } from '../helpers/procs';
import { freePort } from '../helpers/redis-server';
import { MASTER_NAME, startSentinelSet, TestSentinelSet, waitForSync } from '../helpers/redis-sentinel';

let set: TestSentinelSet;
beforeAll(async () => {
  set = await startSentinelSet();
}, 60_000);
afterAll(async () => {
  await killAll();
  await set?.destroy();
});

type Status = { status: string; result: number | null; attempts?: number };

test('SIGKILL the master under load: the replica is promoted, every role follows, every 202 finishes once with its exact result', async () => {
  // (REDIS_URL names no server: with Sentinels only its scheme and password are used)
  const env = {
    REDIS_URL: 'redis://127.0.0.1:1',
    REDIS_SENTINELS: set.sentinelList,
    REDIS_MASTER_NAME: MASTER_NAME,
    WIZARD_DURABILITY: 'replica',
    WIZARD_PREFIX: testPrefix('sentinel'),
  };
  const port = await freePort();
  const api = `http://127.0.0.1:${port}`;
  const procs = [
    spawnWizard(['api', '--node-id', 'api-1', '--port', String(port)], env, 'api'),
    spawnWizard(['worker', '--node-id', 'worker-1', '--concurrency', '8'], env, 'worker-1'),
    spawnWizard(['worker', '--node-id', 'worker-2', '--concurrency', '8'], env, 'worker-2'),
  ];
  await Promise.all([
    procs[0].waitForOutput(/api listening/),
    procs[1].waitForOutput(/worker started/),
    procs[2].waitForOutput(/worker started/),
  ]);

  const accepted = new Map<string, number>(); // task id → a + b
  const statuses = new Map<number, number>();
  let n = 0;
  let posting = true;
  const poster = async () => {
    while (posting) {
      const a = ++n;
      const r = await http<{ task_id: string }>('POST', `${api}/task`, { a, b: 1000 }).catch(() => null);
      const status = r?.status ?? 0;
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      if (status === 202) accepted.set(r!.body.task_id, a + 1000);
      else await new Promise((res) => setTimeout(res, 50));
    }
  };
  const posters = Array.from({ length: 4 }, poster);
  await waitUntil(async () => accepted.size >= 100, 20_000, '100 tasks accepted before the kill');

  await set.master.stop(true);
  const promoted = await set.waitForFailover(set.master.port);
  expect(promoted).toBe(set.replica.port);
  // the new master has no replica yet: writes are refused as unconfirmed (503)
  const unconfirmed = await waitUntil(
    async () => {
      const r = await http<{ error: { code: string; message: string } }>('POST', `${api}/task`, { a: 1, b: 1 });
      return r.status === 503 && r.body.error.message.includes('not confirmed by a replica') ? r : null;
    },
    15_000,
    'a write refused as not confirmed by a replica',
  );
  expect(unconfirmed.body.error.code).toBe('store_unavailable');

  // the old master comes back empty; the Sentinels make it a replica of the new one
  await set.master.start();
  await waitUntil(
    async () => (await waitForSync(set.master.port, 1000).catch(() => false)) === true,
    30_000,
    'the old master to sync as a replica',
  );
  const atRejoin = accepted.size;
  await waitUntil(async () => accepted.size >= atRejoin + 100, 30_000, '100 tasks accepted after the failover');
  posting = false;
  await Promise.all(posters);

  expect([...statuses.keys()].filter((s) => s !== 202 && s !== 503)).toEqual([]);
  const finals = await waitUntil(
    async () => {
      const all = await Promise.all(
        [...accepted.keys()].map(
          async (id) => [id, (await http<Status>('GET', `${api}/tasks/${id}/status`)).body] as const,
        ),
      );
      return all.every(([, s]) => s.status === 'SUCCESS') ? all : null;
    },
    60_000,
    'every accepted task to finish',
    500,
  );
  // 0 lost (every 202'd id exists, finished), exact results
  expect(finals.length).toBe(accepted.size);
  expect(finals.filter(([id, s]) => s.result !== accepted.get(id))).toEqual([]);
  // 0 duplicated: each accepted task ran once (one attempt), and no finished job is listed twice
  const attempts = await Promise.all(
    [...accepted.keys()].map(
      async (id) => (await http<{ attempts: number }>('GET', `${api}/jobs/${id}`)).body.attempts,
    ),
  );
  expect(attempts.filter((a) => a !== 1)).toEqual([]);
  const listed: string[] = [];
  for (let offset = 0; ; offset += 500) {
    const page = (
      await http<{ total: number; jobs: { job_id: string }[] }>(
        'GET',
        `${api}/jobs?status=SUCCESS&limit=500&offset=${offset}`,
      )
    ).body;
    listed.push(...page.jobs.map((j) => j.job_id));
    if (page.jobs.length < 500) break;
  }
  expect(new Set(listed).size).toBe(listed.length);
  expect([...accepted.keys()].filter((id) => !listed.includes(id))).toEqual([]);
  for (const p of procs) expect(p.proc.exitCode).toBeNull();
  expect(procs.map((p) => p.output()).join('\n')).not.toMatch(/internal error|"status":500/);

  // the container healthcheck of a worker finds the master through the Sentinels too
  const health = runWizard(['healthcheck', '--role', 'worker'], env);
  expect(health.stderr).toBe('');
  expect(health.stdout).toBe(`healthy: worker (redis://127.0.0.1:${promoted})\n`);
  expect(health.code).toBe(0);
}, 150_000);

test.each([
  [['worker', '--redis-master', 'm'], '--redis-master needs --redis-sentinel'],
  [['api', '--redis-sentinel', '127.0.0.1:1'], '--redis-sentinel needs --redis-master'],
  [
    ['scheduler', '--redis-sentinel', '127.0.0.1', '--redis-master', 'm'],
    "--redis-sentinel takes host:port[,host:port…], got '127.0.0.1'",
  ],
  [['worker', '--durability', 'all'], '--durability'],
  [['up', '--durability', 'replica'], '--durability replica needs Redis'],
])('usage error: wizard %j exits 2 naming the flag', (args, message) => {
  const r = runWizard(args as string[], { REDIS_URL: (args as string[])[0] === 'up' ? '' : 'redis://127.0.0.1:1' }); // up: no Redis, the in-memory store
  expect(r.code).toBe(2);
  expect(r.stderr).toContain(message);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
});
