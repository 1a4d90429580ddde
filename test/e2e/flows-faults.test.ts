/**
 * Flows through faults, end to end (issue 28, items 4 and 6): the built wizard's api and workers on
 * a Redis of its own with 3 shards (a flow's nodes spread over them, joined by the outbox). A
 * worker SIGKILLed while it holds nodes: the flow finishes, every result exact, the nodes that did
 * not die ran once. Redis stopped and started again (appendonly) midway: the flow finishes exactly.
 * A DEAD node retried with POST /jobs/:id/retry resumes its flow.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { shardOfId } from '../../src/store/keys';
import { testPrefix } from '../helpers/env';
import { ownRedisServer } from '../helpers/own-redis';
import { http, spawnWizard, waitUntil } from '../helpers/procs';
import { freePort } from '../helpers/redis-server';

interface FlowView {
  flow_id: string;
  state: string;
  progress: { completed: number; total: number };
  nodes: Record<string, { job_id: string; state: string; result?: unknown; error?: string }>;
}

const ownRedis = ownRedisServer({ appendonly: true });
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wizard-flow-faults-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const MODULE = path.join(tmp, 'flow-types.mjs');
fs.writeFileSync(
  MODULE,
  `
export default {
  num: { params: { type: 'object', required: ['n'], properties: { n: { type: 'integer' } } }, attempts: 3,
    run(p) { return p.n; } },
  slow: { params: { type: 'object', required: ['n', 'ms'], properties: { n: { type: 'integer' }, ms: { type: 'integer' } } },
    attempts: 3, run(p) { return new Promise((r) => setTimeout(() => r(p.n), p.ms)); } },
  flaky: { params: { type: 'object', required: ['n', 'file'], properties: { n: { type: 'integer' }, file: { type: 'string' } } },
    attempts: 1, async run(p) { const fs = await import('node:fs'); if (!fs.existsSync(p.file)) throw new Error('not yet'); return p.n; } },
  sum: { params: { type: 'object' }, attempts: 3,
    run(p, ctx) { return Object.values(ctx.deps).reduce((s, o) => s + (o.result ?? 0), 0); } },
};
`,
);

/** top (1) → six slow nodes (10, 20, ... 60) → bottom, their sum (210) */
const MIDS = [1, 2, 3, 4, 5, 6];
/** the same types, but slow runs at once: what the survivor of a SIGKILL runs */
const FAST = path.join(tmp, 'flow-types-fast.mjs');
fs.writeFileSync(FAST, fs.readFileSync(MODULE, 'utf8').replace('setTimeout(() => r(p.n), p.ms)', 'r(p.n)'));

const fan = (ms: number) => ({
  name: 'fan',
  nodes: [
    { id: 'top', type: 'num', params: { n: 1 } },
    ...MIDS.map((i) => ({ id: `m${i}`, type: 'slow', params: { n: i * 10, ms }, deps: ['top'] })),
    { id: 'bottom', type: 'sum', deps: MIDS.map((i) => `m${i}`) },
  ],
});

/** the roles' environment: the test's Redis, a prefix of its own with 3 shards, the types above */
const envFor = (name: string) => ({
  REDIS_URL: ownRedis().url,
  WIZARD_PREFIX: testPrefix(name),
  WIZARD_HANDLERS: MODULE,
  WIZARD_SHARDS: '3',
});

async function startApi(env: Record<string, string>) {
  const port = await freePort();
  const a = spawnWizard(['api', '--port', String(port)], env, 'api-flow-faults');
  await a.waitForOutput(/api listening/);
  return `http://127.0.0.1:${port}`;
}

test('a worker SIGKILLed while it holds nodes: the flow finishes exactly; the nodes that did not die ran once', async () => {
  const env = envFor('flow-kill');
  const api = await startApi(env);
  const flow = async (id: string) => (await http<FlowView>('GET', `${api}/flows/${id}`)).body;
  const doomed = spawnWizard(['worker', '--concurrency', '16', '--lease-ms', '2000'], env, 'worker-doomed');
  await doomed.waitForOutput(/worker started/);
  const made = await http<{ flow_id: string; jobs: Record<string, string> }>('POST', `${api}/flows`, fan(60_000));
  expect(made.status).toBe(202);
  const { flow_id, jobs } = made.body;
  expect(new Set(Object.values(jobs).map(shardOfId)).size).toBe(3);
  // every slow node is held by the doomed worker (each sleeps a minute), then it dies
  await waitUntil(
    async () => Object.values((await flow(flow_id)).nodes).filter((n) => n.state === 'STARTED').length === 6,
    30_000,
    'the six slow nodes to start',
  );
  await doomed.kill('SIGKILL');
  // the six run again elsewhere, quickly this time: a second worker, whose reaper takes them back
  const fast = { ...env, WIZARD_HANDLERS: FAST };
  const survivor = spawnWizard(['worker', '--concurrency', '16', '--lease-ms', '2000'], fast, 'worker-survivor');
  await survivor.waitForOutput(/worker started/);
  const view = await waitUntil(
    async () => {
      const f = await flow(flow_id);
      return f.state !== 'RUNNING' ? f : null;
    },
    120_000,
    'the flow to end',
  );
  expect(view.state).toBe('SUCCESS');
  expect(view.progress).toEqual({ completed: 8, total: 8 });
  expect(view.nodes.top.result).toBe(1);
  for (const i of MIDS) expect(view.nodes[`m${i}`].result).toBe(i * 10);
  expect(view.nodes.bottom.result).toBe(210);
  const attempts = async (node: string) =>
    (await http<{ attempts: number }>('GET', `${api}/jobs/${jobs[node]}`)).body.attempts;
  expect(await attempts('top')).toBe(1);
  expect(await attempts('bottom')).toBe(1);
  for (const i of MIDS) expect(await attempts(`m${i}`)).toBe(2); // the one that died, then the one that ran
}, 180_000);

test('Redis stopped and started again midway (appendonly): the flow finishes exactly, each node once', async () => {
  const env = envFor('flow-restart');
  const api = await startApi(env);
  const flow = async (id: string) => http<FlowView>('GET', `${api}/flows/${id}`);
  const worker = spawnWizard(['worker', '--concurrency', '16'], env, 'worker-restart');
  await worker.waitForOutput(/worker started/);
  const made = await http<{ flow_id: string; jobs: Record<string, string> }>('POST', `${api}/flows`, fan(1_000));
  expect(made.status).toBe(202);
  const { flow_id, jobs } = made.body;
  await waitUntil(
    async () => (await flow(flow_id)).body.nodes.top.state === 'SUCCESS',
    30_000,
    'the top node to finish',
  );
  await ownRedis().stop(); // the slow nodes run (1 s): their completions meet a Redis that is away
  await new Promise((r) => setTimeout(r, 2500));
  await ownRedis().start();
  const view = await waitUntil(
    async () => {
      const f = await flow(flow_id);
      return f.status === 200 && f.body.state !== 'RUNNING' ? f.body : null;
    },
    90_000,
    'the flow to end',
  );
  expect(view.state).toBe('SUCCESS');
  expect(view.progress).toEqual({ completed: 8, total: 8 });
  for (const i of MIDS) expect(view.nodes[`m${i}`].result).toBe(i * 10);
  expect(view.nodes.bottom.result).toBe(210);
  for (const id of Object.values(jobs))
    expect((await http<{ attempts: number }>('GET', `${api}/jobs/${id}`)).body.attempts).toBe(1);
  expect(worker.proc.exitCode).toBeNull();
}, 150_000);

test('a DEAD node retried with POST /jobs/:id/retry resumes its flow: its dependents run, the flow ends SUCCESS', async () => {
  const admin = 'flow-retry-admin-token-0123';
  const env = { ...envFor('flow-retry'), ADMIN_TOKEN: admin };
  const api = await startApi(env);
  const flow = async (id: string) => (await http<FlowView>('GET', `${api}/flows/${id}`)).body;
  const worker = spawnWizard(['worker', '--concurrency', '16'], env, 'worker-retry');
  await worker.waitForOutput(/worker started/);
  const file = path.join(tmp, 'flaky-ok');
  const made = await http<{ flow_id: string; jobs: Record<string, string> }>('POST', `${api}/flows`, {
    nodes: [
      { id: 'top', type: 'num', params: { n: 1 } },
      { id: 'flaky', type: 'flaky', params: { n: 20, file }, deps: ['top'] },
      { id: 'side', type: 'num', params: { n: 300 }, deps: ['top'] },
      { id: 'after', type: 'num', params: { n: 4000 }, deps: ['flaky'] },
      { id: 'bottom', type: 'sum', deps: ['after', 'side'] },
    ],
  });
  expect(made.status).toBe(202);
  const { flow_id, jobs } = made.body;
  const ended = () =>
    waitUntil(
      async () => {
        const f = await flow(flow_id);
        return f.state !== 'RUNNING' ? f : null;
      },
      60_000,
      'the flow to end',
    );
  let view = await ended();
  expect(view.state).toBe('FAILURE');
  expect(view.nodes.flaky.state).toBe('DEAD');
  expect(view.nodes.after).toMatchObject({ state: 'FAILURE', error: 'dep flaky ended DEAD' });
  expect(view.nodes.bottom).toMatchObject({ state: 'FAILURE', error: 'dep after ended FAILURE' });
  fs.writeFileSync(file, 'ok');
  const retried = await http('POST', `${api}/jobs/${jobs.flaky}/retry`, undefined, {
    authorization: `Bearer ${admin}`,
  });
  expect(retried.status).toBe(200);
  view = await ended();
  expect(view.state).toBe('SUCCESS');
  expect(view.progress).toEqual({ completed: 5, total: 5 });
  expect(view.nodes.bottom.result).toBe(4300);
  for (const node of Object.keys(jobs))
    expect((await http<{ attempts: number }>('GET', `${api}/jobs/${jobs[node]}`)).body.attempts).toBe(1);
}, 120_000);
