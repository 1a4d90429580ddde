/**
 * A Sentinel set for tests: a master, a replica that has finished its first sync
 * (master_link_status:up) and three Sentinels monitoring them as `m` (quorum 2, down after 1 s,
 * failover timeout 3 s), each a real redis-server on a free port in a temp dir of its own.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createClient } from 'redis';
import { freePort, startRedisServer, TestRedis } from './redis-server';

export const MASTER_NAME = 'm';

export interface TestSentinelSet {
  master: TestRedis;
  replica: TestRedis;
  sentinels: TestRedis[];
  /** "127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3", as --redis-sentinel takes it */
  sentinelList: string;
  /** the port the Sentinels name as the master now */
  masterPort(): Promise<number>;
  /** until the Sentinels name another master than fromPort (a failover done), and it answers as one */
  waitForFailover(fromPort: number, timeoutMs?: number): Promise<number>;
  destroy(): Promise<void>;
}

/** one command on a connection of its own */
export async function redisCommand(port: number, args: string[]): Promise<unknown> {
  const c = createClient({ socket: { host: '127.0.0.1', port, reconnectStrategy: false, connectTimeout: 2000 } });
  c.on('error', () => undefined);
  try {
    await c.connect();
    return await c.sendCommand(args);
  } finally {
    c.destroy();
  }
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | null>): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const got = await probe().catch(() => null);
    if (got !== null) return got;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** until the replica on port has finished its sync with its master */
export const waitForSync = (port: number, timeoutMs = 15_000): Promise<true> =>
  until(`the replica on ${port} to sync`, timeoutMs, async () => (/master_link_status:up/.test(String(await redisCommand(port, ['INFO', 'replication']))) ? true : null));

export async function startSentinelSet(): Promise<TestSentinelSet> {
  const master = await startRedisServer({ extraArgs: ['--enable-debug-command', 'local'] });
  const replica = await startRedisServer({ extraArgs: ['--replicaof', '127.0.0.1', String(master.port), '--enable-debug-command', 'local'] });
  await waitForSync(replica.port);
  const sentinels: TestRedis[] = [];
  for (let i = 0; i < 3; i++) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wizard-sentinel-'));
    const configFile = path.join(dir, 'sentinel.conf');
    fs.writeFileSync(
      configFile,
      [
        `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${master.port} 2`,
        `sentinel down-after-milliseconds ${MASTER_NAME} 1000`,
        `sentinel failover-timeout ${MASTER_NAME} 3000`,
        `sentinel parallel-syncs ${MASTER_NAME} 1`,
        '',
      ].join('\n'),
    );
    sentinels.push(await startRedisServer({ port: await freePort(), dir, configFile, extraArgs: ['--sentinel'] }));
  }
  const masterPort = async () => Number(((await redisCommand(sentinels[0].port, ['SENTINEL', 'get-master-addr-by-name', MASTER_NAME])) as string[])[1]);
  // every Sentinel has found the replica and the other Sentinels: a failover can then be agreed
  for (const s of sentinels) {
    await until(`sentinel ${s.port} to know the set`, 15_000, async () => {
      const f = fieldsOf(await redisCommand(s.port, ['SENTINEL', 'master', MASTER_NAME]));
      return Number(f['num-slaves']) >= 1 && Number(f['num-other-sentinels']) >= 2 ? true : null;
    });
  }
  return {
    master,
    replica,
    sentinels,
    sentinelList: sentinels.map((s) => `127.0.0.1:${s.port}`).join(','),
    masterPort,
    waitForFailover: (fromPort, timeoutMs = 30_000) =>
      until('the Sentinels to promote the replica', timeoutMs, async () => {
        const port = await masterPort();
        if (port === fromPort) return null;
        return /role:master/.test(String(await redisCommand(port, ['INFO', 'replication']))) ? port : null;
      }),
    async destroy() {
      for (const s of [...sentinels, replica, master]) await s.destroy();
    },
  };
}

/** a flat [field, value, …] reply as a record */
function fieldsOf(reply: unknown): Record<string, string> {
  const flat = reply as string[];
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]] = flat[i + 1];
  return out;
}
