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
import { killAll, runWizard, spawnWizard, waitUntil, WIZARD_BIN } from '../helpers/procs';
import { freePort } from '../helpers/redis-server';

afterAll(killAll);

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wizard-handlers-cli-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const MODULE = path.join(tmp, 'types.mjs');
fs.writeFileSync(MODULE, `
import fs from 'node:fs';
export default {
  wordcount: {
    params: { type: 'object', required: ['text'], properties: { text: { type: 'string' } } },
    run: (p) => ({ words: p.text.split(/\\s+/).length }),
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
`);

let api: string;
beforeAll(async () => {
  const port = await freePort();
  api = `http://127.0.0.1:${port}`;
  const up = spawnWizard(['up', '--port', String(port), '--bots', '0', '--handlers', MODULE], {}, 'up-handlers-cli');
  await up.waitForOutput(/API and dashboard at/, 30_000);
}, 60_000);

const cli = (args: string[]) => runWizard([...args, '--api', api]);

/** `wizard <args>` on a pseudo-terminal (script(1)) of 80 columns, so its spinner draws: what it printed, as it comes, and its exit code */
function onTerminal(args: string[]) {
  const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: '1', TERM: 'xterm' };
  delete env.CI; // ora draws nothing when CI is set
  delete env.COLUMNS; // the terminal's width, not the variable's
  const command = `stty cols 80 rows 24; exec ${[process.execPath, WIZARD_BIN, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ')}`;
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
  await waitUntil(async () => /: STARTED \[##########----------\] 50% /.test(run.output()), 20_000, 'the 50% bar');
  fs.writeFileSync(release, '');
  expect(await run.exited).toBe(0);
  expect(run.output()).toMatch(/SUCCESS halfway [0-9a-f-]{36}: result \{"released":true\}\s+by /); // wrapped to the terminal's 80 columns
});

test('submit <type> --json prints the job; watch <id> follows it to its result, --json the final record', async () => {
  const submitted = cli(['submit', 'wordcount', '--params', '{"text":"one two three"}', '--json']);
  expect(submitted.code).toBe(0);
  expect(submitted.stdout.trim().split('\n')).toHaveLength(1);
  const job = JSON.parse(submitted.stdout) as { job_id: string; status: string };
  expect(job.job_id).toMatch(/^[0-9a-f-]{36}$/);
  const watched = cli(['watch', job.job_id]);
  expect(watched.code).toBe(0);
  // not on a terminal: wrapped to 80 columns, the rest of a line indented by two
  for (const line of watched.stdout.split('\n')) expect(line.length).toBeLessThanOrEqual(80);
  expect(watched.stdout.trim().replace(/\n {2}/g, ' ')).toMatch(new RegExp(`^SUCCESS wordcount ${job.job_id}: result \\{"words":3\\} by .* in \\d+ ms$`));
  const asJson = cli(['watch', job.job_id, '--json']);
  expect(asJson.code).toBe(0);
  expect(JSON.parse(asJson.stdout)).toMatchObject({ job_id: job.job_id, type: 'wordcount', state: 'SUCCESS', attempts: 1, result: { words: 3 } });
  const watchedAtSubmit = cli(['submit', 'wordcount', '--params', '{"text":"a b"}', '--watch', '--json']);
  expect(watchedAtSubmit.code).toBe(0);
  expect(JSON.parse(watchedAtSubmit.stdout)).toMatchObject({ type: 'wordcount', state: 'SUCCESS', attempts: 1, result: { words: 2 }, params: { text: 'a b' } });
});

describe('bad input is one line on stderr, exit 2', () => {
  const cases: [string, string[], string][] = [
    ['params the schema refuses (the field named)', ['submit', 'wordcount', '--params', '{"text":5}'], 'error: params.text: must be string'],
    ['a missing field', ['submit', 'wordcount', '--params', '{}'], "error: params.text: must have required property 'text'"],
    ['an unknown type (the known ones listed)', ['submit', 'nope', '--params', '{}'], "error: type must be one of task, primes, sim, wordcount, longway, halfway, got 'nope'"],
  ];
  test.each(cases)('%s', (_what, args, line) => {
    const r = cli(args);
    expect([r.code, r.stderr.trim().split('\n'), r.stdout]).toEqual([2, [line], '']);
  });

  test.each(['{text: 1', '[1]'])('--params %s (not a JSON object) names --params', (value) => {
    const r = cli(['submit', 'wordcount', '--params', value]);
    expect([r.code, r.stderr.trim().split('\n'), r.stdout]).toEqual([2, [`error: option '--params <json>' argument '${value}' is invalid. --params must be a JSON object, got '${value}'`], '']);
  });
});

test('on an 80-column terminal the live line fits: the id shortened when the whole would not', async () => {
  const release = path.join(tmp, 'release-longway');
  const run = onTerminal(['submit', 'longway', '--params', JSON.stringify({ release }), '--watch', '--api', api]);
  // what each redraw of the line, and each line, shows: split where the cursor moves or the line ends
  const segments = () => run.output().split(/\u001b\[[0-9;?]*[A-Za-z]|\r|\n/);
  await waitUntil(async () => segments().some((l) => / [0-9a-f]{8}: STARTED \[#-{19}\] 10\/200 \d+\.\ds$/.test(l)), 20_000, 'the live line with the short id');
  fs.writeFileSync(release, '');
  expect(await run.exited).toBe(0);
  for (const l of segments()) expect({ l, fits: l.length <= 80 }).toEqual({ l, fits: true });
  expect(segments().join('\n')).toMatch(/SUCCESS longway [0-9a-f-]{36}: result \{"released":true\}\s+by /);
});

