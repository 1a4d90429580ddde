/**
 * Debounce and throttle across real processes (docs/flow-control.md "Debounce and throttle"): two
 * API nodes and a worker on a real Redis, a handlers module's type. 20 debounced submissions in
 * quick succession, spread over both APIs, make one job, which runs once, with the last params,
 * in one attempt; `wizard submit`'s --dedupe-* flags, and their bad values as exit 2 naming the flag.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { testPrefix, testRedisUrl } from '../helpers/env';
import { http, killAll, runWizard, spawnWizard, waitUntil } from '../helpers/procs';
import { freePort } from '../helpers/redis-server';

afterAll(killAll);

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wizard-dedupe-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** each run of `tally` appends its n to its file: the file says how often, and with what, it ran */
const MODULE = path.join(tmp, 'types.cjs');
fs.writeFileSync(
  MODULE,
  `
const fs = require('node:fs');
module.exports = {
  tally: {
    params: { type: 'object', required: ['n', 'file'], properties: { n: { type: 'integer' }, file: { type: 'string' } } },
    run(p, ctx) { fs.appendFileSync(p.file, p.n + '\\n'); return { n: p.n, attempt: ctx.attempt }; },
  },
};
`,
);

interface JobView {
  job_id: string;
  state: string;
  params: Record<string, unknown>;
  result: unknown;
  attempts: number;
  dedupe?: { key: string; mode: string };
}
interface Submitted {
  job_id: string;
  deduplicated: boolean;
}

describe('two APIs and a worker on Redis', () => {
  const apis: string[] = [];
  const env = { REDIS_URL: testRedisUrl(), WIZARD_PREFIX: testPrefix('dedupe-e2e'), WIZARD_HANDLERS: MODULE };
  const job = async (id: string) => (await http<JobView>('GET', `${apis[0]}/jobs/${id}`)).body;

  beforeAll(async () => {
    const ports = [await freePort(), await freePort()];
    const started = ports.map((port, i) => {
      apis.push(`http://127.0.0.1:${port}`);
      return spawnWizard(['api', '--port', String(port)], env, `api-dedupe-${i}`).waitForOutput(/api listening/);
    });
    const w = spawnWizard(['worker', '--threads', '1', '--concurrency', '4'], env, 'worker-dedupe');
    await Promise.all([...started, w.waitForOutput(/worker started/)]);
  }, 60_000);

  test('20 debounced submissions in quick succession run once, with the last params, in one attempt', async () => {
    const file = path.join(tmp, 'debounced.txt');
    const dedupe = { key: 'tally-1', ttl_ms: 3000, mode: 'debounce' };
    const answers: { status: number; body: Submitted }[] = [];
    for (let n = 1; n <= 20; n++)
      answers.push(
        await http<Submitted>('POST', `${apis[n % 2]}/jobs`, { type: 'tally', params: { n, file }, dedupe }),
      );
    const id = answers[0].body.job_id;
    expect(answers.map((a) => [a.status, a.body.job_id, a.body.deduplicated])).toEqual(
      answers.map((_, i) => [i === 0 ? 202 : 200, id, i > 0]),
    );
    const done = await waitUntil(
      async () => {
        const j = await job(id);
        return j.state === 'SUCCESS' || j.state === 'FAILURE' || j.state === 'DEAD' ? j : null;
      },
      60_000,
      `job ${id} to finish`,
    );
    expect(done).toMatchObject({
      state: 'SUCCESS',
      attempts: 1,
      params: { n: 20 },
      result: { n: 20, attempt: 1 },
      dedupe: { key: 'tally-1', mode: 'debounce' },
    });
    expect(fs.readFileSync(file, 'utf8')).toBe('20\n');
    const listed = await http<{ total: number; jobs: JobView[] }>('GET', `${apis[1]}/jobs?type=tally`);
    expect(listed.body.jobs.map((j) => j.job_id)).toEqual([id]);

    // it ran: the key makes a new job
    const next = await http<Submitted>('POST', `${apis[0]}/jobs`, { type: 'tally', params: { n: 21, file }, dedupe });
    expect([next.status, next.body.deduplicated, next.body.job_id === id]).toEqual([202, false, false]);
  }, 120_000);

  test('wizard submit --dedupe-*: the second submit is answered with the first job', async () => {
    const file = path.join(tmp, 'throttled.txt');
    const args = [
      'submit',
      'tally',
      '--params',
      JSON.stringify({ n: 1, file }),
      '--api',
      apis[0],
      '--dedupe-key',
      'cli-1',
      '--dedupe-ttl',
      '1m',
      '--dedupe-mode',
      'throttle',
    ];
    const first = runWizard([...args, '--json']);
    expect(first.code).toBe(0);
    const made = JSON.parse(first.stdout) as Submitted;
    expect(made.deduplicated).toBe(false);
    const second = runWizard(args);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain(`deduplicated: tally ${made.job_id}`);
    expect((await job(made.job_id)).dedupe).toEqual({ key: 'cli-1', mode: 'throttle' });
  });

  test('a bad or missing --dedupe-* value exits 2 naming the flag', () => {
    const base = ['submit', 'tally', '--params', '{"n":1,"file":"x"}', '--api', apis[0]];
    const window = ['--dedupe-key', 'k', '--dedupe-ttl', '10s', '--dedupe-mode', 'debounce'];
    const cases: [string[], string][] = [
      [['--dedupe-key', 'a:b', '--dedupe-ttl', '10s', '--dedupe-mode', 'throttle'], '--dedupe-key'],
      [['--dedupe-key', 'k', '--dedupe-ttl', '0', '--dedupe-mode', 'throttle'], '--dedupe-ttl'],
      [['--dedupe-key', 'k', '--dedupe-ttl', '10s', '--dedupe-mode', 'sometimes'], '--dedupe-mode'],
      [['--dedupe-key', 'k', '--dedupe-ttl', '10s'], '--dedupe-mode'],
      [['--dedupe-ttl', '10s', '--dedupe-mode', 'throttle'], '--dedupe-key'],
      [[...window, '--dedupe-max-wait', '5s'], '--dedupe-max-wait'],
      [[...window.slice(0, 5), 'throttle', '--dedupe-max-wait', '1m'], '--dedupe-max-wait'],
      [[...window, '--delay', '5s'], '--delay'],
      [[...window, '--key', 'idem'], '--key'],
    ];
    for (const [flags, named] of cases) {
      const r = runWizard([...base, ...flags]);
      expect([flags.join(' '), r.code]).toEqual([flags.join(' '), 2]);
      expect(r.stderr).toContain(named);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });
});
