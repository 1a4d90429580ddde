/**
 * wizard on a real Redis Cluster (3 masters, a replica each): 1 api and 2 workers given one
 * node's URL. Tasks and prime counts come out exact, the work spreads over every master, and a
 * master SIGKILLed under load is replaced by its replica with nothing lost, nothing run twice and
 * no answer a 500 (a 503 while the slots are down is allowed).
 */
import { testPrefix } from '../helpers/env';
import { startRedisCluster, TestCluster } from '../helpers/redis-cluster';
import { ClusterRoles, startRolesOnCluster, startTaskLoad } from '../helpers/cluster-roles';
import { http, killAll, runWizardAsync, waitUntil, WizardProc } from '../helpers/procs';

interface TaskStatus {
  task_id: string;
  status: string;
  result: number | null;
  handled_by: string | null;
}

let cluster: TestCluster;
let roles: ClusterRoles;
let api: string;
let workers: WizardProc[];
const prefix = testPrefix('redis-cluster');

beforeAll(async () => {
  cluster = await startRedisCluster({ nodeTimeoutMs: 2000 });
  roles = await startRolesOnCluster(cluster, prefix, ['worker-1', 'worker-2']);
  ({ api, workers } = roles);
}, 90_000);
afterAll(async () => {
  await killAll();
  await cluster?.destroy();
});

/** the job keys of this prefix that a node holds (SCAN on that node only) */
async function jobKeysOn(port: number): Promise<number> {
  const out = await cluster.cli(port, '--scan', '--pattern', `{${prefix}*job:*`);
  return out.split('\n').filter((l) => l !== '' && !l.endsWith(':children') && !l.endsWith(':results')).length;
}

async function finished(id: string, timeoutMs = 60_000): Promise<TaskStatus> {
  return waitUntil(
    async () => {
      const res = await http<TaskStatus>('GET', `${api}/tasks/${id}/status`);
      return res.status === 200 && (res.body.status === 'SUCCESS' || res.body.status === 'FAILURE') ? res.body : null;
    },
    timeoutMs,
    `task ${id}`,
    100,
  );
}

test('tasks and prime counts are exact, spread over every master, listed and counted across shards', async () => {
  const tasks: { id: string; sum: number }[] = [];
  for (let i = 0; i < 60; i++) {
    const res = await http<{ task_id: string }>('POST', `${api}/task`, { a: i, b: 1000 });
    expect(res.status).toBe(202);
    tasks.push({ id: res.body.task_id, sum: i + 1000 });
  }
  const primes = await Promise.all(
    [
      [1_000_003, 7, 78_499],
      [10_000_000, 16, 664_579],
      [2_000_000, 3, 148_933],
    ].map(async ([n, chunks, count]) => {
      const res = await http<{ job_id: string }>('POST', `${api}/api/count-primes`, { n, chunks });
      expect(res.status).toBe(202);
      return { id: res.body.job_id, count };
    }),
  );
  for (const t of tasks) expect(await finished(t.id)).toMatchObject({ status: 'SUCCESS', result: t.sum });
  for (const p of primes) {
    const done = await waitUntil(
      async () => {
        const { body } = await http<{ state: string; result: { prime_count: number } | null }>(
          'GET',
          `${api}/api/jobs/${p.id}`,
        );
        return body.state === 'SUCCESS' || body.state === 'FAILURE' ? body : null;
      },
      60_000,
      `prime count ${p.id}`,
      100,
    );
    expect(done).toMatchObject({ state: 'SUCCESS', result: { prime_count: p.count } });
    // a count's chunks live in its own shard: their ids name the parent's
    const { body } = await http<{ chunks: { job_id: string }[] }>('GET', `${api}/jobs/${p.id}/chunks`);
    const shardOf = (id: string) => /^s\d+-/.exec(id)?.[0] ?? '';
    expect(new Set(body.chunks.map((c) => shardOf(c.job_id)))).toEqual(new Set([shardOf(p.id)]));
  }
  // every master holds jobs
  const masters = await cluster.masters();
  expect(masters).toHaveLength(3);
  const perMaster = await Promise.all(masters.map((m) => jobKeysOn(m.port)));
  expect({ perMaster, everyMasterHasWork: perMaster.every((n) => n > 0) }).toEqual({
    perMaster,
    everyMasterHasWork: true,
  });
  // tasks + counts + chunks (7 + 16 + 3)
  expect(perMaster.reduce((a, b) => a + b, 0)).toBe(60 + 3 + 26);
  // GET /jobs pages across shards: every top-level job once, newest first
  const seen: string[] = [];
  for (let offset = 0; ; offset += 25) {
    const { body } = await http<{ total: number; jobs: { job_id: string }[] }>(
      'GET',
      `${api}/jobs?offset=${offset}&limit=25`,
    );
    expect(body.total).toBe(63);
    if (body.jobs.length === 0) break;
    seen.push(...body.jobs.map((j) => j.job_id));
  }
  expect(seen.length).toBe(63);
  expect(new Set(seen)).toEqual(new Set([...tasks.map((t) => t.id), ...primes.map((p) => p.id)]));
  // the image's healthcheck finds the prefix on the node that holds its format key (a MOVED away)
  for (const url of [cluster.url, ...cluster.nodes.slice(0, 3).map((n) => n.url)]) {
    const check = await runWizardAsync(['healthcheck', '--role', 'worker'], { REDIS_URL: url, WIZARD_PREFIX: prefix }); // not spawnSync: this process goes on serving its sockets
    expect({ url, code: check.code, stderr: check.stderr }).toEqual({ url, code: 0, stderr: '' });
  }
  const summary = await http<{ jobs: { total: number; by_state: Record<string, number> } }>(
    'GET',
    `${api}/metrics/summary`,
  );
  expect(summary.body.jobs).toMatchObject({ total: 63, by_state: { SUCCESS: 63, PENDING: 0, STARTED: 0 } });
}, 120_000);

/** tasks done before a test that adds load (the first test's 63, then each load's) */
let doneBefore = 63;

test('a master SIGKILLed under load: its replica takes over, 0 lost, 0 run twice, exact results, no 500', async () => {
  const load = startTaskLoad(roles);
  await load.more(50, 'before the failover');
  const [victim] = await cluster.masters();
  await cluster.kill(victim.port);
  // the replica is promoted after cluster-node-timeout (2 s)
  await waitUntil(
    async () =>
      (await cluster.masters()).length === 3 && !(await cluster.masters()).some((m) => m.port === victim.port),
    30_000,
    'a replica promoted',
    200,
  );
  await load.more(50, 'after the failover');
  doneBefore = await load.stopAndCheck(doneBefore);
  expect(workers.every((w) => w.output().includes('worker started'))).toBe(true);
}, 180_000);
