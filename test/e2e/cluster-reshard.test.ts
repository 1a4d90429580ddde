/**
 * A live resharding on a real Redis Cluster (3 masters): while an api takes tasks as fast as it
 * answers and two workers run them, the slots of two busy shards (shard 0's and a shard whose jobs
 * are seen) are moved to another master by hand, the way `redis-cli --cluster reshard` does it
 * (CLUSTER SETSLOT IMPORTING / MIGRATING, MIGRATE a few keys at a time with pauses, so the slot
 * stays half moved for a while, then SETSLOT NODE). Every accepted task is done once with its
 * exact result at its first attempt, nothing is left or failed, no answer is a 500, and the
 * shards' keys end on their new master.
 */
import { ClusterRoles, startRolesOnCluster, startTaskLoad } from '../helpers/cluster-roles';
import { testPrefix } from '../helpers/env';
import { startRedisCluster, TestCluster } from '../helpers/redis-cluster';
import { killAll } from '../helpers/procs';

let cluster: TestCluster;
let roles: ClusterRoles;
const prefix = testPrefix('reshard');

beforeAll(async () => {
  cluster = await startRedisCluster({ replicas: 0 });
  // two workers on 3 s leases, shorter than a slot's move on a loaded machine: while the slot is
  // half moved no script of its shard runs (TRYAGAIN), renewals and reaps alike, so leases lapse;
  // once it settles neither worker's reaper takes back a job its holder still holds (the gap rule)
  roles = await startRolesOnCluster(cluster, prefix, ['worker-1', 'worker-2']);
}, 60_000);
afterAll(async () => {
  await killAll();
  await cluster?.destroy();
});

/** the master (port, id) that serves `slot` now */
async function ownerOf(slot: number): Promise<{ port: number; id: string }> {
  const masters = await cluster.masters();
  for (const m of masters) {
    const line = (await cluster.cli(m.port, 'CLUSTER', 'NODES')).split('\n').find((l) => l.includes('myself'))!;
    const ranges = line.split(' ').slice(8);
    if (
      ranges.some(
        (r) =>
          !r.startsWith('[') &&
          (r.includes('-') ? Number(r.split('-')[0]) <= slot && slot <= Number(r.split('-')[1]) : Number(r) === slot),
      )
    )
      return m;
  }
  throw new Error(`no master serves slot ${slot}`);
}

/** move `slot` to another master as redis-cli --cluster reshard does, 3 keys a MIGRATE, with pauses; the keys moved */
async function reshard(slot: number): Promise<{ from: number; to: number; keys: number }> {
  const from = await ownerOf(slot);
  const to = (await cluster.masters()).find((m) => m.port !== from.port)!;
  await cluster.cli(to.port, 'CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', from.id);
  await cluster.cli(from.port, 'CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', to.id);
  let keys = 0;
  for (;;) {
    const batch = (await cluster.cli(from.port, 'CLUSTER', 'GETKEYSINSLOT', String(slot), '3'))
      .split('\n')
      .filter((k) => k !== '');
    if (batch.length === 0) break;
    const out = await cluster.cli(
      from.port,
      'MIGRATE',
      '127.0.0.1',
      String(to.port),
      '',
      '0',
      '5000',
      'KEYS',
      ...batch,
    );
    expect({ batch, out: out.trim() }).toEqual({ batch, out: 'OK' });
    keys += batch.length;
    await new Promise((r) => setTimeout(r, 20));
  }
  for (const m of [to, from, ...(await cluster.masters()).filter((x) => x.port !== to.port && x.port !== from.port)]) {
    await cluster.cli(m.port, 'CLUSTER', 'SETSLOT', String(slot), 'NODE', to.id);
  }
  return { from: from.port, to: to.port, keys };
}

test('slots of busy shards moved while two workers and producers run: 0 lost, 0 twice, exact, first attempts, no 500', async () => {
  const load = startTaskLoad(roles, 2);
  const { accepted } = load;
  await load.more(200, 'before the resharding');
  // shard 0 ({prefix}: config, bots, jobs with plain ids) and the shard of a task seen (s<N>-...)
  const tags = JSON.parse(
    (await cluster.cli(cluster.nodes[0].port, '-c', 'HGET', `{${prefix}}:config`, 'shard_tags')).trim(),
  ) as string[];
  const other = accepted.map((t) => /^s(\d+)-/.exec(t.id)).find((m) => m !== null);
  const hashTags = [prefix, ...(other ? [`${prefix}:${tags[Number(other[1])]}`] : [])];
  const moves = [];
  for (const tag of hashTags) {
    const slot = Number((await cluster.cli(cluster.nodes[0].port, 'CLUSTER', 'KEYSLOT', tag)).trim());
    const before = accepted.length;
    const move = await reshard(slot);
    moves.push({ tag, slot, ...move, acceptedDuring: accepted.length - before });
    expect((await ownerOf(slot)).port).toBe(move.to);
  }
  await load.more(100, 'after the resharding');
  expect(hashTags).toHaveLength(2);
  for (const m of moves) {
    expect({ tag: m.tag, moved: m.keys > 0, workWhileMoving: m.acceptedDuring > 0 }).toEqual({
      tag: m.tag,
      moved: true,
      workWhileMoving: true,
    });
  }
  await load.stopAndCheck(0, { firstAttempt: true });
  // the moved shards' job keys are on their new masters only
  for (const m of moves) {
    const pattern = `{${m.tag}}:job:*`;
    const on = async (port: number) =>
      (await cluster.cli(port, '--scan', '--pattern', pattern)).split('\n').filter((l) => l !== '').length;
    expect({ tag: m.tag, onOld: await on(m.from), onNewSome: (await on(m.to)) > 0 }).toEqual({
      tag: m.tag,
      onOld: 0,
      onNewSome: true,
    });
  }
}, 90_000);
