/**
 * --durability replica on a real Redis Cluster (3 masters, a replica each): each acknowledged
 * write waits on its shard's master for that master's replica. With one replica stopped
 * (SIGSTOP) the writes to its master's shards are 503s within the timeout while the other
 * shards still take writes; a master SIGKILLed right after acknowledged writes loses none of
 * them on its promoted replica. No worker runs: every accepted task stays PENDING, to be found.
 */
import { testPrefix } from '../helpers/env';
import { startRedisCluster, TestCluster } from '../helpers/redis-cluster';
import { freePort } from '../helpers/redis-server';
import { http, killAll, spawnWizard, waitUntil } from '../helpers/procs';

let cluster: TestCluster;
let api: string;
const prefix = testPrefix('cluster-durable');

beforeAll(async () => {
  cluster = await startRedisCluster({ nodeTimeoutMs: 2000 });
  const port = await freePort();
  api = `http://127.0.0.1:${port}`;
  const env = { REDIS_URL: cluster.seed, WIZARD_PREFIX: prefix };
  const p = spawnWizard(
    ['api', '--node-id', 'api-1', '--port', String(port), '--durability', 'replica', '--durability-timeout-ms', '500'],
    env,
    'api',
  );
  await p.waitForOutput(/api listening/);
}, 60_000);
afterAll(async () => {
  await killAll();
  await cluster?.destroy();
});

/** every master with its replica's port, from CLUSTER NODES */
async function pairs(): Promise<{ master: number; replica: number }[]> {
  const lines = (await cluster.cli(cluster.nodes[0].port, 'CLUSTER', 'NODES'))
    .split('\n')
    .filter((l) => l !== '' && !/fail/.test(l));
  const port = (addr: string) => Number(addr.split(':')[1].split('@')[0]);
  const byId = new Map(lines.map((l) => [l.split(' ')[0], port(l.split(' ')[1])]));
  return lines
    .filter((l) => /slave/.test(l.split(' ')[2]))
    .map((l) => ({ master: byId.get(l.split(' ')[3])!, replica: port(l.split(' ')[1]) }));
}

const pidOf = async (p: number) => Number(/process_id:(\d+)/.exec(await cluster.cli(p, 'INFO', 'server'))![1]);

/** the number of the given jobs whose record the node on `port` holds */
async function jobsOn(port: number, ids: string[]): Promise<number> {
  let n = 0;
  for (const id of ids)
    if ((await cluster.cli(port, '--scan', '--pattern', `{${prefix}*}:job:${id}`)).trim() !== '') n++;
  return n;
}

async function post(n: number): Promise<{ accepted: string[]; statuses: Record<number, number> }> {
  const accepted: string[] = [];
  const statuses: Record<number, number> = {};
  for (let i = 0; i < n; i++) {
    const res = await http<{ task_id: string }>('POST', `${api}/task`, { a: i, b: 1 });
    statuses[res.status] = (statuses[res.status] ?? 0) + 1;
    if (res.status === 202) accepted.push(res.body.task_id);
  }
  return { accepted, statuses };
}

test('a master whose replica is stopped: writes to its shards are 503s, the other shards take theirs', async () => {
  const [pair] = await pairs();
  const pid = await pidOf(pair.replica);
  process.kill(pid, 'SIGSTOP');
  try {
    const { accepted, statuses } = await post(30);
    expect(Object.keys(statuses).sort()).toEqual(['202', '503']);
    expect(await jobsOn(pair.master, accepted)).toBe(0);
    expect(accepted.length).toBe(statuses[202]);
  } finally {
    process.kill(pid, 'SIGCONT');
  }
  await cluster.waitHealthy();
  const { statuses } = await post(12);
  expect(statuses).toEqual({ 202: 12 });
}, 90_000);

test('a master SIGKILLed right after acknowledged writes: every one is on its promoted replica', async () => {
  const [pair] = await pairs();
  const { accepted, statuses } = await post(30);
  expect(statuses).toEqual({ 202: 30 });
  const onVictim = await jobsOn(pair.master, accepted);
  expect(onVictim).toBeGreaterThan(0);
  await cluster.kill(pair.master);
  await waitUntil(
    async () => (await cluster.masters()).some((m) => m.port === pair.replica),
    30_000,
    'the replica promoted',
    200,
  );
  expect(await jobsOn(pair.replica, accepted)).toBe(onVictim);
  for (const id of accepted) {
    const res = await waitUntil(
      async () => {
        const r = await http<{ state: string }>('GET', `${api}/jobs/${id}`);
        return r.status === 503 ? null : r;
      },
      30_000,
      `job ${id}`,
      200,
    );
    expect({ id, status: res.status, state: res.body.state }).toEqual({ id, status: 200, state: 'PENDING' });
  }
}, 90_000);
