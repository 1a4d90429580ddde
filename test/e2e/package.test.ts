/**
 * wizard as a package, the way a user meets it: `npm pack` of this clone (built already), the
 * tarball installed into an empty project (`npm install <tarball>`: nothing of wizard's runs, it
 * has no build tools there), then
 *  - a handlers module written in TypeScript with defineJobs, and a program using the Client,
 *    type-checked by tsc against the installed types (lines that must not compile carry
 *    `@ts-expect-error`: a stale one is an error too) and compiled;
 *  - the installed `wizard up` (its own bin, in memory, no Redis) loading the compiled module;
 *  - an `.mjs` script and the compiled program using the client against it;
 *  - a user's jest test running the module's jobs with `wizard/testing`;
 *  - the client's entry loading no server code (Express, Piscina, Swagger UI, the store).
 * Installing takes the tarball's dependencies from npm's cache where it has them (--prefer-offline).
 */
import { ChildProcess, execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { assetPath } from '../../src/util/package-root';
import { freePort } from '../helpers/redis-server';
import { waitUntil } from '../helpers/procs';

const run = promisify(execFile);
const ROOT = assetPath();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wizard-package-'));
const project = path.join(tmp, 'project');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
let up: ChildProcess | null = null;
let upOutput = '';
let url = '';

/** a file of the user's project */
function write(file: string, text: string): void {
  fs.mkdirSync(path.dirname(path.join(project, file)), { recursive: true });
  fs.writeFileSync(path.join(project, file), text);
}

/** node (or a tool's script) in the project, to its end; rejects with what it printed when it fails */
async function inProject(cmd: string, args: string[], env: Record<string, string> = {}) {
  try {
    return await run(cmd, args, {
      cwd: project,
      env: { ...process.env, NO_COLOR: '1', ...env },
      timeout: 120_000,
      maxBuffer: 16 << 20,
    });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  }
}

const JOBS_TS = `
import { defineJobs } from 'wizard';

export default defineJobs({
  resize: {
    params: {
      type: 'object',
      required: ['width', 'height'],
      properties: { width: { type: 'integer' }, height: { type: 'integer' } },
    },
    async run(p: { width: number; height: number }, ctx) {
      ctx.progress(0.5);
      await new Promise((r) => setTimeout(r, 100));
      return { area: p.width * p.height };
    },
  },
  flaky: {
    attempts: 3,
    backoff_ms: 60000,
    run(_p: Record<string, never>, ctx) {
      if (ctx.attempt < 3) throw new Error('not yet');
      return { attempt: ctx.attempt };
    },
  },
});
`;

const PROGRAM_TS = `
import { Client, JobFailed, NotFound, ValidationError } from 'wizard';
import type jobs from './jobs';

async function main(url: string) {
  const client = new Client<typeof jobs>({ url });
  const made = await client.add('resize', { width: 6, height: 7 }, { priority: 1, idempotency_key: 'ts-1' });
  const resized = await client.waitUntilFinished(made.job_id, { timeoutMs: 20000 });
  const area: number = resized.area;
  // @ts-expect-error width is a number
  const bad = await client.add('resize', { width: 'x', height: 1 }).catch((e: unknown) => e);
  // @ts-expect-error height is required
  void client.add.bind(client, 'resize', { width: 1 });
  // @ts-expect-error no type of that name
  void client.add.bind(client, 'rotate', {});
  // @ts-expect-error a result has only the fields run returns
  void resized.volume;
  // @ts-expect-error a math task's a is a number
  void client.add.bind(client, 'task', { a: '1', b: 2 });
  const sum: number = await client.waitUntilFinished((await client.add('task', { a: 2, b: 3, op: 'mul' })).job_id);
  const count = await client.waitUntilFinished((await client.add('primes', { n: 100000, chunks: 2 })).job_id);
  const primes: number = count.prime_count;
  const missing = await client.get('00000000-0000-4000-8000-000000000000').catch((e: unknown) => e);
  const delayed = await client.add('task', { a: 1, b: 1 }, { delay_ms: 600000 });
  await client.cancel(delayed.job_id);
  const cancelled = await client.waitUntilFinished(delayed.job_id).catch((e: unknown) => e);
  const madeFlow = await client.addFlow(
    {
      name: 'typed',
      nodes: [
        { id: 'r', type: 'resize', params: { width: 2, height: 5 } },
        { id: 't', type: 'task', params: { a: 1, b: 1 }, deps: ['r'], on_dep_failure: 'continue' },
      ],
    },
    { idempotency_key: 'flow-ts-1' },
  );
  // @ts-expect-error a node's params are typed by its type
  void client.addFlow.bind(client, { nodes: [{ id: 'x', type: 'resize', params: { width: 'x', height: 1 } }] });
  // @ts-expect-error a prime count cannot be a node
  void client.addFlow.bind(client, { nodes: [{ id: 'p', type: 'primes', params: { n: 10, chunks: 1 } }] });
  const flow = await client.waitUntilFlowFinished(madeFlow.flow_id, { timeoutMs: 20000 });
  const again = await client.getFlow(madeFlow.flow_id);
  console.log(
    JSON.stringify({
      flow: [flow.state, flow.nodes.r.result, flow.nodes.t.deps, again.progress],
      area,
      sum,
      primes,
      badField: bad instanceof ValidationError ? bad.field : null,
      missing: missing instanceof NotFound,
      cancelled: cancelled instanceof JobFailed ? cancelled.state : null,
    }),
  );
}

main(process.argv[2]).catch((err) => {
  console.error(err);
  process.exit(1);
});
`;

const SCRIPT_MJS = `
import { Client, NotFound, Unavailable, ValidationError } from 'wizard';

const client = new Client({ url: process.argv[2] });
const made = await client.add('resize', { width: 2, height: 3 });
const seen = [];
for await (const ev of client.events(made.job_id)) seen.push(ev.state);
const result = await client.waitUntilFinished(made.job_id, { timeoutMs: 20000 });
const bulk = await client.addBulk([
  { type: 'task', params: { a: 1, b: 2 } },
  { type: 'task', params: { a: 3, b: 4 } },
]);
const sums = [];
for (const b of bulk) sums.push(await client.waitUntilFinished(b.job_id, { timeoutMs: 20000 }));
const refused = await client.add('resize', { width: 1 }).catch((e) => e);
const diamond = await client.addFlow({
  nodes: [
    { id: 'a', type: 'task', params: { a: 1, b: 1 } },
    { id: 'b', type: 'task', params: { a: 2, b: 2 }, deps: ['a'] },
    { id: 'c', type: 'resize', params: { width: 2, height: 2 }, deps: ['a'] },
    { id: 'd', type: 'task', params: { a: 0, b: 0 }, deps: ['b', 'c'] },
  ],
});
const ended = await client.waitUntilFlowFinished(diamond.flow_id, { timeoutMs: 20000 });
const badNode = await client.addFlow({ nodes: [{ id: 'a', type: 'resize', params: { width: 1 } }] }).catch((e) => e);
const noFlow = await client.getFlow('00000000-0000-4000-8000-000000000000').catch((e) => e);
const away = await new Client({ url: 'http://127.0.0.1:9', maxTries: 2, retryDelayMs: 10 }).get('x').catch((e) => e);
console.log(JSON.stringify({
  result,
  last: seen.at(-1),
  sums,
  refused: refused instanceof ValidationError ? refused.field : String(refused),
  away: away instanceof Unavailable ? away.status : String(away),
  diamond: [ended.state, Object.keys(diamond.jobs).sort(), ended.nodes.c.result, ended.nodes.d.deps],
  badNode: badNode instanceof ValidationError ? badNode.field : String(badNode),
  noFlow: noFlow instanceof NotFound,
}));
`;

const USER_TEST = `
const path = require('node:path');
const { createTestStore, ValidationError } = require('wizard/testing');

test('a resize job runs, a flaky one succeeds on its third attempt', async () => {
  const store = await createTestStore(path.join(__dirname, '..', 'out', 'jobs.js'));
  try {
    const resize = await store.add('resize', { width: 4, height: 5 });
    const flaky = await store.add('flaky', {});
    await expect(store.add('resize', { width: 'x', height: 1 })).rejects.toBeInstanceOf(ValidationError);
    const drained = await store.drain();
    expect(drained).toEqual({ ran: 4, succeeded: 2, failed: 2 });
    expect((await store.get(resize.job_id)).result).toEqual({ area: 20 });
    const f = await store.get(flaky.job_id);
    expect([f.state, f.attempts, f.result]).toEqual(['SUCCESS', 3, { attempt: 3 }]);
  } finally {
    await store.close();
  }
});
`;

beforeAll(async () => {
  fs.mkdirSync(project, { recursive: true });
  // the tarball, as \`npm pack\` makes it from the built clone (its prepare is the clone's build: skipped here)
  const packed = await run(npm, ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], {
    cwd: ROOT,
    maxBuffer: 16 << 20,
  });
  const [info] = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[];
  const files = info.files.map((f) => f.path);
  for (const f of [
    'bin/wizard',
    'dist/src/index.js',
    'dist/src/index.d.ts',
    'dist/src/testing.js',
    'dist/src/testing.d.ts',
    'src/store/lua/claimJobs.lua',
    'src/roles/api/public/index.html',
  ])
    expect(files).toContain(f);
  expect(files.filter((f) => f.startsWith('test/') || f.startsWith('dist/test/'))).toEqual([]);

  write('package.json', JSON.stringify({ name: 'uses-wizard', version: '1.0.0', private: true }));
  await inProject(npm, [
    'install',
    path.join(tmp, info.filename),
    '--prefer-offline',
    '--no-audit',
    '--no-fund',
    '--loglevel=error',
  ]);
  // the installed package has no build of its own to run: a prepare there would have failed the install
  expect(fs.existsSync(path.join(project, 'node_modules', 'wizard', 'tsconfig.json'))).toBe(false);

  write('src/jobs.ts', JOBS_TS);
  write('src/program.ts', PROGRAM_TS);
  write('script.mjs', SCRIPT_MJS);
  write('test/resize.test.js', USER_TEST);
  write(
    'tsconfig.json',
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'node16',
        moduleResolution: 'node16',
        strict: true,
        skipLibCheck: false,
        outDir: 'out',
        rootDir: 'src',
        types: ['node'],
        typeRoots: [path.join(ROOT, 'node_modules', '@types')],
      },
      include: ['src'],
    }),
  );
  // type-checked against the installed package's types, and compiled (a stale @ts-expect-error fails too)
  await inProject(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', '.']);

  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  up = spawn(
    process.execPath,
    [path.join(project, 'node_modules', 'wizard', 'bin', 'wizard'), 'up', '--port', String(port)],
    {
      cwd: project,
      env: {
        ...process.env,
        NO_COLOR: '1',
        RATE_LIMIT_MAX: '0',
        WIZARD_HANDLERS: path.join(project, 'out', 'jobs.js'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  up.stdout!.on('data', (d: Buffer) => (upOutput += d.toString()));
  up.stderr!.on('data', (d: Buffer) => (upOutput += d.toString()));
  await waitUntil(
    async () => {
      if (up!.exitCode !== null) throw new Error(`wizard up exited ${up!.exitCode}:\n${upOutput}`);
      return (await fetch(`${url}/health`).catch(() => null))?.ok === true;
    },
    30_000,
    'wizard up to answer /health',
  );
}, 170_000);

afterAll(async () => {
  if (up && up.exitCode === null) {
    const exited = new Promise((r) => up!.once('exit', r));
    up.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 10_000)))]);
    clearTimeout(timer);
    if (up.exitCode === null) up.kill('SIGKILL');
  }
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('an .mjs script adds, follows and waits for jobs through the installed client', async () => {
  const { stdout } = await inProject(process.execPath, ['script.mjs', url]);
  expect(JSON.parse(stdout)).toEqual({
    result: { area: 6 },
    last: 'SUCCESS',
    sums: [3, 7],
    refused: 'params.height',
    away: 0,
    diamond: ['SUCCESS', ['a', 'b', 'c', 'd'], { area: 4 }, ['b', 'c']],
    badNode: 'nodes[0].params.height',
    noFlow: true,
  });
});

test('the type-checked TypeScript program runs against the live wizard up', async () => {
  const { stdout } = await inProject(process.execPath, ['out/program.js', url]);
  expect(JSON.parse(stdout)).toEqual({
    area: 42,
    sum: 6,
    primes: 9592,
    badField: 'params.width',
    missing: true,
    cancelled: 'CANCELLED',
    flow: ['SUCCESS', { area: 10 }, ['r'], { completed: 2, total: 2 }],
  });
});

test("a user's jest test runs the module's jobs in-process with wizard/testing", async () => {
  const jest = path.join(ROOT, 'node_modules', 'jest', 'bin', 'jest.js');
  const { stderr } = await inProject(process.execPath, [
    jest,
    '--rootDir',
    project,
    '--testEnvironment',
    'node',
    '--testMatch',
    '**/test/*.test.js',
    '--ci',
  ]);
  expect(stderr).toMatch(/Tests:\s+1 passed, 1 total/);
}, 90_000);

test("the client's entry loads no server code", async () => {
  const { stdout } = await inProject(process.execPath, [
    '-e',
    "require('wizard'); console.log(JSON.stringify(Object.keys(require.cache)))",
  ]);
  const loaded = JSON.parse(stdout) as string[];
  const wizardDir = path.join(project, 'node_modules', 'wizard') + path.sep;
  expect(loaded.filter((f) => !f.startsWith(wizardDir))).toEqual([]); // no dependency at all
  const own = loaded.map((f) => path.relative(wizardDir, f).split(path.sep).join('/'));
  expect(own.filter((f) => /\/(roles|store|commands)\//.test(f))).toEqual([]);
  expect(own).toContain('dist/src/sdk/client.js');
});

test('the CLI runs from the same install (npx wizard)', async () => {
  const { stdout } = await inProject(npm, ['exec', '--no', '--', 'wizard', '--version']);
  expect(stdout.trim()).toBe(JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version);
});
