/**
 * The image's runtime stage, without Docker: deploy/stage-runtime.sh (what the Dockerfile's
 * build stage runs) lays out the runtime in a temp dir, and wizard runs from there alone,
 * through a symlink as the image's ENTRYPOINT does, with the Dockerfile's ENV (WIZARD_HOST=0.0.0.0
 * among them) and nothing of this machine's: --help, the image's default command (its tokens kept
 * in a file it names, never printed), the api (with a
 * tokens file from `wizard tokens init`) and a worker that counts primes in its thread pool, and
 * the healthcheck of each kind of role.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { testPrefix, testRedisUrl } from '../helpers/env';
import { assetPath } from '../../src/util/package-root';
import { dockerfileCmd, dockerfileEnv } from '../helpers/deploy-files';
import { http, waitUntil } from '../helpers/procs';
import { freePort } from '../helpers/redis-server';

let dir: string;
let bin: string;
const procs: ReturnType<typeof spawn>[] = [];

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wizard-image-'));
  const staged = spawnSync('bash', [assetPath('deploy', 'stage-runtime.sh'), path.join(dir, 'app')], {
    encoding: 'utf8',
    // npm pack and a production npm ci: about 10 s, several times that on a loaded machine
    timeout: 150_000,
  });
  if (staged.status !== 0)
    throw new Error(`stage-runtime.sh failed (${staged.signal ?? staged.status}): ${staged.stderr}`);
  fs.mkdirSync(path.join(dir, 'bin'));
  bin = path.join(dir, 'bin', 'wizard');
  fs.symlinkSync(path.join(dir, 'app', 'bin', 'wizard'), bin); // RUN ln -s /app/bin/wizard /usr/local/bin/wizard
}, 155_000);

afterAll(async () => {
  for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
  await new Promise((r) => setTimeout(r, 100));
  fs.rmSync(dir, { recursive: true, force: true });
});

/** run from / so that nothing resolves through the repository, with the image's ENV */
const env = (extra: Record<string, string> = {}) => ({
  PATH: process.env.PATH ?? '',
  NO_COLOR: '1',
  ...dockerfileEnv(),
  ...extra,
});
const run = (args: string[], extra: Record<string, string> = {}) =>
  spawnSync(bin, args, { cwd: '/', encoding: 'utf8', env: env(extra), timeout: 20_000 });

function start(args: string[], extra: Record<string, string>): { out: () => string } {
  const p = spawn(bin, args, { cwd: '/', env: env(extra), stdio: ['ignore', 'pipe', 'pipe'] });
  procs.push(p);
  let out = '';
  p.stdout!.on('data', (d) => (out += d));
  p.stderr!.on('data', (d) => (out += d));
  return { out: () => out };
}

test('the runtime holds only what ships, and no dev dependency', () => {
  const app = path.join(dir, 'app');
  expect(fs.readdirSync(app).sort()).toEqual(
    expect.arrayContaining(['bin', 'dist', 'node_modules', 'package-lock.json', 'package.json', 'src']),
  );
  expect(fs.readdirSync(path.join(app, 'dist'))).toEqual(['src']);
  for (const dev of ['typescript', 'jest', 'bullmq', 'ts-jest'])
    expect(fs.existsSync(path.join(app, 'node_modules', dev))).toBe(false);
  expect(fs.existsSync(path.join(app, 'src', 'store', 'lua', 'claimJobs.lua'))).toBe(true);
});

test('wizard --help and every role help run from the staged runtime', () => {
  for (const args of [
    ['--help'],
    ['api', '--help'],
    ['worker', '--help'],
    ['scheduler', '--help'],
    ['bot', '--help'],
    ['healthcheck', '--help'],
    ['tokens', 'init', '--help'],
  ]) {
    const r = run(args);
    expect({ args, status: r.status, stderr: r.stderr }).toEqual({ args, status: 0, stderr: '' });
  }
});

test("the image's default command with its ENV and no tokens serves, with a token per role kept in a file it names, never printed", async () => {
  expect(dockerfileCmd()).toEqual(['up']);
  expect(dockerfileEnv().WIZARD_HOST).toBe('0.0.0.0');
  const home = path.join(dir, 'home-node'); // the node user's HOME in the image
  const file = path.join(home, '.local', 'state', 'wizard', 'tokens');
  const port = String(await freePort()); // the image's PORT (8000) may be taken on this machine
  const up = start(dockerfileCmd(), { PORT: port, LOG_LEVEL: 'warn', HOME: home });
  await waitUntil(
    async () => up.out().includes('wizard tokens show'),
    20_000,
    `where the tokens are kept; output: ${up.out()}`,
  );
  expect(up.out()).toContain(`this node's tokens (admin, bot, client) were made and are kept in ${file}.`);
  expect(up.out()).toContain(`Read them with: wizard tokens show --file ${file}`);
  expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  const shown = run(['tokens', 'show', '--file', file]);
  const [admin, , client] = shown.stdout
    .trim()
    .split('\n')
    .map((l) => l.split(' ')[2]);
  expect([admin, client]).toEqual([expect.stringMatching(/^[0-9a-f]{48}$/), expect.stringMatching(/^[0-9a-f]{48}$/)]);
  for (const t of [admin, client]) expect(up.out()).not.toContain(t); // not in `docker logs`
  const url = `http://127.0.0.1:${port}`;
  expect((await http('GET', `${url}/jobs`)).status).toBe(401);
  expect((await http('GET', `${url}/jobs`, undefined, { authorization: `Bearer ${client}` })).status).toBe(200);
  expect((await http('GET', `${url}/dlq`, undefined, { authorization: `Bearer ${client}` })).status).toBe(403);
  expect((await http('GET', `${url}/dlq`, undefined, { authorization: `Bearer ${admin}` })).status).toBe(200);
  expect(run(['healthcheck', '--role', 'up'], { PORT: port }).status).toBe(0);

  // started again (a container restarted on its volume): the same tokens, from the file
  const port2 = String(await freePort());
  const again = start(dockerfileCmd(), { PORT: port2, LOG_LEVEL: 'warn', HOME: home });
  await waitUntil(
    async () => again.out().includes('wizard tokens show'),
    20_000,
    `the second start; output: ${again.out()}`,
  );
  expect(again.out()).toContain(`are kept, from an earlier start, in ${file}.`);
  expect(
    (await http('GET', `http://127.0.0.1:${port2}/dlq`, undefined, { authorization: `Bearer ${admin}` })).status,
  ).toBe(200);

  // nowhere to keep them: exit 2, one line naming the file and what to do instead
  fs.mkdirSync(path.join(dir, 'ro-home'), { mode: 0o500 });
  const refused = run(['up'], { PORT: '0', HOME: path.join(dir, 'ro-home') });
  if (process.getuid?.() !== 0) {
    expect({ status: refused.status, lines: refused.stderr.trim().split('\n').length }).toEqual({
      status: 2,
      lines: 1,
    });
    expect(refused.stderr).toMatch(
      /wizard up's tokens file \(give --tokens-file or WIZARD_API_TOKENS, or set XDG_STATE_HOME\): cannot write .*ro-home\/\.local\/state\/wizard\/tokens: EACCES/,
    );
  }
}, 60_000);

test('wizard api with the image ENV and no tokens still refuses to start (exit 2, one line naming --host)', () => {
  const r = run(['api'], { REDIS_URL: testRedisUrl(), PORT: '0' });
  expect(r.status).toBe(2);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(/--host 0\.0\.0\.0 .*--tokens-file/);
});

test('wizard api (with the tokens file wizard tokens init wrote) and wizard worker from the staged runtime count primes; each role’s healthcheck passes', async () => {
  const redis = testRedisUrl();
  const tokensFile = path.join(dir, 'var', 'tokens');
  const init = run(['tokens', 'init', '--file', tokensFile]);
  expect({ status: init.status, stdout: init.stdout }).toEqual({
    status: 0,
    stdout: `wrote ${tokensFile}: admin (admin), bot (bot), client (client)\n`,
  });
  expect(fs.statSync(tokensFile).mode & 0o777).toBe(0o600);
  const client = run(['tokens', 'show', '--role', 'client'], { WIZARD_TOKENS_FILE: tokensFile }).stdout.trim();
  expect(client).toMatch(/^[0-9a-f]{48}$/);
  const auth = { authorization: `Bearer ${client}` };
  const common = { REDIS_URL: redis, WIZARD_PREFIX: testPrefix('image'), LOG_LEVEL: 'info' };
  const port = String(await freePort());
  const api = start(['api'], { ...common, PORT: port, WIZARD_TOKENS_FILE: tokensFile });
  start(['worker', '--threads', '1', '--concurrency', '2'], {
    ...common,
    WIZARD_METRICS_PORT: String(await freePort()),
  });
  const url = `http://127.0.0.1:${port}`;
  await waitUntil(async () => /"url":"http:[^"]+"/.test(api.out()), 20_000, `api listening; output: ${api.out()}`);

  expect((await http('GET', `${url}/healthz`)).status).toBe(200);
  // assets the image must carry: the docs' Swagger UI (a production dependency) and prom-client
  for (const p of ['/openapi.json', '/docs', '/docs/assets/swagger-ui-bundle.js', '/metrics'])
    expect({ p, status: (await fetch(url + p, { headers: auth })).status }).toEqual({ p, status: 200 });
  const posted = await http<{ job_id: string }>('POST', `${url}/api/count-primes`, { n: 10_000, chunks: 2 }, auth);
  expect(posted.status).toBe(202);
  const done = await waitUntil(
    async () => {
      const r = await http<{ state: string; result: { prime_count: number } }>(
        'GET',
        `${url}/api/jobs/${posted.body.job_id}`,
        undefined,
        auth,
      );
      return r.body.state === 'SUCCESS' && r.body;
    },
    20_000,
    'the prime count to finish',
  );
  expect(done.result.prime_count).toBe(1229);

  expect(run(['healthcheck', '--role', 'api'], { PORT: port }).status).toBe(0);
  expect(run(['healthcheck', '--role', 'bot'], { WIZARD_API_URL: url }).status).toBe(0);
  expect(
    run(['healthcheck', '--role', 'worker'], { REDIS_URL: redis, WIZARD_PREFIX: common.WIZARD_PREFIX }).status,
  ).toBe(0);
  const down = run(['healthcheck', '--role', 'scheduler', '--timeout-ms', '500'], { REDIS_URL: 'redis://127.0.0.1:1' });
  expect(down.status).toBe(1);
  expect(down.stderr).toMatch(/unhealthy: scheduler redis:\/\/127\.0\.0\.1:1/);
}, 50_000);

test('bad input to tokens and bot: exit 2 with one line naming the flag', () => {
  const adminOnly = path.join(dir, 'admin-only');
  fs.writeFileSync(adminOnly, `ops admin ${'a'.repeat(32)}\n`);
  const cases: [string[], RegExp][] = [
    [['tokens', 'show'], /--file/],
    [['tokens', 'show', '--file', path.join(dir, 'none')], /--file: cannot read .*ENOENT/],
    [['tokens', 'show', '--file', adminOnly, '--role', 'root'], /--role/],
    [['tokens', 'show', '--file', adminOnly, '--role', 'bot'], /--file: .* holds no token with the role bot/],
    [['tokens', 'init', '--file', path.join(adminOnly, 'x')], /--file: cannot write .*admin-only\/x: E/],
    [['bot', '--tokens-file', path.join(dir, 'none')], /--tokens-file: cannot read/],
    [['bot', '--tokens-file', adminOnly], /--tokens-file: .* holds no token with the role bot/],
  ];
  for (const [args, message] of cases) {
    const r = run(args);
    expect({ args, status: r.status, lines: r.stderr.trim().split('\n').length }).toEqual({
      args,
      status: 2,
      lines: 1,
    });
    expect(r.stderr).toMatch(message);
  }
});
