/**
 * The image's runtime stage, without Docker: deploy/stage-runtime.sh (what the Dockerfile's
 * build stage runs) lays out the runtime in a temp dir, and wizard runs from there alone,
 * through a symlink as the image's ENTRYPOINT does: --help, the api and a worker that counts
 * primes in its thread pool, and the healthcheck of each kind of role.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { testPrefix, testRedisUrl } from '../helpers/env';
import { assetPath } from '../../src/util/package-root';
import { http, waitUntil } from '../helpers/procs';

let dir: string;
let bin: string;
const procs: ReturnType<typeof spawn>[] = [];

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wizard-image-'));
  const staged = spawnSync('bash', [assetPath('deploy', 'stage-runtime.sh'), path.join(dir, 'app')], { encoding: 'utf8', timeout: 50_000 });
  if (staged.status !== 0) throw new Error(`stage-runtime.sh failed: ${staged.stderr}`);
  fs.mkdirSync(path.join(dir, 'bin'));
  bin = path.join(dir, 'bin', 'wizard');
  fs.symlinkSync(path.join(dir, 'app', 'bin', 'wizard'), bin); // RUN ln -s /app/bin/wizard /usr/local/bin/wizard
}, 55_000);

afterAll(async () => {
  for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
  await new Promise((r) => setTimeout(r, 100));
  fs.rmSync(dir, { recursive: true, force: true });
});

/** run from / so that nothing resolves through the repository */
const env = (extra: Record<string, string> = {}) => ({ PATH: process.env.PATH ?? '', NO_COLOR: '1', NODE_ENV: 'production', ...extra });
const run = (args: string[], extra: Record<string, string> = {}) => spawnSync(bin, args, { cwd: '/', encoding: 'utf8', env: env(extra), timeout: 20_000 });

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
  expect(fs.readdirSync(app).sort()).toEqual(expect.arrayContaining(['bin', 'dist', 'node_modules', 'package-lock.json', 'package.json', 'src']));
  expect(fs.readdirSync(path.join(app, 'dist'))).toEqual(['src']);
  for (const dev of ['typescript', 'jest', 'bullmq', 'ts-jest']) expect(fs.existsSync(path.join(app, 'node_modules', dev))).toBe(false);
  expect(fs.existsSync(path.join(app, 'src', 'store', 'lua', 'claimJobs.lua'))).toBe(true);
});

test('wizard --help and every role help run from the staged runtime', () => {
  for (const args of [['--help'], ['api', '--help'], ['worker', '--help'], ['scheduler', '--help'], ['bot', '--help'], ['healthcheck', '--help']]) {
    const r = run(args);
    expect({ args, status: r.status, stderr: r.stderr }).toEqual({ args, status: 0, stderr: '' });
  }
});

test('wizard api and wizard worker from the staged runtime count primes; each role’s healthcheck passes', async () => {
  const redis = testRedisUrl();
  const common = { REDIS_URL: redis, WIZARD_PREFIX: testPrefix('image'), LOG_LEVEL: 'info' };
  const api = start(['api', '--port', '0'], { ...common, WIZARD_HOST: '127.0.0.1' });
  start(['worker', '--threads', '1', '--concurrency', '2'], common);
  const url = await waitUntil(async () => /"url":"(http:[^"]+)"/.exec(api.out())?.[1], 20_000, `api listening; output: ${api.out()}`);

  expect((await http('GET', `${url}/healthz`)).status).toBe(200);
  // assets the image must carry: the docs' Swagger UI (a production dependency) and prom-client
  for (const p of ['/openapi.json', '/docs', '/docs/assets/swagger-ui-bundle.js', '/metrics']) expect({ p, status: (await fetch(url + p)).status }).toEqual({ p, status: 200 });
  const posted = await http<{ job_id: string }>('POST', `${url}/api/count-primes`, { n: 10_000, chunks: 2 });
  expect(posted.status).toBe(202);
  const done = await waitUntil(async () => {
    const r = await http<{ state: string; result: { prime_count: number } }>('GET', `${url}/api/jobs/${posted.body.job_id}`);
    return r.body.state === 'SUCCESS' && r.body;
  }, 20_000, 'the prime count to finish');
  expect(done.result.prime_count).toBe(1229);

  const port = new URL(url).port;
  expect(run(['healthcheck', '--role', 'api'], { PORT: port }).status).toBe(0);
  expect(run(['healthcheck', '--role', 'bot'], { WIZARD_API_URL: url }).status).toBe(0);
  expect(run(['healthcheck', '--role', 'worker'], { REDIS_URL: redis, WIZARD_PREFIX: common.WIZARD_PREFIX }).status).toBe(0);
  const down = run(['healthcheck', '--role', 'scheduler', '--timeout-ms', '500'], { REDIS_URL: 'redis://127.0.0.1:1' });
  expect(down.status).toBe(1);
  expect(down.stderr).toMatch(/unhealthy: scheduler redis:\/\/127\.0\.0\.1:1/);
}, 50_000);
