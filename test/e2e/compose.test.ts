/**
 * compose.yaml run without a Docker engine: every wizard service of `docker-compose config`
 * starts as a real process of the built bin/wizard with exactly the environment compose gives it
 * plus the Dockerfile's ENV, and nothing of this machine's. Only what cannot work outside Docker
 * is changed: the service names (valkey, gateway) become 127.0.0.1 and a free port, each api
 * replica gets a port of its own instead of the image's 8000 (two replicas here, one of each
 * other role), the worker's metrics port a free one, the volumes temp dirs, and the trusted
 * proxy `loopback` (the gateway reaches the api from 127.0.0.1 here, from the compose network in
 * Docker). valkey is a real redis-server run with valkey's own arguments (the ACL file the tokens
 * service wrote: a client without the password is refused, and valkey's healthcheck, run with
 * redis-cli, passes), the gateway a real nginx on the shipped configs (with a static upstream:
 * test/helpers/nginx.ts). Every role's own healthcheck command passes, a task sent through the
 * gateway finishes, the bot registers with the one token its file holds, each client has its own
 * rate-limit budget, and the gateway's own errors are JSON.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { request } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { commandArgs, composeConfig, ComposeService, dockerfileEnv, hasCommand } from '../helpers/deploy-files';
import { gatewayCopy, nginxBinary, RunningGateway, startGateway } from '../helpers/nginx';
import { http, killAll, runWizard, runWizardAsync, spawnWizard, waitUntil, WizardProc } from '../helpers/procs';
import { freePort, startRedisServer, TestRedis } from '../helpers/redis-server';
import { redisCommand } from '../helpers/redis-sentinel';

const ready = hasCommand('docker-compose') && nginxBinary() !== null;
if (!ready && process.env.CI === 'true') throw new Error('docker-compose and nginx are needed: .ci/run installs them');
const maybe = ready ? describe : describe.skip;

maybe('compose.yaml, every service as a real process', () => {
  let dir: string;
  let redis: TestRedis;
  let gateway: RunningGateway;
  let services: Record<string, ComposeService>;
  const ports = { gateway: 0, api: [0, 0], metrics: 0 };
  const procs: Record<string, WizardProc> = {};
  let gw = '';

  /** where a service's mounts are on this machine: a folder per volume */
  const mountsOf = (name: string) =>
    (services[name].volumes ?? [])
      .map((v) => v.split(':'))
      .map(([source, target]) => ({ target, local: path.join(dir, 'volumes', source) }));
  /** a path inside a service's container, as it is here */
  const localPath = (name: string, p: string) => {
    const m = mountsOf(name).find((x) => p.startsWith(`${x.target}/`));
    return m ? m.local + p.slice(m.target.length) : p;
  };

  /** the environment compose gives a service, with the image's ENV under it, as it runs here */
  function envOf(name: string, replica = 0): Record<string, string> {
    const s = services[name];
    const env: Record<string, string> = { PATH: process.env.PATH ?? '', ...dockerfileEnv() };
    for (const [k, v] of Object.entries(s.environment ?? {})) env[k] = v === null ? '' : String(v);
    const hosts: Record<string, number> = { valkey: redis?.port ?? 0, gateway: ports.gateway };
    for (const [k, v] of Object.entries(env)) {
      let u: URL | null = null;
      try {
        u = /^[a-z]+:\/\//.test(v) ? new URL(v) : null;
      } catch {
        /* not a URL */
      }
      if (u && u.hostname in hosts)
        env[k] = v.replace(
          new RegExp(`(//|@)${u.host}`),
          (_m, before: string) => `${before}127.0.0.1:${hosts[u!.hostname]}`,
        );
      env[k] = localPath(name, env[k]);
    }
    if (name === 'api') env.PORT = String(ports.api[replica]);
    if (env.WIZARD_METRICS_PORT) env.WIZARD_METRICS_PORT = String(ports.metrics);
    if (env.WIZARD_TRUST_PROXY === 'uniquelocal') env.WIZARD_TRUST_PROXY = 'loopback';
    return env;
  }

  const start = (name: string, replica = 0) => {
    const p = spawnWizard(commandArgs(services[name].command), envOf(name, replica), `${name}-${replica + 1}`, {
      exactEnv: true,
    });
    procs[p.name] = p;
    return p;
  };

  /** the service's healthcheck as compose runs it: ["CMD", "wizard", ...] in the service's environment */
  const healthcheck = (name: string, replica = 0) => {
    const [form, bin, ...args] = services[name].healthcheck?.test ?? [];
    expect([form, bin]).toEqual(['CMD', 'wizard']);
    return runWizardAsync(args, envOf(name, replica), { exactEnv: true }); // not blocking: the services are polled side by side
  };

  /** `docker compose exec api wizard tokens show --role <role>` */
  const token = (role: string) => {
    const r = runWizard(['tokens', 'show', '--role', role], envOf('api'), { exactEnv: true });
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    return r.stdout.trim();
  };

  /** GET through the gateway from a loopback address of our choice (each is a client of its own) */
  const from = (localAddress: string, p: string, headers: Record<string, string> = {}) =>
    new Promise<{ status: number; remaining: string | undefined }>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port: ports.gateway, path: p, localAddress, headers, agent: false },
        (res) => {
          res.resume();
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              remaining: res.headers['ratelimit-remaining'] as string | undefined,
            }),
          );
        },
      );
      req.on('error', reject);
      req.end();
    });

  beforeAll(async () => {
    services = composeConfig().services;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wizard-compose-'));
    ports.gateway = await freePort();
    ports.api = [await freePort(), await freePort()];
    ports.metrics = await freePort();
    gw = `http://127.0.0.1:${ports.gateway}`;
    fs.mkdirSync(path.join(dir, 'nginx'));
    gateway = await startGateway(
      gatewayCopy(path.join(dir, 'nginx'), { listen: ports.gateway, apis: ports.api }),
      ports.gateway,
    );
  }, 30_000);

  afterAll(async () => {
    await killAll();
    await gateway?.stop();
    await redis?.destroy();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test("the one-shot tokens service writes the tokens file, the bots' token, the Redis password and ACL, and exits 0 again keeping them", () => {
    const [first, again] = [0, 1].map(() =>
      runWizard(commandArgs(services.tokens.command), envOf('tokens'), { exactEnv: true }),
    );
    const lines = (verb: string) => [
      expect.stringMatching(new RegExp(`^${verb} .*/tokens: admin \\(admin\\), bot \\(bot\\), client \\(client\\)$`)),
      expect.stringMatching(/^wrote .*\/wizard-bot-token\/tokens: bot \(bot\)$/),
      expect.stringMatching(new RegExp(`^${verb} .*/password: the password of the Redis user wizard$`)),
      expect.stringMatching(
        /^wrote .*\/users\.acl: the Redis user wizard \(its password's sha256\), the default user off$/,
      ),
    ];
    expect({ code: first.code, lines: first.stdout.trim().split('\n'), stderr: first.stderr }).toEqual({
      code: 0,
      lines: lines('wrote'),
      stderr: '',
    });
    expect({ code: again.code, lines: again.stdout.trim().split('\n'), stderr: again.stderr }).toEqual({
      code: 0,
      lines: lines('kept'),
      stderr: '',
    });
    expect(envOf('api').WIZARD_TOKENS_FILE).toBe(envOf('tokens').WIZARD_TOKENS_FILE);
    // the bots' file: the bot token of the tokens file, and no other
    const show = (file: string) => runWizard(['tokens', 'show', '--file', file]).stdout.trim().split('\n');
    const all = show(envOf('tokens').WIZARD_TOKENS_FILE);
    expect(show(envOf('bot').WIZARD_TOKENS_FILE)).toEqual(all.filter((l) => l.split(' ')[1] === 'bot'));
    expect(all.map((l) => l.split(' ')[1])).toEqual(['admin', 'bot', 'client']);
    const mode = (f: string) => fs.statSync(f).mode & 0o777;
    expect([
      mode(envOf('tokens').WIZARD_BOT_TOKENS_FILE),
      mode(envOf('tokens').REDIS_PASSWORD_FILE),
      mode(envOf('tokens').REDIS_ACL_FILE),
    ]).toEqual([0o600, 0o600, 0o644]);
  });

  test("valkey (a redis-server with valkey's arguments) loads that ACL file: a client without the password is refused, the roles' user gets in, and valkey's healthcheck passes", async () => {
    const [bin, ...args] = commandArgs(services.valkey.command);
    expect(bin).toBe('valkey-server');
    redis = await startRedisServer({ appendonly: true, extraArgs: args.map((a) => localPath('valkey', a)) });
    const password = fs.readFileSync(envOf('api').REDIS_PASSWORD_FILE, 'utf8').trim();
    expect(fs.readFileSync(envOf('tokens').REDIS_ACL_FILE, 'utf8')).not.toContain(password); // its hash only
    await expect(redisCommand(redis.port, ['PING'])).rejects.toThrow(/NOAUTH/);
    const user = new URL(envOf('api').REDIS_URL).username;
    expect(await redisCommand(redis.port, ['ACL', 'WHOAMI'], { auth: { user, password } })).toBe('wizard');
    // the healthcheck as Docker runs it (CMD-SHELL; $$ is compose's $), with this machine's redis-cli
    const [form, script] = services.valkey.healthcheck!.test;
    expect(form).toBe('CMD-SHELL');
    const local = localPath('valkey', '/var/lib/wizard-redis/password');
    const check = (file: string) =>
      spawnSync(
        'sh',
        [
          '-c',
          script
            .replace(/\$\$/g, '$')
            .replace('/var/lib/wizard-redis/password', file)
            .replace('valkey-cli', `redis-cli -p ${redis.port}`),
        ],
        { encoding: 'utf8' },
      ).status;
    expect(check(local)).toBe(0);
    fs.writeFileSync(path.join(dir, 'wrong'), 'not-the-password\n');
    expect(check(path.join(dir, 'wrong'))).toBe(1);
  });

  const nodeId = (name: string) => `${os.hostname()}-${procs[name].proc.pid}`; // WIZARD_NODE_ID is not set: <hostname>-<pid>

  test('api ×2, worker, scheduler, then the bot (after the gateway, which waits for the api) start with their compose environment, and every healthcheck passes', async () => {
    const healthy = async (name: string, replica = 0) =>
      waitUntil(
        async () => (await healthcheck(name, replica)).code === 0,
        60_000,
        `${name}-${replica + 1} healthy`,
        200,
      ).catch(async (err: Error) => {
        const last = await healthcheck(name, replica);
        throw new Error(
          `${err.message}; its healthcheck: ${last.code} ${last.stdout}${last.stderr}; its output: ${procs[`${name}-${replica + 1}`].output().slice(-2000)}`,
        );
      });
    start('api', 0);
    start('api', 1);
    start('worker');
    start('scheduler');
    await Promise.all([healthy('api', 0), healthy('api', 1), healthy('worker'), healthy('scheduler')]);
    start('bot');
    await healthy('bot');
    for (const p of Object.values(procs))
      expect({ name: p.name, exit: p.proc.exitCode }).toEqual({ name: p.name, exit: null });
  }, 150_000);

  test('through the gateway: a token is needed, a task finishes, both api replicas answer, the bot registered with the bot token', async () => {
    const unauthenticated = await http<{ error: { code: string } }>('GET', `${gw}/jobs`);
    expect({ status: unauthenticated.status, code: unauthenticated.body.error?.code }).toEqual({
      status: 401,
      code: 'unauthorized',
    });
    const auth = { authorization: `Bearer ${token('client')}` };
    const posted = await http<{ task_id: string }>('POST', `${gw}/task`, { a: 2, b: 3 }, auth);
    expect(posted.status).toBe(202);
    const done = await waitUntil(
      async () => {
        const r = await http<{ status: string; result: number; handled_by: string }>(
          'GET',
          `${gw}/tasks/${posted.body.task_id}/status`,
          undefined,
          auth,
        );
        return r.body.status === 'SUCCESS' && r.body;
      },
      15_000,
      'the task to finish',
    );
    expect(done.result).toBe(5);
    expect(done.handled_by).toBe(nodeId('worker-1'));
    const nodes = new Set<string>();
    // round-robin: consecutive requests alternate (up to 10, in case the bot's polls fall between ours)
    for (let i = 0; i < 10 && nodes.size < 2; i++)
      nodes.add((await http<{ node_id: string }>('GET', `${gw}/whoami`, undefined, auth)).body.node_id);
    expect([...nodes].sort()).toEqual([nodeId('api-1'), nodeId('api-2')].sort());
    const bots = await waitUntil(
      async () => {
        const r = await http<{ total: number; up: number }>('GET', `${gw}/bots`, undefined, auth);
        return r.body.up === 1 && r.body;
      },
      15_000,
      `the bot registered; bot output: ${procs['bot-1'].output().slice(-1500)}`,
    );
    expect({ total: bots.total, up: bots.up }).toEqual({ total: 1, up: 1 });
  }, 30_000);

  test('each client behind the gateway has its own rate-limit budget, and cannot pick another with X-Forwarded-For', async () => {
    const max = Number(envOf('api').RATE_LIMIT_MAX ?? 600);
    expect(await from('127.0.0.2', '/whoami')).toEqual({ status: 401, remaining: String(max - 1) });
    expect(await from('127.0.0.3', '/whoami')).toEqual({ status: 401, remaining: String(max - 1) });
    // the gateway sets X-Forwarded-For to the address it saw: a forged one changes nothing
    expect(await from('127.0.0.2', '/whoami', { 'x-forwarded-for': '203.0.113.9' })).toEqual({
      status: 401,
      remaining: String(max - 2),
    });
  });

  test("the gateway's own errors are JSON: 413 over 1 MB, 502 with no api up", async () => {
    const big = await http<{ error: { code: string; message: string } }>(
      'POST',
      `${gw}/task`,
      { a: 1, b: 2, pad: 'x'.repeat(1_100_000) },
      { authorization: `Bearer ${token('client')}` },
    );
    expect({ status: big.status, type: big.headers.get('content-type'), body: big.body }).toEqual({
      status: 413,
      type: 'application/json',
      body: { error: { code: 'payload_too_large', message: 'the body is over the limit of the gateway (1 MB)' } },
    });
    await Promise.all([procs['api-1'].kill(), procs['api-2'].kill()]);
    const down = await http<{ error: { code: string } }>('GET', `${gw}/healthz`);
    expect({ status: down.status, type: down.headers.get('content-type'), code: down.body.error?.code }).toEqual({
      status: 502,
      type: 'application/json',
      code: 'bad_gateway',
    });
    expect((await healthcheck('bot')).code).toBe(1); // the bot's check goes through the gateway too
  }, 20_000);
});
