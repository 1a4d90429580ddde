/**
 * Submitting and following a --handlers module's type from the CLI, across real processes: `up`
 * with the module (in memory), and the built wizard's `submit <type>` and `watch <id>` against
 * it. `submit --watch` on a terminal shows the handler's progress as a percentage bar while it
 * runs and the result at the end (exit 0); --json prints the job; the API's 400s (params the
 * schema refuses, an unknown type) are one line and exit 2, as a bad --params is.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { http, killAll, runWizard, spawnWizard, waitUntil, WIZARD_BIN } from '../helpers/procs';
import { freePort } from '../helpers/redis-server';

afterAll(killAll);

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wizard-handlers-cli-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const MODULE = path.join(tmp, 'types.mjs');
fs.writeFileSync(
  MODULE,
  `
import fs from 'node:fs';
export default {
  wordcount: {
    params: { type: 'object', required: ['text'], properties: { text: { type: 'string' } } },
    run: (p) => ({ words: p.text.split(/\\s+/).length }),
  },
  mail: {
    params: { type: 'object', required: ['to'], properties: { to: { type: 'string' } } },
    queue: 'outbox',
  },
  longway: {
    params: { type: 'object', required: ['release'], properties: { release: { type: 'string' } } },
    async run(p, ctx) {
      ctx.progress({ completed: 10, total: 200 });
      while (!fs.existsSync(p.release) && !ctx.signal.aborted) await new Promise((r) => setTimeout(r, 50));
      return { released: true };
    },
  },
  halfway: {
    params: { type: 'object', required: ['release'], properties: { release: { type: 'string' } } },
    async run(p, ctx) {
      ctx.progress(0.5);
      // holds at 50% until the test has seen the bar and writes the release file
      while (!fs.existsSync(p.release) && !ctx.signal.aborted) await new Promise((r) => setTimeout(r, 50));
      return { released: true };
    },
  },
};
`,
);

let api: string;
let up: ReturnType<typeof spawnWizard>;
beforeAll(async () => {
  const port = await freePort();
  api = `http://127.0.0.1:${port}`;
  up = spawnWizard(['up', '--port', String(port), '--bots', '0', '--handlers', MODULE], {}, 'up-handlers-cli');
  await up.waitForOutput(/API and dashboard at/, 30_000);
}, 60_000);

const cli = (args: string[]) => runWizard([...args, '--api', api]);

/** `wizard <args>` on a pseudo-terminal (script(1)) of 80 columns, so its spinner draws: what it printed, as it comes, and its exit code */
function onTerminal(args: string[], columns = 80) {
  const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: '1', TERM: 'xterm' };
  delete env.CI; // ora draws nothing when CI is set
  delete env.COLUMNS; // the terminal's width, not the variable's
  const command = `stty cols ${columns} rows 24; exec ${[process.execPath, WIZARD_BIN, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ')}`;
  const proc = spawn('script', ['-qefc', command, '/dev/null'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return { output: () => out, exited };
}

test('submit <type> --watch on a terminal: a percentage bar while the handler runs, then its result, exit 0', async () => {
  const release = path.join(tmp, 'release');
  const run = onTerminal(['submit', 'halfway', '--params', JSON.stringify({ release }), '--watch', '--api', api]);
  await waitUntil(async () => /: PROGRESS \[##########----------\] 50% /.test(run.output()), 20_000, 'the 50% bar');
  fs.writeFileSync(release, '');
  expect(await run.exited).toBe(0);
  expect(run.output()).toMatch(/SUCCESS halfway [0-9a-z]{16}: result \{"released":true\}\s+by\s/); // wrapped to the terminal's 80 columns
});

test('submit <type> --json prints the job; watch <id> follows it to its result, --json the final record', async () => {
  const submitted = cli(['submit', 'wordcount', '--params', '{"text":"one two three"}', '--json']);
  expect(submitted.code).toBe(0);
  expect(submitted.stdout.trim().split('\n')).toHaveLength(1);
  const job = JSON.parse(submitted.stdout) as { job_id: string; status: string };
  expect(job.job_id).toMatch(/^[0-9a-z]{16}$/);
  const watched = cli(['watch', job.job_id]);
  expect(watched.code).toBe(0);
  // not on a terminal: wrapped to 80 columns, the rest of a line indented by two
  for (const line of watched.stdout.split('\n')) expect(line.length).toBeLessThanOrEqual(80);
  expect(watched.stdout.trim().replace(/\n {2}/g, ' ')).toMatch(
    new RegExp(`^SUCCESS wordcount ${job.job_id}: result \\{"words":3\\} by .* in \\d+ ms$`),
  );
  const asJson = cli(['watch', job.job_id, '--json']);
  expect(asJson.code).toBe(0);
  expect(JSON.parse(asJson.stdout)).toMatchObject({
    job_id: job.job_id,
    type: 'wordcount',
    state: 'SUCCESS',
    attempts: 1,
    result: { words: 3 },
  });
  const watchedAtSubmit = cli(['submit', 'wordcount', '--params', '{"text":"a b"}', '--watch', '--json']);
  expect(watchedAtSubmit.code).toBe(0);
  expect(JSON.parse(watchedAtSubmit.stdout)).toMatchObject({
    type: 'wordcount',
    state: 'SUCCESS',
    attempts: 1,
    result: { words: 2 },
    params: { text: 'a b' },
  });
});

describe('bad input is one line on stderr, exit 2', () => {
  const cases: [string, string[], string][] = [
    [
      'params the schema refuses (the field named)',
      ['submit', 'wordcount', '--params', '{"text":5}'],
      'error: params.text: must be string',
    ],
    [
      'a missing field',
      ['submit', 'wordcount', '--params', '{}'],
      "error: params.text: must have required property 'text'",
    ],
    [
      'an unknown type (the known ones listed)',
      ['submit', 'nope', '--params', '{}'],
      "error: type must be one of task, primes, sim, wordcount, mail, longway, halfway, got 'nope'",
    ],
    [
      'a type for bots with a command sent to another queue',
      ['submit', 'mail', '--params', '{"to":"x"}', '--queue', 'bots'],
      "error: queue: type mail has no run: its jobs go to its queue 'outbox', where bots with --exec claim them, not 'bots'",
    ],
  ];
  test.each(cases)('%s', (_what, args, line) => {
    const r = cli(args);
    expect([r.code, r.stderr.trim().split('\n'), r.stdout]).toEqual([2, [line], '']);
  });

  test.each(['{text: 1', '[1]'])('--params %s (not a JSON object) names --params', (value) => {
    const r = cli(['submit', 'wordcount', '--params', value]);
    expect([r.code, r.stderr.trim().split('\n'), r.stdout]).toEqual([
      2,
      [
        `error: option '--params <json>' argument '${value}' is invalid. --params must be a JSON object, got '${value}'`,
      ],
      '',
    ]);
  });
});

test('on a 60-column terminal the live line fits: the id shortened when the whole would not', async () => {
  const release = path.join(tmp, 'release-longway');
  // the whole line (a 16-character id, a 20-wide bar, 10/200, the time) is 61 characters
  const run = onTerminal(['submit', 'longway', '--params', JSON.stringify({ release }), '--watch', '--api', api], 60);
  // what each redraw of the line, and each line, shows: split where the cursor moves or the line ends
  const segments = () => run.output().split(/\u001b\[[0-9;?]*[A-Za-z]|\r|\n/);
  await waitUntil(
    async () => segments().some((l) => / [0-9a-z]{8}: PROGRESS \[#-{19}\] 10\/200 \d+\.\ds$/.test(l)),
    20_000,
    'the live line with the short id',
  );
  fs.writeFileSync(release, '');
  expect(await run.exited).toBe(0);
  for (const l of segments()) expect({ l, fits: l.length <= 60 }).toEqual({ l, fits: true });
  expect(segments().join('\n')).toMatch(/SUCCESS longway [0-9a-z]{16}: result \{"released":true\}\s+by /);
});

test('up says which types it loaded', () => {
  const line = up
    .output()
    .split('\n')
    .find((l) => l.includes('job types loaded'));
  expect(JSON.parse(line!)).toMatchObject({
    level: 'info',
    role: 'up',
    file: MODULE,
    types: 'wordcount, mail (no run: bots with --exec, queue outbox), longway, halfway',
  });
});

describe('a type for bots with a command: only such bots, from its own queue', () => {
  test('a bot with --exec and --queue runs it; the API lets a bot claim from that queue and the bot queue only', async () => {
    const submitted = JSON.parse(cli(['submit', 'mail', '--params', '{"to":"ann"}', '--json']).stdout) as {
      job_id: string;
      queue: string;
    };
    expect(submitted.queue).toBe('outbox');
    const echo = `${JSON.stringify(process.execPath)} -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>console.log(JSON.stringify({sent:JSON.parse(s).to,type:process.env.WIZARD_JOB_TYPE})))"`;
    const bot = spawnWizard(
      ['bot', '--name', 'mailer', '--queue', 'outbox', '--exec', echo, '--api', api, '--poll-ms', '100'],
      {},
      'mailer',
    );
    const watched = cli(['watch', submitted.job_id, '--json']);
    expect(watched.code).toBe(0);
    expect(JSON.parse(watched.stdout)).toMatchObject({
      state: 'SUCCESS',
      attempts: 1,
      result: { sent: 'ann', type: 'mail' },
    });
    await bot.kill('SIGTERM');

    const reg = await http<{ token: string }>('POST', `${api}/bots/register`, { name: 'prober' });
    const as = { Authorization: `Bearer ${reg.body.token}` };
    const refused = await http<{ error: { code: string; details: unknown } }>(
      'POST',
      `${api}/jobs/claim`,
      { queue: 'default' },
      as,
    );
    expect(refused.status).toBe(403);
    expect(refused.body.error.details).toEqual([{ field: 'queue', message: "must be one of 'bots', 'outbox'" }]);
    expect((await http('POST', `${api}/jobs/claim`, { queue: 'outbox' }, as)).status).toBe(204);
  }, 40_000);

  test('--queue without --exec is exit 2: a built-in bot runs only sim and task jobs', () => {
    const r = runWizard(['bot', '--queue', 'outbox', '--api', api]);
    expect([r.code, r.stderr.trim().split('\n'), r.stdout]).toEqual([
      2,
      ['error: --queue needs --exec: a bot without a command runs only sim and task jobs, which come on the bot queue'],
      '',
    ]);
  });

  test.each([['api'], ['up'], ['scheduler']])(
    'a module with a type on the bot queue stops %s at start (exit 2, naming the type)',
    (role) => {
      const bad = path.join(tmp, 'on-bot-queue.mjs');
      fs.writeFileSync(bad, "export default { upload: { params: { type: 'object' }, queue: 'bots' } };\n");
      // a Redis that is not there: the module is refused before any store is opened
      const r = runWizard([
        role,
        '--handlers',
        bad,
        '--redis',
        'redis://127.0.0.1:1',
        ...(role === 'scheduler' ? [] : ['--port', '0']),
      ]);
      expect([r.code, r.stderr.trim().split('\n'), r.stdout]).toEqual([
        2,
        [
          `error: --handlers ${bad}: type upload: queue 'bots' is the built-in bots' queue (--bot-queue), and they run only sim and task jobs: give the type a queue of its own, for bots started with --exec and --queue <it>`,
        ],
        '',
      ]);
    },
  );
});
