/**
 * Flows end to end (issue 28, item 6): the built wizard's api and worker on a real Redis with a
 * --handlers module. A diamond whose last node sums its deps' results; a fan-out of 200 into one
 * fan-in given all 200 results; a failing node under each policy; a flow cancelled midway. Each
 * node ran once (attempts 1) and the results are exact.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { testPrefix, testRedisUrl } from '../helpers/env';
import { http, killAll, runWizardAsync, spawnWizard, waitUntil } from '../helpers/procs';
import { freePort } from '../helpers/redis-server';

afterAll(killAll);

interface FlowView {
  flow_id: string;
  state: string;
  progress: { completed: number; total: number };
  nodes: Record<string, { job_id: string; state: string; result?: unknown; error?: string }>;
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wizard-flows-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const MODULE = path.join(tmp, 'flow-types.mjs');
fs.writeFileSync(
  MODULE,
  `
export default {
  num: { params: { type: 'object', required: ['n'], properties: { n: { type: 'integer' } } }, attempts: 1,
    run(p) { return p.n; } },
  sum: { params: { type: 'object' }, attempts: 1,
    run(p, ctx) { const d = Object.values(ctx.deps); return { sum: d.reduce((s, o) => s + (o.result ?? 0), 0), deps: d.length,
      states: [...new Set(d.map((o) => o.state))].sort() }; } },
  boom: { params: { type: 'object' }, attempts: 1, run() { throw new Error('boom'); } },
  sleep: { params: { type: 'object' }, attempts: 1,
    run(p, ctx) { return new Promise((r) => ctx.signal.addEventListener('abort', r, { once: true })); } },
};
`,
);

describe('flows on Redis with an api and a worker', () => {
  let api: string;
  const env = { REDIS_URL: testRedisUrl(), WIZARD_PREFIX: testPrefix('flows'), WIZARD_HANDLERS: MODULE };
  const submit = async (body: unknown, headers?: Record<string, string>) => {
    const r = await http<{ flow_id: string; jobs: Record<string, string> }>('POST', `${api}/flows`, body, headers);
    expect(r.status).toBe(202);
    return r.body;
  };
  const flow = async (id: string) => (await http<FlowView>('GET', `${api}/flows/${id}`)).body;
  const final = (id: string) =>
    waitUntil(
      async () => {
        const f = await flow(id);
        return f.state !== 'RUNNING' ? f : null;
      },
      60_000,
      `flow ${id} to end`,
    );
  const attempts = async (jobId: string) =>
    (await http<{ attempts: number }>('GET', `${api}/jobs/${jobId}`)).body.attempts;

  beforeAll(async () => {
    const port = await freePort();
    api = `http://127.0.0.1:${port}`;
    const a = spawnWizard(['api', '--port', String(port)], env, 'api-flows');
    const w = spawnWizard(['worker', '--concurrency', '16'], env, 'worker-flows');
    await Promise.all([a.waitForOutput(/api listening/), w.waitForOutput(/worker started/)]);
  }, 60_000);

  test('a diamond: the last node sums its two deps; each node ran once', async () => {
    const { flow_id, jobs } = await submit({
      name: 'diamond',
      nodes: [
        { id: 'top', type: 'num', params: { n: 1 } },
        { id: 'left', type: 'num', params: { n: 20 }, deps: ['top'] },
        { id: 'right', type: 'num', params: { n: 300 }, deps: ['top'] },
        { id: 'bottom', type: 'sum', deps: ['left', 'right'] },
      ],
    });
    const f = await final(flow_id);
    expect(f.state).toBe('SUCCESS');
    expect(f.progress).toEqual({ completed: 4, total: 4 });
    expect(f.nodes.bottom).toMatchObject({ state: 'SUCCESS', result: { sum: 320, deps: 2, states: ['SUCCESS'] } });
    for (const id of Object.values(jobs)) expect(await attempts(id)).toBe(1);
  });

  test('a fan-out of 200 into one fan-in that receives all 200 results', async () => {
    const nodes = [
      ...Array.from({ length: 200 }, (_, i) => ({ id: `n${i}`, type: 'num', params: { n: i + 1 } })),
      { id: 'all', type: 'sum', deps: Array.from({ length: 200 }, (_, i) => `n${i}`) },
    ];
    const { flow_id, jobs } = await submit({ nodes });
    const f = await final(flow_id);
    expect(f.state).toBe('SUCCESS');
    expect(f.nodes.all.result).toEqual({ sum: (200 * 201) / 2, deps: 200, states: ['SUCCESS'] });
    const tries = await Promise.all(Object.values(jobs).map(attempts));
    expect(new Set(tries)).toEqual(new Set([1]));
  }, 120_000);

  test('a failing node under each policy: fail fails its dependents, skip skips, continue runs', async () => {
    const { flow_id } = await submit({
      nodes: [
        { id: 'bad', type: 'boom' },
        { id: 'ok', type: 'num', params: { n: 7 } },
        { id: 'f', type: 'sum', deps: ['bad', 'ok'] },
        { id: 'ff', type: 'sum', deps: ['f'] },
        { id: 's', type: 'sum', deps: ['bad'], on_dep_failure: 'skip' },
        { id: 'c', type: 'sum', deps: ['bad', 'ok'], on_dep_failure: 'continue' },
      ],
    });
    const f = await final(flow_id);
    expect(f.state).toBe('FAILURE');
    expect(f.nodes.bad.state).toBe('DEAD');
    expect(f.nodes.f).toMatchObject({ state: 'FAILURE', error: 'dep bad ended DEAD' });
    expect(f.nodes.ff).toMatchObject({ state: 'FAILURE', error: 'dep f ended FAILURE' });
    expect(f.nodes.s).toMatchObject({ state: 'SKIPPED', error: 'dep bad ended DEAD' });
    expect(f.nodes.c).toMatchObject({ state: 'SUCCESS', result: { sum: 7, deps: 2, states: ['DEAD', 'SUCCESS'] } });
  });

  test('a flow cancelled midway: the running node and the waiting ones are cancelled, the done one kept', async () => {
    const { flow_id, jobs } = await submit({
      nodes: [
        { id: 'first', type: 'num', params: { n: 1 } },
        { id: 'hold', type: 'sleep', deps: ['first'] },
        { id: 'after', type: 'sum', deps: ['hold'] },
      ],
    });
    await waitUntil(async () => (await flow(flow_id)).nodes.hold.state === 'STARTED', 30_000, 'hold to start');
    const r = await http<FlowView>('POST', `${api}/flows/${flow_id}/cancel`);
    expect(r.status).toBe(200);
    expect(r.body.state).toBe('CANCELLED');
    expect(r.body.nodes).toMatchObject({
      first: { state: 'SUCCESS', result: 1 },
      hold: { state: 'CANCELLED' },
      after: { state: 'CANCELLED' },
    });
    expect(await attempts(jobs.first)).toBe(1);
    expect((await http('POST', `${api}/flows/${flow_id}/cancel`)).status).toBe(409);
  });

  test('bad graphs are a 400 naming the node; an Idempotency-Key answers the same flow', async () => {
    type Err = { error: { message: string; details: { field: string }[] } };
    const bad = async (nodes: unknown) => (await http<Err>('POST', `${api}/flows`, { nodes })).body.error;
    expect(
      await bad([
        { id: 'a', type: 'num', params: { n: 1 } },
        { id: 'a', type: 'num', params: { n: 1 } },
      ]),
    ).toMatchObject({ message: "node 'a' appears twice", details: [{ field: 'nodes[1].id' }] });
    expect((await bad([{ id: 'a', type: 'num', params: { n: 1 }, deps: ['x'] }])).message).toBe(
      "node 'a' depends on unknown node 'x'",
    );
    expect(
      (
        await bad([
          { id: 'a', type: 'sum', deps: ['b'] },
          { id: 'b', type: 'sum', deps: ['a'] },
        ])
      ).message,
    ).toBe("node 'a' is on a cycle of deps");
    expect((await bad([{ id: 'a', type: 'num', params: {} }])).details[0].field).toBe('nodes[0].params.n');
    const body = { nodes: [{ id: 'a', type: 'num', params: { n: 2 } }] };
    const first = await submit(body, { 'Idempotency-Key': 'flow-key-1' });
    const again = await http<{ flow_id: string; existing: boolean }>('POST', `${api}/flows`, body, {
      'Idempotency-Key': 'flow-key-1',
    });
    expect([again.status, again.body.flow_id, again.body.existing]).toEqual([200, first.flow_id, true]);
  });

  test('wizard flow submit --watch and wizard flow show: the flow as a table, exit 0 on SUCCESS, 1 otherwise', async () => {
    const file = path.join(tmp, 'flow.json');
    fs.writeFileSync(
      file,
      JSON.stringify({
        nodes: [
          { id: 'x', type: 'num', params: { n: 4 } },
          { id: 'y', type: 'sum', deps: ['x'] },
        ],
      }),
    );
    const ok = await runWizardAsync(['flow', 'submit', file, '--watch', '--api', api]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/is SUCCESS: 2\/2 nodes final/);
    expect(ok.stdout).toMatch(/y .*SUCCESS .*\{"sum":4,"deps":1,"states":\["SUCCESS"\]\}/);
    const id = /flow (\S+) is/.exec(ok.stdout)![1];
    const shown = await runWizardAsync(['flow', 'show', id, '--api', api, '--json']);
    expect(JSON.parse(shown.stdout)).toMatchObject({ flow_id: id, state: 'SUCCESS' });
    fs.writeFileSync(file, JSON.stringify({ nodes: [{ id: 'b', type: 'boom' }] }));
    const failed = await runWizardAsync(['flow', 'submit', file, '--watch', '--api', api]);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/is FAILURE/);
    // --key: the same key answers the first flow, no second one made
    const keyed = ['flow', 'submit', file, '--key', 'cli-flow-key', '--api', api, '--json'];
    const k1 = JSON.parse((await runWizardAsync(keyed)).stdout);
    const k2 = JSON.parse((await runWizardAsync(keyed)).stdout);
    expect([k2.flow_id, k2.existing]).toEqual([k1.flow_id, true]);
    const badKey = await runWizardAsync(['flow', 'submit', file, '--key', 'no spaces', '--api', api]);
    expect(badKey.code).toBe(2);
    expect(badKey.stderr).toMatch(/--key/);
    fs.writeFileSync(file, '{nope');
    const bad = await runWizardAsync(['flow', 'submit', file, '--api', api]);
    expect([bad.code, bad.stderr.trim().split('\n').length]).toEqual([2, 1]);
  });

  test("a bot's --exec command gets its deps' outcomes under deps in its stdin JSON", async () => {
    const bot = spawnWizard(
      ['bot', '--name', 'flow-exec', '--exec', 'cat'],
      { ...env, WIZARD_API_URL: api, WIZARD_BOT_POLL_MS: '100', HEARTBEAT_INTERVAL_MS: '200' },
      'bot-flows',
    );
    try {
      const { flow_id } = await submit({
        nodes: [
          { id: 'x', type: 'num', params: { n: 9 } },
          { id: 'echo', type: 'sim', params: { duration_ms: 0, failure_rate: 0 }, deps: ['x'] },
        ],
      });
      const f = await final(flow_id);
      expect(f.nodes.echo).toMatchObject({
        state: 'SUCCESS',
        result: { duration_ms: 0, failure_rate: 0, deps: { x: { state: 'SUCCESS', result: 9 } } },
      });
    } finally {
      await bot.kill('SIGTERM');
    }
  });

  test("GET /flows/:id/events streams the flow's changes and closes once it has ended", async () => {
    const { flow_id } = await submit({
      nodes: [
        { id: 'a', type: 'num', params: { n: 2 } },
        { id: 'b', type: 'sum', deps: ['a'] },
      ],
    });
    const text = await (await fetch(`${api}/flows/${flow_id}/events`)).text(); // ends when the flow has
    const events = text
      .split('\n\n')
      .filter((b) => b.startsWith('event: '))
      .map((b) => ({ event: /^event: (\w+)/.exec(b)![1], data: JSON.parse(/\ndata: (.*)/.exec(b)![1]) as FlowView }));
    expect(events.length).toBeGreaterThan(0);
    expect(new Set(events.map((e) => e.event))).toEqual(new Set(['flow']));
    expect(events[events.length - 1].data).toMatchObject({
      flow_id,
      state: 'SUCCESS',
      nodes: { b: { result: { sum: 2 } } },
    });
  });
});
