/**
 * A real redis-server for tests: started on a free port in its own temp dir, stopped after.
 * Tests never touch the machine's Redis on 6379.
 */
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface RedisServerOptions {
  /** turn on AOF persistence (for restart-without-loss tests) */
  appendonly?: boolean;
  port?: number;
  dir?: string;
  /** more redis-server arguments (e.g. TLS: --port 0 --tls-port <port> ...) */
  extraArgs?: string[];
  /** a config file, read first (a Sentinel's: it rewrites it) */
  configFile?: string;
}

export interface TestRedis {
  url: string;
  port: number;
  dir: string;
  /** SIGTERM (or SIGKILL with hard=true) and wait until the port is closed */
  stop(hard?: boolean): Promise<void>;
  /** start again on the same port and dir */
  start(): Promise<void>;
  /** stop and remove the temp dir */
  destroy(): Promise<void>;
}

/** the port a listener got on 127.0.0.1 (0: any free one), closed again; rejects when it could not listen there */
function listenOnce(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(port, '127.0.0.1', () => {
      const got = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(got));
    });
  });
}

export const freePort = (): Promise<number> => listenOnce(0);

/**
 * n distinct free ports for Redis Cluster nodes: a node also listens on its cluster bus, 10,000
 * above its port, so that port must be free too (and at most 65,535), or the node never starts
 */
export async function freeClusterPorts(n: number, taken: number[] = []): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < n) {
    const port = await freePort();
    const clash = [...taken, ...ports].some((p) => p === port || p === port + 10_000 || p + 10_000 === port);
    const busFree = () =>
      listenOnce(port + 10_000).then(
        () => true,
        () => false,
      );
    if (!clash && port + 10_000 <= 65_535 && (await busFree())) ports.push(port);
  }
  return ports;
}

export function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

async function waitFor(cond: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export function redisServerBinary(): string {
  try {
    return execFileSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).trim() || 'redis-server';
  } catch {
    throw new Error('redis-server is not on PATH: install it (apt-get install redis-server)');
  }
}

export async function startRedisServer(opts: RedisServerOptions = {}): Promise<TestRedis> {
  const port = opts.port ?? (await freePort());
  const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'wizard-redis-'));
  const bin = redisServerBinary();
  let pid: number | null = null;

  const start = async () => {
    const args = [
      ...(opts.configFile ? [opts.configFile] : []),
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--save',
      '',
      '--appendonly',
      opts.appendonly ? 'yes' : 'no',
      '--appendfsync',
      'always',
      '--daemonize',
      'no',
      '--logfile',
      path.join(dir, 'redis.log'),
      ...(opts.extraArgs ?? []),
    ];
    // a watchdog shell stops redis-server when this process goes away (its stdin closes), so a
    // test run that is killed leaves no server behind
    const watchdog = '"$0" "$@" & pid=$!; echo $pid; cat >/dev/null; kill $pid 2>/dev/null';
    const sh = spawn('sh', ['-c', watchdog, bin, ...args], { stdio: ['pipe', 'pipe', 'ignore'] });
    sh.unref();
    pid = await new Promise<number>((resolve, reject) => {
      sh.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
      sh.once('error', reject);
    });
    for (const stream of [sh.stdin, sh.stdout] as unknown as { unref?: () => void }[]) stream.unref?.();
    await waitFor(() => portOpen(port), 10_000, `redis-server on port ${port}`);
  };
  const stop = async (hard = false) => {
    const p = pid;
    if (p === null || !alive(p)) return;
    pid = null;
    process.kill(p, hard ? 'SIGKILL' : 'SIGTERM');
    await waitFor(async () => !alive(p), 10_000, `redis-server ${p} to exit`);
    await waitFor(async () => !(await portOpen(port)), 10_000, `redis-server on port ${port} to stop`);
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    stop,
    start,
    async destroy() {
      await stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
