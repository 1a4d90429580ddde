/**
 * A real Redis Cluster for tests: 3 masters with a replica each (6 `redis-server
 * --cluster-enabled yes` on free ports, each in a temp dir of its own), made by `redis-cli
 * --cluster create`, ready when every node says cluster_state:ok and every replica finished its
 * first sync (master_link_status:up: a replica that has not cannot take over). Stopped after.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { freeClusterPorts, startRedisServer, TestRedis } from './redis-server';

const run = promisify(execFile);

export interface TestCluster {
  nodes: TestRedis[];
  /** every node, comma-separated: a `--redis` value */
  url: string;
  /** the URL of one node (any works as `--redis`) */
  seed: string;
  /** `redis-cli -p <port> <args>` answer */
  cli(port: number, ...args: string[]): Promise<string>;
  /** the masters now (not failed), by port */
  masters(): Promise<{ port: number; id: string }[]>;
  /** SIGKILL the node on `port` (it is left out of waitHealthy from then on) */
  kill(port: number): Promise<void>;
  /** wait until every node answers cluster_state:ok and every replica is in sync */
  waitHealthy(ms?: number): Promise<void>;
  destroy(): Promise<void>;
}

/** `redis-cli -p <port> <args>`'s answer */
export const clusterCli = async (port: number, ...args: string[]): Promise<string> =>
  (await run('redis-cli', ['-p', String(port), ...args], { timeout: 30_000 })).stdout;

/** wait until every node on `ports` answers cluster_state:ok and every replica among them is in sync */
export async function waitClusterHealthy(ports: () => number[], ms = 30_000): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    const ok = await Promise.all(
      ports().map(async (port) => {
        try {
          const info = await clusterCli(port, 'INFO', 'replication');
          const state = await clusterCli(port, 'CLUSTER', 'INFO');
          return /cluster_state:ok/.test(state) && (!/role:slave/.test(info) || /master_link_status:up/.test(info));
        } catch {
          return false;
        }
      }),
    ).catch(() => [false]);
    if (ok.every(Boolean)) return;
    if (Date.now() > until) throw new Error('the test cluster did not become healthy');
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function startRedisCluster(
  opts: { masters?: number; replicas?: number; nodeTimeoutMs?: number; ports?: number[] } = {},
): Promise<TestCluster> {
  const masters = opts.masters ?? 3;
  const replicas = opts.replicas ?? 1;
  const count = masters * (1 + replicas);
  // started side by side: each waits for its port to open
  const ports = opts.ports ?? (await freeClusterPorts(count));
  const nodes: TestRedis[] = await Promise.all(
    Array.from({ length: count }, (_, i) =>
      startRedisServer({
        port: ports[i],
        extraArgs: [
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          'nodes.conf',
          '--cluster-node-timeout',
          String(opts.nodeTimeoutMs ?? 2000),
        ],
      }),
    ),
  );
  const cli = clusterCli;
  if (masters === 1 && replicas === 0) {
    await cli(nodes[0].port, 'CLUSTER', 'ADDSLOTSRANGE', '0', '16383');
  } else {
    await run(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...nodes.map((n) => `127.0.0.1:${n.port}`),
        '--cluster-replicas',
        String(replicas),
        '--cluster-yes',
      ],
      { timeout: 60_000 },
    );
  }
  const down = new Set<TestRedis>();
  const alive = () => nodes.filter((n) => !down.has(n));
  const waitHealthy = (ms = 30_000) => waitClusterHealthy(() => alive().map((n) => n.port), ms);
  await waitHealthy();
  return {
    nodes,
    url: nodes.map((n) => n.url).join(','),
    seed: nodes[0].url,
    cli,
    waitHealthy,
    async kill(port: number) {
      const n = nodes.find((x) => x.port === port)!;
      down.add(n);
      await n.stop(true);
    },
    async masters() {
      const out: { port: number; id: string }[] = [];
      for (const line of (await cli(alive()[0].port, 'CLUSTER', 'NODES')).split('\n')) {
        const [id, addr, flags] = line.split(' ');
        if (flags && /master/.test(flags) && !/fail/.test(flags))
          out.push({ port: Number(addr.split(':')[1].split('@')[0]), id });
      }
      return out.sort((a, b) => a.port - b.port);
    },
    async destroy() {
      await Promise.all(nodes.map((n) => n.destroy()));
    },
  };
}
