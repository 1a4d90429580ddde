/**
 * Groups and limits across real processes (docs/flow-control.md): the built wizard's api and
 * workers on a real Redis, with a --handlers module whose handler writes each job's group, start
 * and end to a file. One group's flood does not hold back another group's few jobs; a group
 * limited to 1 never runs two at once over 2 workers of concurrency 16; a SIGKILLed worker's
 * slot comes back when its lease lapses.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { testPrefix, testRedisUrl } from '../helpers/env';
import { fieldsOf, http, killAll, runWizardAsync, spawnWizard, waitUntil } from '../helpers/procs';
import { freePort } from '../helpers/redis-server';

afterAll(killAll);

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wizard-groups-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const LOG = path.join(tmp, 'runs.log');
const MODULE = path.join(tmp, 'types.cjs');
fs.writeFileSync(
  MODULE,
  `
const fs = require('node:fs');
module.exports = {
  stamp: {
    params: { type: 'object', required: ['group', 'ms'], properties: { group: { type: 'string' }, ms: { type: 'integer' }, hang: { type: 'boolean' } } },
    attempts: 3,
    async run(p, ctx) {
      const start = Date.now();
      if (p.hang && ctx.attempt === 1) await new Promise(() => {}); // the first attempt never ends: its worker is killed
      await new Promise((r) => setTimeout(r, p.ms));
      fs.appendFileSync(${JSON.stringify(LOG)}, p.group + ' ' + start + ' ' + Date.now() + ' ' + ctx.jobId + '\\n');
      return 'ok';
    },
  },
};
`,
);

const ADMIN = 'groups-admin-token-0123456789';
interface Run {
  group: string;
  start: number;
  end: number;
  id: string;
}
const runs = (): Run[] =>
  fieldsOf(LOG).map(([group, start, end, id]) => ({ group, start: Number(start), end: Number(end), id }));

describe('groups and limits over real processes', () => {
  let api: string;
  const env = {
    REDIS_URL: testRedisUrl(),
    WIZARD_PREFIX: testPrefix('groups-e2e'),
    WIZARD_HANDLERS: MODULE,
    ADMIN_TOKEN: ADMIN,
  };
  const auth = { authorization: `Bearer ${ADMIN}` };
  const submit = async (group: string, ms: number, extra: Record<string, unknown> = {}) => {
    const r = await http<{ job_id: string }>(
      'POST',
      `${api}/jobs`,
      { type: 'stamp', params: { group, ms, ...extra }, group, ...(extra.queue ? { queue: extra.queue } : {}) },
      auth,
    );
    expect(r.status).toBe(202);
    return r.body.job_id;
  };
  const state = async (id: string) => (await http<{ state: string }>('GET', `${api}/jobs/${id}`)).body.state;
  const groupInfo = async (group: string, queue = 'default') =>
    (await http<{ waiting: number; running: number }>('GET', `${api}/queues/${queue}/groups/${group}/limits`)).body;

  beforeAll(async () => {
    const port = await freePort();
    api = `http://127.0.0.1:${port}`;
    const a = spawnWizard(['api', '--port', String(port)], env, 'api-groups');
    await a.waitForOutput(/api listening/);
  }, 60_000);

  test('a flood of 1,000 in one group: another group then submits 10, and all 10 finish before a tenth of the waiting flood', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 1000; i += 50)
      ids.push(...(await Promise.all(Array.from({ length: 50 }, () => submit('flood', 10)))));
    const w = spawnWizard(['worker', '--threads', '1', '--concurrency', '4'], env, 'worker-fair');
    await w.waitForOutput(/worker started/);
    await waitUntil(async () => runs().length >= 20 || null, 30_000, 'the flood to be running');
    const small: string[] = [];
    for (let i = 0; i < 10; i++) small.push(await submit('small', 5));
    const at = Date.now();
    const waiting = (await groupInfo('flood')).waiting;
    expect(waiting).toBeGreaterThan(100); // the flood is still there
    await waitUntil(async () => (await Promise.all(small.map(state))).every((s) => s === 'SUCCESS'), 60_000, 'the 10');
    const lastSmall = Math.max(
      ...runs()
        .filter((r) => r.group === 'small')
        .map((r) => r.end),
    );
    const floodMeanwhile = runs().filter((r) => r.group === 'flood' && r.end > at && r.end <= lastSmall).length;
    expect(floodMeanwhile).toBeLessThanOrEqual(waiting / 10);
    await w.kill('SIGKILL'); // the rest of the flood stays in its queue: the next tests use queues of their own
  }, 120_000);

  test('a group limited to 1 never runs two at once over 2 workers of concurrency 16', async () => {
    await http('POST', `${api}/queues`, { name: 'solo' }, auth);
    const cli = (...args: string[]) =>
      runWizardAsync(['queue', 'limits', 'solo', '--api', api, ...args], { WIZARD_TOKEN: ADMIN });
    const set = await cli('--group', 'one', '--concurrency', '1', '--json');
    expect([set.code, JSON.parse(set.stdout)]).toEqual([
      0,
      { queue: 'solo', group: 'one', concurrency: 1, rate: null, waiting: 0, running: 0 },
    ]);
    expect((await cli('--concurrency', 'lots')).code).toBe(2);
    const queue = await cli('--group-concurrency', '4');
    expect([queue.code, queue.stdout]).toEqual([0, expect.stringContaining('group_concurrency 4')]);
    const none = await cli('--group-concurrency', 'none');
    expect([none.code, none.stderr]).toEqual([0, '']);
    const ids = await Promise.all(Array.from({ length: 20 }, () => submit('one', 30, { queue: 'solo' })));
    const workers = [1, 2].map((i) =>
      spawnWizard(['worker', '--queue', 'solo', '--threads', '1', '--concurrency', '16'], env, `worker-solo-${i}`),
    );
    await Promise.all(workers.map((w) => w.waitForOutput(/worker started/)));
    await waitUntil(async () => (await Promise.all(ids.map(state))).every((s) => s === 'SUCCESS'), 60_000, 'the 20');
    const mine = runs()
      .filter((r) => r.group === 'one')
      .sort((a, b) => a.start - b.start);
    expect(mine.length).toBe(20);
    for (let i = 1; i < mine.length; i++) expect(mine[i].start).toBeGreaterThanOrEqual(mine[i - 1].end);
    await Promise.all(workers.map((w) => w.kill('SIGKILL')));
  }, 90_000);

  test("a SIGKILLed worker's slot comes back when its lease lapses", async () => {
    await http('POST', `${api}/queues`, { name: 'kill' }, auth);
    await http('PUT', `${api}/queues/kill/groups/k/limits`, { concurrency: 1 }, auth);
    const victim = spawnWizard(['worker', '--queue', 'kill', '--lease-ms', '1500'], env, 'worker-victim');
    await victim.waitForOutput(/worker started/);
    const hung = await submit('k', 5, { queue: 'kill', hang: true });
    await waitUntil(async () => (await state(hung)) === 'STARTED', 10_000, 'the first to start');
    const next = await submit('k', 5, { queue: 'kill' });
    expect(await groupInfo('k', 'kill')).toEqual(expect.objectContaining({ running: 1, waiting: 1 }));
    await victim.kill('SIGKILL');
    const survivor = spawnWizard(['worker', '--queue', 'kill', '--lease-ms', '1500'], env, 'worker-survivor');
    await survivor.waitForOutput(/worker started/);
    await waitUntil(async () => (await state(next)) === 'SUCCESS', 30_000, 'the held job to run');
    expect(await state(hung)).toBe('SUCCESS'); // reaped, back at its group's head, run again
    expect(await groupInfo('k', 'kill')).toEqual(expect.objectContaining({ running: 0, waiting: 0 }));
    await survivor.kill('SIGKILL');
  }, 60_000);
});
