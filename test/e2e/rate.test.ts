/**
 * Rate limits across real processes (docs/flow-control.md "Rate limits"): the built wizard's api
 * and workers on a real Redis, with a --handlers module whose handler writes each run's start to a
 * file. A rate of 10 per second over 3 workers keeps every second of starts at 10 or fewer; a
 * handler that throws rate_limited holds its group (not another) and costs its job no attempt.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { testPrefix, testRedisUrl } from '../helpers/env';
import { fieldsOf, http, killAll, runWizardAsync, spawnWizard, waitUntil } from '../helpers/procs';
import { freePort } from '../helpers/redis-server';
import { busiestWindow } from '../helpers/windows';

afterAll(killAll);

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wizard-rate-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const LOG = path.join(tmp, 'runs.log');
const MODULE = path.join(tmp, 'types.cjs');
/** how long the rate_limited handler asks its group to wait (ms) */
const HOLD_MS = 3000;
fs.writeFileSync(
  MODULE,
  `
const fs = require('node:fs');
const path = require('node:path');
module.exports = {
  stamp: {
    params: { type: 'object', required: ['tag'], properties: { tag: { type: 'string' }, limited: { type: 'boolean' } } },
    attempts: 1,
    async run(p, ctx) {
      const start = Date.now();
      const seen = path.join(${JSON.stringify(tmp)}, 'limited-' + p.tag);
      if (p.limited && !fs.existsSync(seen)) {
        fs.writeFileSync(seen, String(start));
        throw { code: 'rate_limited', retry_after_ms: ${HOLD_MS}, message: 'the API said 429' }; // a plain object: no import
      }
      fs.appendFileSync(${JSON.stringify(LOG)}, p.tag + ' ' + start + ' ' + ctx.jobId + '\\n');
      await new Promise((r) => setTimeout(r, 20));
      return 'ok';
    },
  },
};
`,
);

const ADMIN = 'rate-admin-token-0123456789';
interface Run {
  tag: string;
  start: number;
  id: string;
}
const runs = (): Run[] => fieldsOf(LOG).map(([tag, start, id]) => ({ tag, start: Number(start), id }));

/** what the test allows between a claim and its handler's start (ms) */
const DISPATCH_MS = 200;

describe('rate limits over real processes', () => {
  let api: string;
  const env = {
    REDIS_URL: testRedisUrl(),
    WIZARD_PREFIX: testPrefix('rate-e2e'),
    WIZARD_HANDLERS: MODULE,
    ADMIN_TOKEN: ADMIN,
  };
  const auth = { authorization: `Bearer ${ADMIN}` };
  const submit = async (queue: string, tag: string, group?: string, limited = false) => {
    const r = await http<{ job_id: string }>(
      'POST',
      `${api}/jobs`,
      { type: 'stamp', params: { tag, ...(limited ? { limited } : {}) }, queue, ...(group ? { group } : {}) },
      auth,
    );
    expect(r.status).toBe(202);
    return r.body.job_id;
  };
  const job = async (id: string) =>
    (await http<{ state: string; attempts: number; started_at: string }>('GET', `${api}/jobs/${id}`)).body;
  const cli = (queue: string, ...args: string[]) =>
    runWizardAsync(['queue', 'limits', queue, '--api', api, ...args], { WIZARD_TOKEN: ADMIN });

  beforeAll(async () => {
    const port = await freePort();
    api = `http://127.0.0.1:${port}`;
    const a = spawnWizard(['api', '--port', String(port)], env, 'api-rate');
    await a.waitForOutput(/api listening/);
  }, 60_000);

  test('a rate of 10 per second over 3 workers: every second of starts holds 10 or fewer', async () => {
    await http('POST', `${api}/queues`, { name: 'rated' }, auth);
    expect((await cli('rated', '--rate', '10')).code).toBe(2);
    const set = await cli('rated', '--rate', '10/1000', '--json');
    expect([set.code, JSON.parse(set.stdout)]).toEqual([
      0,
      expect.objectContaining({ rate: { max: 10, per_ms: 1000 } }),
    ]);
    const ids = await Promise.all(Array.from({ length: 40 }, (_, i) => submit('rated', `r${i}`)));
    const workers = [1, 2, 3].map((i) =>
      spawnWizard(['worker', '--queue', 'rated', '--threads', '1', '--concurrency', '8'], env, `worker-rate-${i}`),
    );
    await Promise.all(workers.map((w) => w.waitForOutput(/worker started/)));
    await waitUntil(
      async () => (await Promise.all(ids.map(job))).every((j) => j.state === 'SUCCESS') || null,
      60_000,
      'the 40',
    );
    const mine = runs().filter((r) => r.tag.startsWith('r'));
    expect(mine.length).toBe(40);
    // the store's start times (the claims', which the limit counts): no second holds more than 10
    const started = (await Promise.all(ids.map(job))).map((j) => Date.parse(j.started_at));
    expect(busiestWindow(started, 1000)).toBeLessThanOrEqual(10);
    // the handlers' own start times lag their claims by a few ms each, not all alike (the worker's
    // dispatch, a loaded machine): no window of a second less DISPATCH_MS holds more than 10
    expect(
      busiestWindow(
        mine.map((r) => r.start),
        1000 - DISPATCH_MS,
      ),
    ).toBeLessThanOrEqual(10);
    // and 40 at 10 a second span at least 3 seconds
    expect(Math.max(...started) - Math.min(...started)).toBeGreaterThanOrEqual(3000);
    const shown = await cli('rated');
    expect(shown.stdout).toContain('rate 10/1000ms');
    const metrics = await http<string>('GET', `${api}/metrics`, undefined, auth);
    expect(String(metrics.body)).toMatch(/wizard_jobs_held_back_total\{queue="rated",limit="rate"\} [1-9]/);
    await Promise.all(workers.map((w) => w.kill('SIGKILL')));
  }, 120_000);

  test('a handler throwing rate_limited holds its group, not another, and its job ends with attempts 1', async () => {
    await http('POST', `${api}/queues`, { name: 'calls' }, auth);
    const w = spawnWizard(['worker', '--queue', 'calls', '--threads', '1', '--concurrency', '4'], env, 'worker-calls');
    await w.waitForOutput(/worker started/);
    const limited = await submit('calls', 'limited', 'acme', true);
    await waitUntil(async () => fs.existsSync(path.join(tmp, 'limited-limited')) || null, 30_000, 'the 429');
    const thrownAt = Number(fs.readFileSync(path.join(tmp, 'limited-limited'), 'utf8'));
    const same = await submit('calls', 'same', 'acme');
    const other = await submit('calls', 'other', 'globex');
    await waitUntil(
      async () => (await Promise.all([limited, same, other].map(job))).every((j) => j.state === 'SUCCESS') || null,
      60_000,
      'the three',
    );
    const at = (tag: string) => runs().find((r) => r.tag === tag)!.start;
    expect(at('limited')).toBeGreaterThanOrEqual(thrownAt + HOLD_MS);
    expect(at('same')).toBeGreaterThanOrEqual(thrownAt + HOLD_MS);
    expect(at('other')).toBeLessThan(thrownAt + HOLD_MS); // another group is not held
    expect((await job(limited)).attempts).toBe(1); // the rate-limited attempt is not counted (the type allows 1)
    await w.kill('SIGKILL');
  }, 90_000);
});
