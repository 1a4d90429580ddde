/**
 * `wizard submit --file jobs.ndjson` against a running `wizard up`: the file's jobs made in one
 * POST /jobs/bulk and run; with --key a second submit makes nothing and answers the same ids;
 * a bad file (unreadable, a line that is not a JSON object, a job the API refuses) is exit 2 with
 * one line naming --file and the line.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '../helpers/redis-server';
import { http, killAll, runWizard, spawnWizard, waitUntil, WizardProc } from '../helpers/procs';

afterAll(killAll);

let up: WizardProc;
let api = '';
const dir = mkdtempSync(path.join(tmpdir(), 'wizard-submit-file-'));
const file = (name: string, text: string) => {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
};
const cli = (args: string[]) => runWizard([...args, '--api', api]);

beforeAll(async () => {
  const port = await freePort();
  up = spawnWizard(['up', '--port', String(port), '--bots', '0'], { REDIS_URL: '' }, 'up');
  await up.waitForOutput(/API and dashboard at/);
  api = `http://127.0.0.1:${port}`;
});
afterAll(() => up.kill('SIGTERM'));

test('the jobs of the file are made in order and run; with --key, again makes nothing and answers the same ids', async () => {
  const jobs = file(
    'jobs.ndjson',
    [
      JSON.stringify({ type: 'task', params: { a: 40, b: 2 } }),
      '',
      JSON.stringify({ type: 'task', params: { a: 6, b: 7, op: 'mul' }, priority: 1 }),
      JSON.stringify({ type: 'sim', params: { duration_ms: 10, failure_rate: 0 } }),
    ].join('\n') + '\n',
  );
  const human = cli(['submit', '--file', jobs]);
  expect([human.code, human.stderr]).toEqual([0, '']);
  const lines = human.stdout.trim().split('\n');
  expect(lines[0]).toBe(`submitted 3 jobs from ${jobs}`);
  const ids = lines.slice(1).map((l) => l.split(' ')[0]);
  expect(ids).toHaveLength(3);
  const results = await waitUntil(
    async () => {
      const got = await Promise.all(
        ids.slice(0, 2).map((id) => http<{ state: string; result: unknown }>('GET', `${api}/jobs/${id}`)),
      );
      return got.every((g) => g.body.state === 'SUCCESS') && got.map((g) => g.body.result);
    },
    20_000,
    'the jobs done',
  );
  expect(results).toEqual([42, 42]);
  expect((await http<{ type: string }>('GET', `${api}/jobs/${ids[2]}`)).body.type).toBe('sim');

  const first = cli(['submit', '--file', jobs, '--key', 'nightly-7', '--json']);
  const again = cli(['submit', '--file', jobs, '--key', 'nightly-7', '--json']);
  const [a, b] = [first, again].map((r) => JSON.parse(r.stdout) as { jobs: { job_id: string; existing: boolean }[] });
  expect(a.jobs.map((j) => j.existing)).toEqual([false, false, false]);
  expect(b.jobs).toEqual(a.jobs.map((j) => ({ ...j, state: expect.any(String), existing: true })));
}, 60_000);

test.each([
  ['missing.ndjson', null, '--file'],
  ['not-json.ndjson', '{"type":"task","params":{"a":1,"b":2}}\n{oops\n', 'line 2: not JSON'],
  ['array.ndjson', '\n[1,2]\n', 'line 2: must be a JSON object'],
  ['empty.ndjson', '\n\n', 'holds no job'],
  [
    'refused.ndjson',
    '{"type":"task","params":{"a":1,"b":2}}\n\n{"type":"task","params":{"a":"x","b":2}}\n',
    'line 3: params.a',
  ],
])('%s → exit 2 with one line naming --file and %s', async (name, text, said) => {
  const p = text === null ? path.join(dir, name) : file(name, text);
  const before = (await http<{ total: number }>('GET', `${api}/jobs?limit=1`)).body.total;
  const r = cli(['submit', '--file', p]);
  expect([r.code, r.stdout]).toEqual([2, '']);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toContain(`--file ${p}`);
  expect(r.stderr).toContain(said);
  expect((await http<{ total: number }>('GET', `${api}/jobs?limit=1`)).body.total).toBe(before);
});

test('submit with neither a type nor --file, or both, is exit 2 naming them', () => {
  for (const args of [['submit'], ['submit', 'sim', '--file', 'x.ndjson']]) {
    const r = cli(args);
    expect([r.code, r.stdout]).toEqual([2, '']);
    expect(r.stderr).toMatch(/--file/);
  }
});
