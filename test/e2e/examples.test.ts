/**
 * What a newcomer runs, as written: the README's try-it line on this clone (after `npm ci`, which
 * the test setup has done), and every example's README under examples/, each command run as it is
 * written, through sh, from the clone's root: `wizard` is the built binary on the PATH (as after
 * `npm link`), PORT and WIZARD_API_URL name a free port (for http://127.0.0.1:8000), and /tmp/ is
 * a temp dir of the test's. A line ending in `&` runs in the background; the `# …` lines under a
 * command are what it prints, `…` standing for anything (an id, a name, a time), checked once its
 * lines are joined again (output is wrapped at 80 columns when not on a terminal, and must be);
 * a command whose output starts DEAD, FAILURE or CANCELLED exits 1, any other 0.
 */
import { ChildProcess, execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { assetPath } from '../../src/util/package-root';
import { http, waitUntil, WIZARD_BIN } from '../helpers/procs';
import { freePort } from '../helpers/redis-server';

const ROOT = assetPath();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wx'));
const shims = path.join(tmp, 'bin');
fs.mkdirSync(shims);
fs.writeFileSync(
  path.join(shims, 'wizard'),
  `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(WIZARD_BIN)} "$@"\n`,
  { mode: 0o755 },
);

/** processes started in the background (their process groups, and when their output closed), stopped after each test */
const background: { proc: ChildProcess; closed: Promise<unknown> }[] = [];
afterEach(async () => {
  for (const { proc, closed } of background.splice(0)) {
    try {
      process.kill(-proc.pid!, 'SIGTERM');
    } catch {
      // the group is gone already
    }
    await closed; // its output closed: every process of the group is gone
  }
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** the environment the commands run in: this process's, with no terminal width and the test's port */
function envFor(port: number): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: `${shims}:${process.env.PATH}`,
    PORT: String(port),
    WIZARD_API_URL: `http://127.0.0.1:${port}`,
    NO_COLOR: '1',
    RATE_LIMIT_MAX: '0',
  };
  delete env.COLUMNS;
  return env;
}

/** a command in the background, in a process group of its own; its output so far */
function inBackground(command: string, env: NodeJS.ProcessEnv) {
  const proc = spawn('/bin/sh', ['-c', command], { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  background.push({ proc, closed: new Promise((r) => proc.once('close', r)) });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return { output: () => out };
}

function toEnd(command: string, env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      '/bin/sh',
      ['-c', command],
      { cwd: ROOT, env, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
      },
    );
  });
}

/** the sh blocks of a Markdown file: each command with the `# ` lines under it */
function commandsOf(markdown: string): { command: string; expected: string[] }[] {
  const steps: { command: string; expected: string[] }[] = [];
  for (const block of markdown.matchAll(/^```sh\n([\s\S]*?)^```$/gm)) {
    for (const line of block[1].split('\n')) {
      if (line.trim() === '') continue;
      if (line.startsWith('# ')) steps[steps.length - 1].expected.push(line.slice(2));
      else steps.push({ command: line, expected: [] });
    }
  }
  return steps;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** the expected lines as a pattern: … is anything */
const pattern = (lines: string[]) =>
  new RegExp(`^${lines.map((l) => l.split('…').map(escape).join('.*?')).join('\n')}$`);
/** output wrapped to the width, joined again: a line indented by two continues the one before */
const unwrapped = (text: string) => text.trimEnd().replace(/\n {2}(?=\S)/g, ' ');

describe('the README', () => {
  test('the try-it line, npm ci && <command>, starts the API on PORT in seconds on a fresh clone', async () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const tryIt = readme.slice(readme.indexOf('## Try it'));
    const [line] = commandsOf(tryIt).map((s) => s.command);
    expect(line).toMatch(/^npm ci && /);
    const port = await freePort();
    const started = inBackground(line.replace(/^npm ci && /, ''), envFor(port)); // npm ci ran before the tests
    const api = `http://127.0.0.1:${port}`;
    const whoami = await waitUntil(
      async () => {
        const r = await http<{ role: string }>('GET', `${api}/whoami`);
        return r.status === 200 && r.body;
      },
      60_000,
      `the API on PORT ${port}`,
      200,
    );
    expect(whoami.role).toBe('api');
    const task = await http<{ task_id: string }>('POST', `${api}/task`, { a: 2, b: 3 });
    expect(task.status).toBe(202);
    const done = await waitUntil(
      async () => {
        const r = await http<{ status: string; result: number }>('GET', `${api}/tasks/${task.body.task_id}/status`);
        return r.body.status === 'SUCCESS' && r.body;
      },
      20_000,
      'the task',
    );
    expect(done.result).toBe(5);
    expect(started.output()).toContain(`wizard up: API and dashboard at ${api}`);
  }, 90_000);
});

const EXAMPLES = fs
  .readdirSync(path.join(ROOT, 'examples'))
  .filter((d) => fs.existsSync(path.join(ROOT, 'examples', d, 'README.md')));

test('every example has a README with commands', () => {
  expect(EXAMPLES.sort()).toEqual(['bot-command', 'handlers']);
  for (const d of EXAMPLES)
    expect(commandsOf(fs.readFileSync(path.join(ROOT, 'examples', d, 'README.md'), 'utf8')).length).toBeGreaterThan(2);
});

describe.each(EXAMPLES)('examples/%s/README.md', (example) => {
  test('runs as written, each command printing what the README says', async () => {
    const port = await freePort();
    const env = envFor(port);
    const dir = fs.mkdtempSync(path.join(tmp, 'x')); // short: a result naming a file in it stays one word of a line
    const here = (s: string) =>
      s.replaceAll('/tmp/', `${dir}/`).replaceAll('http://127.0.0.1:8000', `http://127.0.0.1:${port}`);
    const steps = commandsOf(fs.readFileSync(path.join(ROOT, 'examples', example, 'README.md'), 'utf8'));
    for (const { command, expected } of steps) {
      const cmd = here(command);
      const want = expected.map(here);
      const bg = /\s&\s*$/.exec(cmd);
      if (bg) {
        const started = inBackground(cmd.slice(0, bg.index), env);
        // a background command's lines are waited for: they say it is ready
        for (const l of want)
          await waitUntil(
            async () =>
              started
                .output()
                .split('\n')
                .some((o) => pattern([l]).test(o)),
            60_000,
            `${cmd}: ${l}`,
            100,
          );
        continue;
      }
      const r = await toEnd(cmd, env);
      const failed = /^(DEAD|FAILURE|CANCELLED) /.test(want[0] ?? '');
      expect({ command: cmd, code: r.code, stderr: r.stderr }).toEqual({
        command: cmd,
        code: failed ? 1 : 0,
        stderr: '',
      });
      expect({ command: cmd, out: unwrapped(r.stdout) }).toEqual({
        command: cmd,
        out: expect.stringMatching(pattern(want)),
      });
      for (const l of r.stdout.split('\n'))
        expect({ command: cmd, line: l, width: l.length <= 80 }).toEqual({ command: cmd, line: l, width: true });
    }
  }, 180_000);
});
