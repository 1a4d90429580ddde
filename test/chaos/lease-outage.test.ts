/**
 * Leases across a Redis cut off for longer than the lease (README "Reliability", "A Redis cut off
 * from everyone"). Real processes reach Redis through a TCP proxy that stops forwarding
 * (test/helpers/tcp-proxy.ts), while the test watches Redis directly.
 *
 * - Cut off from everyone (an api, two workers with 6 s leases and a scheduler, all through one
 *   proxy) for 12 s while both workers hold jobs: no reaper takes back a job whose holder was
 *   alive all along. Every job, those held at the cut included, ends SUCCESS with its exact
 *   result at its first attempt, and nothing is reclaimed.
 * - One worker cut off alone for as long: its jobs are taken back after the lease by the other
 *   worker, which runs them (attempt 2, its exact result, once); the cut-off worker's late
 *   results are refused when it is back.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Job } from '../../src/core/job';
import { RedisStore } from '../../src/store/redis';
import { testPrefix } from '../helpers/env';
import { ownRedisServer } from '../helpers/own-redis';
import { http, killAll, spawnWizard, waitUntil } from '../helpers/procs';
import { freePort } from '../helpers/redis-server';
import { startTcpProxy, TcpProxy } from '../helpers/tcp-proxy';

const ownRedis = ownRedisServer();
const LEASE_MS = 6000;
const CUT_MS = 12_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wizard-lease-outage-'));
/** slow_sum: a + b after `ms`: a task whose result is exact and that is held for a while */
const HANDLERS = path.join(tmp, 'types.mjs');
fs.writeFileSync(
  HANDLERS,
  `
export default {
  slow_sum: {
    params: { type: 'object', required: ['a', 'b', 'ms'], properties: { a: { type: 'integer' }, b: { type: 'integer' }, ms: { type: 'integer' } } },
    async run(p) { await new Promise((r) => setTimeout(r, p.ms)); return p.a + p.b; },
  },
};
`,
);

const proxies: TcpProxy[] = [];
afterAll(async () => {
  await killAll();
  for (const p of proxies) await p.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const slowSum = (a: number, ms: number) => ({ type: 'slow_sum', params: { a, b: 1000, ms } });

/** the slow_sum jobs under the prefix (not the scheduler's bot batch) */
const sums = async (store: RedisStore) =>
  (await store.reads.list({ limit: 500 })).jobs.filter((j) => j.type === 'slow_sum');

/** every slow_sum job once none is left to run, or an error that lists those that are not done */
async function allDone(store: RedisStore, count: number, timeoutMs: number): Promise<Job[]> {
  return waitUntil(
    async () => {
      const jobs = await sums(store);
      return jobs.length === count && jobs.every((j) => ['SUCCESS', 'FAILURE', 'DEAD'].includes(j.state)) ? jobs : null;
    },
    timeoutMs,
    `all ${count} jobs to end`,
    200,
  ).catch(async (err) => {
    const jobs = await sums(store);
    throw new Error(
      `${String(err)}\nnot done: ${JSON.stringify(jobs.filter((j) => j.state !== 'SUCCESS').map((j) => [j.id, j.state, j.attempts, j.error]))}`,
    );
  });
}

/** the jobs STARTED now, by holder */
async function heldNow(store: RedisStore): Promise<Job[]> {
  return (await store.reads.list({ state: 'STARTED', limit: 500 })).jobs;
}

test('a Redis cut off from everyone for twice the lease reruns nothing: every job held at the cut ends at attempt 1 with its exact result', async () => {
  const proxy = await startTcpProxy(ownRedis().port);
  proxies.push(proxy);
  const prefix = testPrefix('lease-outage-all');
  const env = {
    REDIS_URL: proxy.url,
    WIZARD_PREFIX: prefix,
    WIZARD_HANDLERS: HANDLERS,
    WIZARD_LEASE_MS: String(LEASE_MS),
    WIZARD_THREADS: '1',
  };
  const port = await freePort();
  const api = `http://127.0.0.1:${port}`;
  const procs = [
    spawnWizard(['api', '--port', String(port), '--node-id', 'cut-api'], env, 'api'),
    spawnWizard(['worker', '--node-id', 'worker-1', '--concurrency', '6'], env, 'worker-1'),
    spawnWizard(['worker', '--node-id', 'worker-2', '--concurrency', '6'], env, 'worker-2'),
    spawnWizard(['scheduler', '--node-id', 'cut-scheduler'], env, 'scheduler'), // it reaps every queue each second
  ];
  await Promise.all(procs.map((p) => p.waitForOutput(/api listening|worker started|scheduler started/, 60_000)));
  const store = await new RedisStore({ url: ownRedis().url, prefix }).connect(); // the test's own view, not through the proxy
  try {
    // 50 tasks of 1.5 s accepted before the cut: the two workers hold 12 at a time
    const expected = new Map<string, number>();
    for (let a = 0; a < 50; a++) {
      const res = await http<{ job_id: string }>('POST', `${api}/jobs`, slowSum(a, 1500));
      expect(res.status).toBe(202);
      expected.set(res.body.job_id, a + 1000);
    }
    const held = await waitUntil(
      async () => {
        const now = await heldNow(store);
        return new Set(now.map((j) => j.handledBy)).size === 2 && now.length >= 10 ? now : null;
      },
      30_000,
      'both workers to hold jobs',
      50,
    );
    proxy.cut();
    const atCut = await heldNow(store); // what is held as the cut begins (those just claimed too)
    const heldIds = new Set([...held, ...atCut].map((j) => j.id));
    await sleep(CUT_MS);
    proxy.heal({ drop: true }); // what was sent meanwhile is lost: the workers send their results again

    const all = await allDone(store, 50, 90_000).catch((err) => {
      throw new Error(`${String(err)}\n${procs.map((p) => `--- ${p.name}\n${p.output().slice(-3000)}`).join('\n')}`);
    });
    const wrong = all.filter((j) => j.state !== 'SUCCESS' || j.result !== expected.get(j.id) || j.attempts !== 1);
    expect(
      wrong.map((j) => ({
        id: j.id,
        held: heldIds.has(j.id),
        state: j.state,
        result: j.result,
        attempts: j.attempts,
        error: j.error,
      })),
    ).toEqual([]);
    expect(heldIds.size).toBeGreaterThanOrEqual(10);
    for (const p of procs)
      expect({ name: p.name, reclaimed: /reclaimed lapsed leases/.test(p.output()) }).toEqual({
        name: p.name,
        reclaimed: false,
      });
    for (const p of procs) expect({ name: p.name, exit: p.proc.exitCode }).toEqual({ name: p.name, exit: null });
  } finally {
    await store.close();
    await Promise.all(procs.map((p) => p.kill('SIGKILL')));
  }
}, 180_000);

test('a worker cut off alone for twice the lease has its jobs taken back by another after the lease; its late results are refused', async () => {
  const proxy = await startTcpProxy(ownRedis().port);
  proxies.push(proxy);
  const prefix = testPrefix('lease-outage-one');
  const env = {
    WIZARD_PREFIX: prefix,
    WIZARD_HANDLERS: HANDLERS,
    WIZARD_LEASE_MS: String(LEASE_MS),
    WIZARD_THREADS: '1',
  };
  const store = await new RedisStore({ url: ownRedis().url, prefix }).connect();
  const cutOff = spawnWizard(
    ['worker', '--node-id', 'worker-1', '--concurrency', '4'],
    { ...env, REDIS_URL: proxy.url },
    'worker-1',
  );
  const other = spawnWizard(
    ['worker', '--node-id', 'worker-2', '--concurrency', '4'],
    { ...env, REDIS_URL: ownRedis().url },
    'worker-2',
  );
  try {
    await Promise.all([cutOff, other].map((p) => p.waitForOutput(/worker started/, 60_000)));
    // 8 tasks of 4 s: each worker holds 4 at once
    const jobs = await store.jobs.enqueue(Array.from({ length: 8 }, (_, a) => slowSum(a, 4000)));
    const expected = new Map(jobs.map((j) => [j.id, (j.params as { a: number }).a + 1000]));
    const held = await waitUntil(
      async () => {
        const mine = (await heldNow(store)).filter((j) => j.handledBy === 'worker-1');
        return mine.length >= 2 ? mine : null;
      },
      30_000,
      'worker-1 to hold jobs',
      20,
    );
    proxy.cut();
    const heldIds = new Set(
      [...held, ...(await heldNow(store)).filter((j) => j.handledBy === 'worker-1')].map((j) => j.id),
    );
    const cutAt = Date.now();
    // worker-2 takes them back once their lease lapsed and runs them, while worker-1 is still cut off
    const all = await allDone(store, 8, 60_000);
    await sleep(CUT_MS - (Date.now() - cutAt));
    proxy.heal();
    await cutOff.waitForOutput(/store is back/, 30_000);
    await cutOff.waitForOutput(/lease lost|refused/, 30_000);

    // those worker-1 held: run again by worker-2 (attempt 2); the others ran once, by either
    for (const j of all) {
      const taken = heldIds.has(j.id);
      expect({
        id: j.id,
        state: j.state,
        result: j.result,
        attempts: j.attempts,
        handledBy: taken ? j.handledBy : 'either',
      }).toEqual({
        id: j.id,
        state: 'SUCCESS',
        result: expected.get(j.id),
        attempts: taken ? 2 : 1,
        handledBy: taken ? 'worker-2' : 'either',
      });
    }
    expect(heldIds.size).toBeGreaterThanOrEqual(2);
    // each ran to SUCCESS once: the late results of worker-1 changed nothing
    const after = await store.reads.list({ state: 'SUCCESS', limit: 500 });
    expect(after.total).toBe(8);
    for (const j of after.jobs)
      expect({ id: j.id, result: j.result }).toEqual({ id: j.id, result: expected.get(j.id) });
    expect(other.output()).toMatch(/reclaimed lapsed leases/);
  } finally {
    await store.close();
    await Promise.all([cutOff, other].map((p) => p.kill('SIGKILL')));
  }
}, 180_000);
