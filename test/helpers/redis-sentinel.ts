/**
 * A Sentinel set for tests: a master, a replica that has finished its first sync
 * (master_link_status:up) and three Sentinels monitoring them as `m` (quorum 2, down after 1 s,
 * failover timeout 3 s), each a real redis-server on a free port in a temp dir of its own.
 *
 * With `auth`, every server of the set asks for it: the data nodes and the Sentinels have the ACL
 * user and the default user off; the replica syncs as that user (masteruser, masterauth, on the
 * master too: it is a replica after a failover), and the Sentinels reach the data nodes and each
 * other as it (auth-user, auth-pass, sentinel-user, sentinel-pass). With `tls`, every server
 * listens on TLS only (port 0, tls-port), and replication and the Sentinels' links use it too.
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

export interface SetAuth {
  user: string;
  password: string;
}

/** PEM files: the servers' certificate and key, and the CA that signed it */
export interface SetTls {
  cert: string;
  key: string;
  ca: string;
}

/** how a client reaches the set's servers */
export interface SetConn {
  auth?: SetAuth;
  tls?: SetTls;
}

/** one command on a connection of its own (as `auth`'s user, over TLS, when given) */
export async function redisCommand(port: number, args: string[], conn: SetConn = {}): Promise<unknown> {
  const { auth, tls } = conn;
  const tlsSocket = tls
    ? {
        tls: true as const,
        ca: fs.readFileSync(tls.ca),
        cert: fs.readFileSync(tls.cert),
        key: fs.readFileSync(tls.key),
      }
    : {};
  const c = createClient({
    socket: { host: '127.0.0.1', port, reconnectStrategy: false, connectTimeout: 2000, ...tlsSocket },
    ...(auth ? { username: auth.user, password: auth.password } : {}),
  });
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
export const waitForSync = (port: number, timeoutMs = 15_000, conn: SetConn = {}): Promise<true> =>
  until(`the replica on ${port} to sync`, timeoutMs, async () =>
    /master_link_status:up/.test(String(await redisCommand(port, ['INFO', 'replication'], conn))) ? true : null,
  );

/** the ACL of a data node or a Sentinel that asks for `auth` (config lines) */
const aclLines = (auth: SetAuth) => [`user default off`, `user ${auth.user} on >${auth.password} ~* &* +@all`];
/** the same as redis-server arguments */
const aclArgs = (auth: SetAuth) => [
  '--user',
  'default',
  'off',
  '--user',
  auth.user,
  'on',
  `>${auth.password}`,
  '~*',
  '&*',
  '+@all',
  '--masteruser',
  auth.user,
  '--masterauth',
  auth.password,
];

/** TLS only, on `port`, for replication too (config lines) */
const tlsLines = (tls: SetTls, port: number) => [
  'port 0',
  `tls-port ${port}`,
  `tls-cert-file ${tls.cert}`,
  `tls-key-file ${tls.key}`,
  `tls-ca-cert-file ${tls.ca}`,
  'tls-auth-clients optional',
  'tls-replication yes',
];
/** the same as redis-server arguments */
const tlsArgs = (tls: SetTls, port: number) =>
  tlsLines(tls, port).flatMap((l) => [`--${l.split(' ')[0]}`, l.split(' ')[1]]);

export async function startSentinelSet(o: SetConn = {}): Promise<TestSentinelSet> {
  const { auth, tls } = o;
  const authArgs = auth ? aclArgs(auth) : [];
  const dataNode = async (more: string[]) => {
    const port = await freePort();
    return startRedisServer({
      port,
      extraArgs: ['--enable-debug-command', 'local', ...authArgs, ...(tls ? tlsArgs(tls, port) : []), ...more],
    });
  };
  const master = await dataNode([]);
  const replica = await dataNode(['--replicaof', '127.0.0.1', String(master.port)]);
  await waitForSync(replica.port, 15_000, o);
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
        ...(auth
          ? [
              `sentinel auth-user ${MASTER_NAME} ${auth.user}`,
              `sentinel auth-pass ${MASTER_NAME} ${auth.password}`,
              ...aclLines(auth),
              `sentinel sentinel-user ${auth.user}`,
              `sentinel sentinel-pass ${auth.password}`,
            ]
          : []),
        '',
      ].join('\n'),
    );
    const port = await freePort();
    sentinels.push(
      await startRedisServer({ port, dir, configFile, extraArgs: ['--sentinel', ...(tls ? tlsArgs(tls, port) : [])] }),
    );
  }
  const masterPort = async () =>
    Number(
      ((await redisCommand(sentinels[0].port, ['SENTINEL', 'get-master-addr-by-name', MASTER_NAME], o)) as string[])[1],
    );
  // every Sentinel has found the replica and the other Sentinels: a failover can then be agreed
  for (const s of sentinels) {
    await until(`sentinel ${s.port} to know the set`, 15_000, async () => {
      const f = fieldsOf(await redisCommand(s.port, ['SENTINEL', 'master', MASTER_NAME], o));
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
        return /role:master/.test(String(await redisCommand(port, ['INFO', 'replication'], o))) ? port : null;
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
