/**
 * The deployment files, checked without a Docker engine: compose.yaml is valid for
 * docker-compose (required in CI), every service's command is a real `wizard` subcommand, the
 * scaled services can scale, and the gateway and Dockerfile keep what production needs.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { assetPath } from '../../src/util/package-root';
import { runWizard } from '../helpers/procs';

const root = assetPath();
const read = (...p: string[]) => fs.readFileSync(path.join(root, ...p), 'utf8');

interface Service {
  image?: string;
  build?: unknown;
  command?: string | string[];
  container_name?: string;
  ports?: unknown[];
  deploy?: { replicas?: number };
  profiles?: string[];
  volumes?: string[];
  healthcheck?: { test: string[] };
  environment?: Record<string, string>;
}

const compose = parse(read('compose.yaml'), { merge: true }) as { services: Record<string, Service> };
const services = Object.entries(compose.services);
const wizardServices = services.filter(([, s]) => s.build !== undefined);
const argsOf = (cmd: string | string[]) => (Array.isArray(cmd) ? cmd : cmd.trim().split(/\s+/));

test('docker-compose config accepts compose.yaml (with and without the public profile)', () => {
  const which = spawnSync('sh', ['-c', 'command -v docker-compose'], { encoding: 'utf8' });
  if (which.status !== 0) {
    if (process.env.CI === 'true') throw new Error('docker-compose is not installed: .ci/run installs it (apt-get install docker-compose)');
    console.warn('docker-compose not installed: skipping its validation (CI installs it)');
    return;
  }
  for (const args of [['-f', 'compose.yaml', 'config', '-q'], ['-f', 'compose.yaml', '--profile', 'public', 'config', '-q']]) {
    const r = spawnSync('docker-compose', args, { cwd: root, encoding: 'utf8', timeout: 30_000 });
    expect({ args, status: r.status, stderr: r.stderr }).toEqual({ args, status: 0, stderr: '' });
  }
});

test('the cluster of seeds 000/001: valkey, api ×3, worker ×3, scheduler, bot ×3, a gateway, and the public profile', () => {
  const replicas = (name: string) => compose.services[name]?.deploy?.replicas ?? 1;
  expect([replicas('api'), replicas('worker'), replicas('scheduler'), replicas('bot')]).toEqual([3, 3, 1, 3]);
  expect(compose.services.valkey.image).toMatch(/^valkey\/valkey/);
  expect(argsOf(compose.services.valkey.command!)).toEqual(expect.arrayContaining(['--appendonly', 'yes']));
  expect(compose.services.valkey.healthcheck?.test).toBeDefined();
  expect(compose.services['gateway-tls'].profiles).toEqual(['public']);
  expect(compose.services.cloudflared.profiles).toEqual(['public']);
  expect(compose.services['gateway-tls'].volumes).toContain('./deploy/certs:/etc/nginx/certs:ro');
  expect(Object.keys(compose.services.cloudflared.environment ?? {})).toContain('TUNNEL_TOKEN');
});

test.each(wizardServices)('service %s runs a real wizard subcommand and checks its own role', (_name, service) => {
  const args = argsOf(service.command ?? []);
  expect(args.length).toBeGreaterThan(0);
  const help = runWizard([...args, '--help']);
  expect({ args, code: help.code, stderr: help.stderr }).toEqual({ args, code: 0, stderr: '' });
  const check = service.healthcheck?.test ?? [];
  expect(check.slice(0, 4)).toEqual(['CMD', 'wizard', 'healthcheck', '--role']);
  expect(check[4]).toBe(args[0]);
});

test('scaled services have no fixed name and no host port (docker compose up --scale works)', () => {
  for (const [name, s] of wizardServices) {
    expect({ name, container_name: s.container_name, ports: s.ports }).toEqual({ name, container_name: undefined, ports: undefined });
  }
});

test('every file a service mounts exists', () => {
  for (const [, s] of services) {
    for (const v of s.volumes ?? []) {
      const source = v.split(':')[0];
      if (source.startsWith('./')) expect(fs.existsSync(path.join(root, source))).toBe(true);
    }
  }
});

test('the gateway: round-robin upstream on the API port, SSE unbuffered, the client address passed on', () => {
  const upstream = read('deploy', 'nginx-upstream.conf');
  const proxy = read('deploy', 'nginx-proxy.conf');
  expect(upstream).toMatch(/upstream wizard_api \{[^}]*server api:8000 resolve;/);
  expect(proxy).toMatch(/location ~ \^\/api\/jobs\/\[\^\/\]\+\/events\$ \{[^}]*proxy_buffering off;/);
  expect(proxy).toContain('proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;');
  expect(read('deploy', 'nginx.conf')).toMatch(/listen 80;/);
  expect(read('deploy', 'nginx-tls.conf')).toMatch(/listen 443 ssl;[\s\S]*ssl_certificate \/etc\/nginx\/certs\/origin\.pem;/);
});

test('the Dockerfile: node:20-slim in two stages, a non-root user, wizard as entrypoint, a healthcheck, the role as command', () => {
  const lines = read('Dockerfile').split('\n').filter((l) => l.trim() && !l.startsWith('#'));
  const from = lines.filter((l) => l.startsWith('FROM '));
  expect(from).toEqual(['FROM node:20-slim AS build', 'FROM node:20-slim']);
  const runtime = lines.slice(lines.indexOf('FROM node:20-slim'));
  expect(runtime).toContain('USER node');
  expect(runtime).toContain('ENTRYPOINT ["wizard"]');
  expect(runtime.some((l) => /^HEALTHCHECK .*CMD \["wizard", "healthcheck"\]$/.test(l))).toBe(true);
  expect(runtime.some((l) => l.startsWith('CMD ['))).toBe(true);
  expect(lines.some((l) => l.includes('deploy/stage-runtime.sh /app'))).toBe(true);
  // the runtime listens beyond the container's loopback, on the port nginx proxies to
  expect(read('Dockerfile')).toMatch(/WIZARD_HOST=0\.0\.0\.0/);
  expect(read('Dockerfile')).toMatch(/PORT=8000/);
});
