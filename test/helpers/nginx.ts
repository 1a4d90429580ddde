/**
 * The shipped gateway (deploy/nginx*.conf) on this machine's nginx, for tests: a copy in a temp
 * dir changed only where Docker's world differs from a test's. Its includes point into the copy,
 * it listens on 127.0.0.1 at a free port, its temp files stay in the copy, and the upstream lists
 * the test's api ports instead of `server api:8000 resolve` (Docker's DNS; `resolve` also needs
 * nginx 1.27.3, Debian's is 1.22), as does `http2 on` (1.25.1) in the TLS server, dropped here.
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { assetPath } from '../../src/util/package-root';
import { waitUntil } from './procs';
import { portOpen } from './redis-server';

export function nginxBinary(): string | null {
  for (const p of ['/usr/sbin/nginx', '/usr/bin/nginx']) if (fs.existsSync(p)) return p;
  const r = spawnSync('sh', ['-c', 'command -v nginx'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** replace what must be there: a shipped file that changed shape fails here, not silently */
function replaced(text: string, from: string | RegExp, to: string, what: string): string {
  const out = text.replace(from, to);
  if (out === text) throw new Error(`the shipped ${what} no longer has ${String(from)}`);
  return out;
}

export interface GatewayOptions {
  /** nginx.conf (port 80) or nginx-tls.conf (443, with certs) */
  main?: 'nginx.conf' | 'nginx-tls.conf';
  listen: number;
  /** the api ports the upstream lists (in place of api:8000 resolve) */
  apis: number[];
  /** for nginx-tls.conf: PEM files put where it reads origin.pem and origin.key */
  certs?: { cert: string; key: string };
}

/** the copy's main file: deploy/* in `dir`, rewritten as the header says */
export function gatewayCopy(dir: string, o: GatewayOptions): string {
  const main = o.main ?? 'nginx.conf';
  const deploy = assetPath('deploy');
  fs.mkdirSync(path.join(dir, 'tmp'), { recursive: true });
  fs.chmodSync(dir, 0o755); // the worker processes (nobody, when the test runs as root) write temp files in it
  const include = (text: string, file: string) =>
    replaced(text, /\/etc\/nginx\/wizard\//g, `${dir}/`, `${file}'s include`);
  let upstream = fs.readFileSync(path.join(deploy, 'nginx-upstream.conf'), 'utf8');
  upstream = replaced(upstream, /^resolver .*$/m, '', 'nginx-upstream.conf resolver');
  upstream = replaced(
    upstream,
    /^\s*server api:8000 resolve;$/m,
    o.apis.map((p) => `    server 127.0.0.1:${p};`).join('\n'),
    'nginx-upstream.conf server',
  );
  fs.writeFileSync(path.join(dir, 'nginx-upstream.conf'), upstream);
  fs.copyFileSync(path.join(deploy, 'nginx-proxy.conf'), path.join(dir, 'nginx-proxy.conf'));
  let conf = include(fs.readFileSync(path.join(deploy, main), 'utf8'), main);
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((t) => `${t}_temp_path ${dir}/tmp/${t};`)
    .join(' ');
  conf = replaced(conf, /^http \{$/m, `http {\n    ${temp}`, `${main} http block`);
  if (main === 'nginx.conf') {
    conf = replaced(conf, /listen 80;/, `listen 127.0.0.1:${o.listen};`, 'nginx.conf listen');
  } else {
    conf = replaced(conf, /listen 443 ssl;/, `listen 127.0.0.1:${o.listen} ssl;`, 'nginx-tls.conf listen');
    conf = replaced(conf, /^\s*http2 on;$/m, '', 'nginx-tls.conf http2');
    conf = replaced(conf, /\/etc\/nginx\/certs\//g, `${dir}/certs/`, 'nginx-tls.conf certificates');
    fs.mkdirSync(path.join(dir, 'certs'), { recursive: true });
    if (o.certs) {
      fs.copyFileSync(o.certs.cert, path.join(dir, 'certs', 'origin.pem'));
      fs.copyFileSync(o.certs.key, path.join(dir, 'certs', 'origin.key'));
    }
  }
  const file = path.join(dir, main);
  fs.writeFileSync(file, conf);
  return file;
}

const nginxArgs = (conf: string) => {
  const dir = path.dirname(conf);
  return [
    '-p',
    dir,
    '-e',
    path.join(dir, 'error.log'),
    '-c',
    conf,
    '-g',
    `daemon off; pid ${path.join(dir, 'nginx.pid')};`,
  ];
};

/**
 * stdout and stderr for nginx: a file, because the configs log to /dev/stdout and /dev/stderr,
 * which cannot be opened on the socket pairs Node gives a child for 'pipe'
 */
function outputFile(conf: string): { fd: number; read: () => string } {
  const file = path.join(path.dirname(conf), `output-${Date.now()}.log`);
  const fd = fs.openSync(file, 'a');
  return { fd, read: () => fs.readFileSync(file, 'utf8') };
}

/** `nginx -t` on the copy: its exit code and what it printed */
export function nginxTest(conf: string): { status: number | null; output: string } {
  const out = outputFile(conf);
  const r = spawnSync(nginxBinary() ?? 'nginx', ['-t', ...nginxArgs(conf)], {
    stdio: ['ignore', out.fd, out.fd],
    timeout: 20_000,
  });
  fs.closeSync(out.fd);
  return { status: r.status, output: out.read() };
}

export interface RunningGateway {
  proc: ChildProcess;
  /** what it printed: the access log and errors */
  output(): string;
  stop(): Promise<void>;
}

/** nginx in the foreground on the copy, until stop() */
export async function startGateway(conf: string, port: number): Promise<RunningGateway> {
  const out = outputFile(conf);
  const proc = spawn(nginxBinary() ?? 'nginx', nginxArgs(conf), { stdio: ['ignore', out.fd, out.fd] });
  fs.closeSync(out.fd);
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  await waitUntil(
    async () => (proc.exitCode !== null ? Promise.reject(new Error(`nginx exited: ${out.read()}`)) : portOpen(port)),
    10_000,
    `nginx on port ${port}`,
  );
  return {
    proc,
    output: out.read,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
}
