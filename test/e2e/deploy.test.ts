/**
 * The deployment files, checked without a Docker engine: compose.yaml is valid for
 * docker-compose (required in CI), every service's command is a real `wizard` subcommand, the
 * scaled services can scale, the gateway and Dockerfile keep what production needs, and this
 * machine's nginx (1.22) loads the gateway's configs (with a static upstream: see
 * test/helpers/nginx.ts). test/e2e/compose.test.ts runs the services.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { assetPath } from '../../src/util/package-root';
import {
  commandArgs as argsOf,
  ComposeConfig,
  ComposeService as Service,
  composeConfig,
  hasCommand,
  namedMounts,
  neighboursOf,
  networksOf,
} from '../helpers/deploy-files';
import { gatewayCopy, nginxBinary, nginxTest } from '../helpers/nginx';
import { runWizard, waitUntil } from '../helpers/procs';
import { freePort, portOpen } from '../helpers/redis-server';
import { redisCommand } from '../helpers/redis-sentinel';

const root = assetPath();
const read = (...p: string[]) => fs.readFileSync(path.join(root, ...p), 'utf8');

const compose = parse(read('compose.yaml'), { merge: true }) as { services: Record<string, Service> };
const services = Object.entries(compose.services);
const wizardServices = services.filter(([, s]) => s.build !== undefined);

/** whether docker-compose is installed (required in CI; elsewhere its validation is skipped) */
function haveDockerCompose(): boolean {
  const which = spawnSync('sh', ['-c', 'command -v docker-compose'], { encoding: 'utf8' });
  if (which.status === 0) return true;
  if (process.env.CI === 'true')
    throw new Error('docker-compose is not installed: .ci/run installs it (apt-get install docker-compose)');
  console.warn('docker-compose not installed: skipping its validation (CI installs it)');
  return false;
}

test('docker-compose config accepts compose.yaml (with and without the public profile)', () => {
  if (!haveDockerCompose()) return;
  for (const args of [
    ['-f', 'compose.yaml', 'config', '-q'],
    ['-f', 'compose.yaml', '--profile', 'public', 'config', '-q'],
  ]) {
    const r = spawnSync('docker-compose', args, { cwd: root, encoding: 'utf8', timeout: 30_000 });
    expect({ args, status: r.status, stderr: r.stderr }).toEqual({ args, status: 0, stderr: '' });
  }
});

test('compose.cluster.yaml puts every role that talks to Redis on a 3-master Valkey Cluster (docker-compose config merges it)', () => {
  if (!haveDockerCompose()) return;
  const r = spawnSync('docker-compose', ['-f', 'compose.yaml', '-f', 'compose.cluster.yaml', 'config'], {
    cwd: root,
    encoding: 'utf8',
    timeout: 30_000,
  });
  expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
  const merged = parse(r.stdout) as {
    services: Record<
      string,
      Service & { depends_on?: Record<string, { condition: string }>; environment?: Record<string, string> }
    >;
  };
  const nodes = Object.keys(merged.services).filter((n) => /^valkey-\d$/.test(n));
  expect(nodes).toHaveLength(6);
  for (const n of nodes)
    expect(argsOf(merged.services[n].command!)).toEqual(expect.arrayContaining(['--cluster-enabled', 'yes']));
  expect(argsOf(merged.services['cluster-init'].command!).join(' ')).toContain('--cluster-replicas 1');
  for (const role of ['api', 'worker', 'scheduler']) {
    const s = merged.services[role];
    expect({
      role,
      seeds: s.environment!.REDIS_URL.split(',').length,
      init: s.depends_on?.['cluster-init']?.condition,
    }).toEqual({ role, seeds: 6, init: 'service_completed_successfully' });
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
  if (service.restart === 'no') {
    // a one-shot (tokens): it exits when done, so the image's HEALTHCHECK must not mark it unhealthy
    expect(service.healthcheck?.disable).toBe(true);
    return;
  }
  const check = service.healthcheck?.test ?? [];
  expect(check.slice(0, 4)).toEqual(['CMD', 'wizard', 'healthcheck', '--role']);
  expect(check[4]).toBe(args[0]);
});

test('compose.sentinel.yaml: a Valkey master, a replica and 3 Sentinels monitoring it by the name every role is given; the roles find the master through them, durability on', () => {
  if (!hasCommand('docker-compose')) {
    if (process.env.CI === 'true')
      throw new Error('docker-compose is not installed: .ci/run installs it (apt-get install docker-compose)');
    return;
  }
  const { services } = composeConfig(['-f', path.join(root, 'compose.sentinel.yaml')]);
  const sentinels = ['sentinel-1', 'sentinel-2', 'sentinel-3'];
  expect(argsOf(services['valkey-replica'].command)).toEqual(expect.arrayContaining(['--replicaof', 'valkey', '6379']));
  for (const name of sentinels) {
    const script = argsOf(services[name].command).join(' ');
    expect(script).toContain("'sentinel monitor wizard valkey 6379 2'");
    expect(script).toContain('--sentinel');
  }
  for (const role of ['api', 'worker', 'scheduler']) {
    const env = services[role].environment ?? {};
    expect({
      role,
      sentinels: env.REDIS_SENTINELS,
      master: env.REDIS_MASTER_NAME,
      durability: env.WIZARD_DURABILITY,
    }).toEqual({
      role,
      sentinels: sentinels.map((s) => `${s}:26379`).join(','),
      master: 'wizard',
      durability: 'replica',
    });
    expect(Object.keys(services[role].depends_on ?? {})).toEqual(
      expect.arrayContaining([...sentinels, 'valkey-replica']),
    );
    // the role accepts what the file gives it (a bad list or name would be exit 2)
    const help = runWizard([role, '--help'], {
      REDIS_SENTINELS: String(env.REDIS_SENTINELS),
      REDIS_MASTER_NAME: String(env.REDIS_MASTER_NAME),
      WIZARD_DURABILITY: String(env.WIZARD_DURABILITY),
    });
    expect({ role, code: help.code, stderr: help.stderr }).toEqual({ role, code: 0, stderr: '' });
  }
});

test('scaled services have no fixed name and no host port (docker compose up --scale works)', () => {
  for (const [name, s] of wizardServices) {
    expect({ name, container_name: s.container_name, ports: s.ports }).toEqual({
      name,
      container_name: undefined,
      ports: undefined,
    });
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

test('access control in compose: the one-shot tokens service writes the tokens file the api replicas read, the bot token alone for the bots, the Redis password and ACL; the api trusts the gateway', () => {
  const { tokens, api, bot } = compose.services;
  expect(argsOf(tokens.command)).toEqual(['tokens', 'init']);
  expect(tokens.environment).toEqual({
    WIZARD_TOKENS_FILE: '/var/lib/wizard/tokens',
    WIZARD_BOT_TOKENS_FILE: '/var/lib/wizard-bot/tokens',
    REDIS_PASSWORD_FILE: '/var/lib/wizard-redis/password',
    REDIS_ACL_FILE: '/var/lib/wizard-redis/users.acl',
  });
  expect(tokens.volumes).toEqual([
    'wizard-tokens:/var/lib/wizard',
    'wizard-bot-token:/var/lib/wizard-bot',
    'wizard-redis-auth:/var/lib/wizard-redis',
  ]);
  expect(tokens.network_mode).toBe('none'); // it makes files: it needs no network
  expect(api.environment?.WIZARD_TOKENS_FILE).toBe('/var/lib/wizard/tokens');
  expect(api.volumes).toEqual([
    'wizard-tokens:/var/lib/wizard:ro',
    'wizard-redis-auth:/var/lib/wizard-redis:ro',
    'wizard-datalake:/var/lib/wizard-datalake:ro',
  ]);
  // the datalake's day files: the scheduler writes them where the image says (WIZARD_DATALAKE_DIR), the api replicas read them
  expect(read('Dockerfile')).toContain('ENV WIZARD_DATALAKE_DIR=/var/lib/wizard-datalake');
  expect(compose.services.scheduler.volumes).toContain('wizard-datalake:/var/lib/wizard-datalake');
  // the bots: the bot token's file, and nothing else (no admin token, no Redis)
  expect(bot.environment?.WIZARD_TOKENS_FILE).toBe('/var/lib/wizard-bot/tokens');
  expect(bot.volumes).toEqual(['wizard-bot-token:/var/lib/wizard-bot:ro']);
  expect(Object.keys(bot.environment ?? {}).filter((k) => /REDIS|ADMIN|API_TOKENS/.test(k))).toEqual([]);
  for (const s of [api, bot])
    expect(s.depends_on).toMatchObject({ tokens: { condition: 'service_completed_successfully' } });
  expect(api.depends_on).toMatchObject({ valkey: { condition: 'service_healthy' } });
  expect(compose.services.valkey.depends_on).toEqual({ tokens: { condition: 'service_completed_successfully' } }); // its ACL file first
  // the gateway's address on the compose network is a private one (Docker picks it), never loopback
  expect(api.environment?.WIZARD_TRUST_PROXY).toBe('${WIZARD_TRUST_PROXY:-uniquelocal}');
  // the volumes start with the image's folders, which the node user owns
  expect(read('Dockerfile')).toMatch(
    /RUN mkdir -p \/var\/lib\/wizard \/var\/lib\/wizard-bot \/var\/lib\/wizard-redis && chown node:node \/var\/lib\/wizard \/var\/lib\/wizard-bot \/var\/lib\/wizard-redis\nUSER node/,
  );
});

/** every way the compose files are run: alone, with the public profile, on a Cluster, on Sentinel */
const LAYOUTS: [string, string[]][] = [
  ['compose.yaml', []],
  ['compose.yaml --profile public', ['--profile', 'public']],
  ['+ compose.cluster.yaml', ['-f', path.join(root, 'compose.cluster.yaml')]],
  ['+ compose.sentinel.yaml', ['-f', path.join(root, 'compose.sentinel.yaml')]],
];
/** the services of Redis itself (data nodes, Sentinels, the cluster's one-shot) */
const isRedis = (name: string) => /^(valkey(-\w+)?|sentinel-\d|cluster-init)$/.test(name);
const ROLES_ON_REDIS = ['api', 'scheduler', 'worker'];

describe.each(LAYOUTS)('%s: who reaches Redis, and what each service is given', (_layout, args) => {
  let config: ComposeConfig;
  beforeAll(() => {
    if (!haveDockerCompose()) return;
    config = composeConfig(args);
  });

  test('only api, worker and scheduler share a network with Redis; the bots, the gateways and cloudflared share none; that network has no way out', () => {
    if (!config) return;
    const names = Object.keys(config.services);
    const redis = names.filter(isRedis);
    expect(redis).toContain('valkey');
    for (const r of redis) {
      const others = neighboursOf(config, r).filter((n) => !isRedis(n));
      expect({ r, others }).toEqual({ r, others: ROLES_ON_REDIS });
      expect({ r, networks: networksOf(config.services[r]) }).toEqual({ r, networks: ['store'] });
    }
    for (const outside of names.filter((n) => ['bot', 'gateway', 'gateway-tls', 'cloudflared'].includes(n))) {
      expect({ outside, reaches: neighboursOf(config, outside).filter(isRedis) }).toEqual({ outside, reaches: [] });
    }
    expect(networksOf(config.services.bot)).toEqual(['front']);
    expect(config.networks?.store).toEqual({ internal: true });
  });

  test('the Redis password is mounted by Redis and the roles that talk to it alone, read-only; the tokens file by the api; the bot token by the bots', () => {
    if (!config) return;
    const mounting = (volume: string) =>
      Object.entries(config.services)
        .filter(([, s]) => volume in namedMounts(s))
        .map(([n, s]) => `${n}:${namedMounts(s)[volume][1]}`)
        .sort();
    const redis = Object.keys(config.services).filter(isRedis);
    expect(mounting('wizard-redis-auth')).toEqual(
      [...ROLES_ON_REDIS, ...redis]
        .map((n) => `${n}:ro`)
        .concat('tokens:rw')
        .sort(),
    );
    expect(mounting('wizard-tokens')).toEqual(['api:ro', 'tokens:rw']);
    expect(mounting('wizard-bot-token')).toEqual(['bot:ro', 'tokens:rw']);
  });

  test('Redis loads the ACL file the tokens service writes, and is asked with its user: the roles by the password file, every healthcheck too', () => {
    if (!config) return;
    const { tokens } = config.services;
    const acl = String(tokens.environment?.REDIS_ACL_FILE);
    const password = String(tokens.environment?.REDIS_PASSWORD_FILE);
    const cli = 'REDISCLI_AUTH="$$(cat /var/lib/wizard-redis/password)" valkey-cli --user wizard';
    for (const [name, s] of Object.entries(config.services).filter(([n]) => isRedis(n))) {
      const command = argsOf(s.command).join(' ');
      if (name !== 'cluster-init' && !name.startsWith('sentinel-')) {
        expect({ name, aclfile: command.includes(`--aclfile ${acl}`) }).toEqual({ name, aclfile: true });
        // a data node that replicates (or may, after a failover) syncs as that user, from the file
        if (name !== 'valkey' || args.join(' ').includes('compose.sentinel.yaml')) {
          expect({ name, command }).toEqual({
            name,
            command: expect.stringContaining(
              `printf 'masteruser wizard\\nmasterauth %s\\n' "$$(cat ${password})" > /tmp/replication.conf`,
            ),
          });
          expect(command).toContain('--include /tmp/replication.conf');
        }
      }
      if (name === 'cluster-init') expect(command).toContain(`export REDISCLI_AUTH="$$(cat ${password})"`);
      if (name.startsWith('sentinel-')) {
        // the Sentinel asks for the user too, and reaches the data nodes and the other Sentinels as it
        for (const line of [
          `pw="$$(cat ${password})"`,
          "'sentinel auth-user wizard wizard'",
          '"sentinel auth-pass wizard $$pw"',
          "'sentinel sentinel-user wizard'",
          '"sentinel sentinel-pass $$pw"',
          "'user default off'",
          '"user wizard on >$$pw ~* &* +@all"',
        ]) {
          expect({ name, command }).toEqual({ name, command: expect.stringContaining(line) });
        }
        for (const role of ROLES_ON_REDIS)
          expect(config.services[role].environment).toMatchObject({
            REDIS_SENTINEL_USER: 'wizard',
            REDIS_SENTINEL_PASSWORD_FILE: password,
          });
      }
      if (s.healthcheck)
        expect({ name, check: s.healthcheck.test.join(' ') }).toEqual({ name, check: expect.stringContaining(cli) });
    }
    for (const role of ROLES_ON_REDIS) {
      const env = config.services[role].environment ?? {};
      expect({ role, passwordFile: env.REDIS_PASSWORD_FILE }).toEqual({ role, passwordFile: password });
      for (const url of String(env.REDIS_URL).split(','))
        expect(new URL(url)).toMatchObject({ username: 'wizard', password: '' });
    }
  });
});

test("the overlays' data nodes: their script, run by sh as the container would, starts the server with the ACL file and the replication credentials of the password file", async () => {
  if (!haveDockerCompose()) return;
  const scriptOf = (args: string[], name: string) => {
    const [sh, c, script, zero, ...rest] = argsOf(composeConfig(args).services[name].command);
    expect([sh, c, zero]).toEqual(['sh', '-c', 'valkey-node']);
    return { script, rest };
  };
  const sentinelNode = scriptOf(['-f', path.join(root, 'compose.sentinel.yaml')], 'valkey-replica');
  const clusterNode = scriptOf(['-f', path.join(root, 'compose.cluster.yaml')], 'valkey-1');
  expect(clusterNode.script).toBe(sentinelNode.script); // one script, in both files
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wizard-data-node-'));
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin);
  const port = await freePort();
  // stand-ins for what the valkey image has: its entrypoint (here: redis-server, on a free port) and a chown that has a valkey user
  fs.writeFileSync(
    path.join(bin, 'docker-entrypoint.sh'),
    `#!/bin/sh\nshift\nexec redis-server "$@" --port ${port} --bind 127.0.0.1 --dir ${dir} --save ''\n`,
    { mode: 0o755 },
  );
  fs.writeFileSync(path.join(bin, 'chown'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
  const auth = path.join(dir, 'auth');
  const made = runWizard([
    'tokens',
    'init',
    '--file',
    path.join(dir, 'tokens'),
    '--redis-password-file',
    path.join(auth, 'password'),
    '--redis-acl-file',
    path.join(auth, 'users.acl'),
  ]);
  expect(made.code).toBe(0);
  const script = sentinelNode.script
    .replace(/\$\$/g, '$')
    .replaceAll('/tmp/', `${dir}/`)
    .replaceAll('/var/lib/wizard-redis/', `${auth}/`);
  const args = ['--appendonly', 'yes']; // the data node's own arguments come after the script's
  const server = spawn('sh', ['-c', script, 'valkey-node', ...args], {
    env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
    stdio: 'ignore',
  });
  try {
    await waitUntil(async () => portOpen(port), 60_000, 'the data node to listen');
    const password = fs.readFileSync(path.join(auth, 'password'), 'utf8').trim();
    await expect(redisCommand(port, ['PING'])).rejects.toThrow(/NOAUTH/);
    const asWizard = { auth: { user: 'wizard', password } };
    expect(await redisCommand(port, ['CONFIG', 'GET', 'masteruser'], asWizard)).toEqual(['masteruser', 'wizard']);
    expect(await redisCommand(port, ['CONFIG', 'GET', 'masterauth'], asWizard)).toEqual(['masterauth', password]);
    expect(await redisCommand(port, ['CONFIG', 'GET', 'appendonly'], asWizard)).toEqual(['appendonly', 'yes']);
    expect(fs.statSync(path.join(dir, 'replication.conf')).mode & 0o777).toBe(0o600);
  } finally {
    server.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);

test('the gateway: round-robin upstream on the API port, SSE unbuffered, the client address set (not appended to), its own errors JSON', () => {
  const upstream = read('deploy', 'nginx-upstream.conf');
  const proxy = read('deploy', 'nginx-proxy.conf');
  expect(upstream).toMatch(/upstream wizard_api \{[^}]*server api:8000 resolve;/);
  expect(upstream).toMatch(/nginx 1\.27\.3 or later/);
  expect(compose.services.gateway.image).toMatch(/^nginx:1\.27/);
  expect(proxy).toMatch(/location ~ \^\/api\/jobs\/\[\^\/\]\+\/events\$ \{[^}]*proxy_buffering off;/);
  expect(proxy).toContain('proxy_set_header X-Forwarded-For $remote_addr;');
  expect(proxy).not.toContain('$proxy_add_x_forwarded_for');
  expect(proxy).toContain('client_max_body_size 1m;');
  for (const code of [400, 408, 413, 414, 500, 502, 503, 504]) {
    const body = new RegExp(
      `location @error_${code} \\{ default_type application/json; return ${code} '([^']+)'; \\}`,
    ).exec(proxy);
    expect({ code, body: body && JSON.parse(body[1].replace(/\\n$/, '')) }).toEqual({
      code,
      body: { error: { code: expect.any(String), message: expect.any(String) } },
    });
    expect(proxy).toMatch(new RegExp(`^error_page (\\d+ )*${code}( \\d+)* @error_${code};$`, 'm'));
  }
  expect(read('deploy', 'nginx.conf')).toMatch(/listen 80;/);
  expect(read('deploy', 'nginx-tls.conf')).toMatch(
    /listen 443 ssl;[\s\S]*ssl_certificate \/etc\/nginx\/certs\/origin\.pem;/,
  );
});

describe("nginx -t on the gateway's configs, as this machine's nginx can load them", () => {
  const nginx = nginxBinary();
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wizard-nginx-t-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test.each(['nginx.conf', 'nginx-tls.conf'] as const)('%s', (main) => {
    if (!nginx) {
      if (process.env.CI === 'true')
        throw new Error('nginx is not installed: .ci/run installs it (apt-get install nginx)');
      console.warn('nginx not installed: skipping nginx -t (CI installs it)');
      return;
    }
    const copy = path.join(dir, main);
    fs.mkdirSync(copy);
    let certs: { cert: string; key: string } | undefined;
    if (main === 'nginx-tls.conf') {
      certs = { cert: path.join(copy, 'cert.pem'), key: path.join(copy, 'key.pem') };
      const ssl = spawnSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'rsa:2048',
          '-nodes',
          '-subj',
          '/CN=127.0.0.1',
          '-days',
          '1',
          '-keyout',
          certs.key,
          '-out',
          certs.cert,
        ],
        { encoding: 'utf8' },
      );
      expect(ssl.status).toBe(0);
    }
    const r = nginxTest(gatewayCopy(copy, { main, listen: 8443, apis: [8000, 8001], certs }));
    expect({ main, status: r.status, output: r.status === 0 ? '' : r.output }).toEqual({ main, status: 0, output: '' });
    expect(r.output).toMatch(/test is successful/);
    expect(r.output).not.toMatch(/\[(warn|emerg|alert)\]/);
  });
});

test('the Dockerfile: node:20-slim in two stages, a non-root user, wizard as entrypoint, a healthcheck, the role as command', () => {
  const lines = read('Dockerfile')
    .split('\n')
    .filter((l) => l.trim() && !l.startsWith('#'));
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
