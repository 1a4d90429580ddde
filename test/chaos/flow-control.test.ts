/**
 * Flow control under faults (docs/flow-control.md): grouped jobs under a group concurrency limit
 * of 1 and a queue rate, worked by three real workers whose clocks are off (libfaketime: 20 s
 * ahead, 20 s behind, right). The one ahead reaches Redis through a TCP proxy and starts first;
 * while it runs a long job and a short one, the proxy is cut (a partition) and the two others
 * start; its leases lapse and the others take its jobs again while its handlers still run; it is
 * SIGKILLed while cut, and the proxy heals and delivers what it held (the short runs'
 * acknowledgements, renewals), late. Every handler writes its start
 * and end on the host's monotonic clock (the same in every process, and not faked), so the test
 * compares them across processes whatever their wall clocks say. What must hold:
 * - no job lost, none done twice: every job SUCCESS with its own result; a job the dead worker
 *   finished was run by no other worker, one a live worker finished by exactly one;
 * - a group never runs two at once, except that the slot of the partitioned worker comes back when
 *   its lease lapses (the design's guarantee: a live worker's run may then overlap one of that
 *   worker's runs it no longer holds, and starts only after the partition);
 * - no window of the rate holds more than its max starts, in the store's claim times (Redis's
 *   clock) and in the handlers' own (allowing their dispatch).
 * About 20 s of wall time.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RedisStore } from '../../src/store/redis';
import { testPrefix } from '../helpers/env';
import { ownRedisServer } from '../helpers/own-redis';
import { fieldsOf, http, spawnWizard, waitUntil, WizardProc } from '../helpers/procs';
import { freePort } from '../helpers/redis-server';
import { startTcpProxy, TcpProxy } from '../helpers/tcp-proxy';
import { busiestWindow } from '../helpers/windows';

const LIBFAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';
const skewed = (offset: string) => ({ LD_PRELOAD: LIBFAKETIME, FAKETIME: offset, FAKETIME_DONT_FAKE_MONOTONIC: '1' });
/** the host's monotonic clock in ms: the handlers' too (CLOCK_MONOTONIC is one for every process) */
const mono = () => Number(process.hrtime.bigint() / 1_000_000n);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const GROUPS = 4;
const PER_GROUP = 12;
const RATE = { max: 8, per_ms: 1000 };
const LEASE_MS = 3000;
const RUN_MS = 400;
/** the partitioned worker's runs: its first runs until it is killed, the others end while it is cut off */
const SHORT_MS = 1500;
const LONG_MS = 20_000;
/** what the test allows between a claim and its handler's start (ms), as test/e2e/rate.test.ts does */
const DISPATCH_MS = 200;

const ownRedis = ownRedisServer();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wizard-flow-chaos-'));
const LOG = path.join(tmp, 'runs.log');
const MODULE = path.join(tmp, 'types.cjs');
fs.writeFileSync(
  MODULE,
  `
const fs = require('node:fs');
const mono = () => Number(process.hrtime.bigint() / 1000000n);
let slowRuns = 0;
const log = (line) => fs.appendFileSync(${JSON.stringify(LOG)}, line + '\\n');
module.exports = {
  stamp: {
    params: { type: 'object', required: ['group', 'n'], properties: { group: { type: 'string' }, n: { type: 'integer' } } },
    attempts: 5,
    async run(p, ctx) {
      const run = Math.random().toString(36).slice(2);
      // the partitioned worker's handlers call something slow: its first runs until its SIGKILL,
      // the others end during the cut (their acknowledgements are held)
      const ms = process.env.CHAOS_SLOW ? (slowRuns++ === 0 ? ${LONG_MS} : ${SHORT_MS}) : ${RUN_MS};
      log(['S', run, ctx.jobId, process.env.CHAOS_WORKER, p.group, mono(), ms].join(' '));
      await new Promise((r) => setTimeout(r, ms));
      log(['E', run, ctx.jobId, process.env.CHAOS_WORKER, p.group, mono()].join(' '));
      return p.n * 2;
    },
  },
};
`,
);
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface Run {
  run: string;
  job: string;
  worker: string;
  group: string;
  start: number;
  /** when it ended, or, for a run its worker's SIGKILL ended, the kill */
  end: number;
}

let proxy: TcpProxy;
let store: RedisStore;
const procs: WizardProc[] = [];
afterAll(async () => {
  await Promise.all(procs.map((p) => p.kill('SIGKILL')));
  await proxy?.close();
  await store?.close();
});

test('grouped jobs under a group limit of 1 and a rate, over skewed workers, one partitioned and SIGKILLed: none lost, none done twice, the limits held', async () => {
  proxy = await startTcpProxy(ownRedis().port);
  const prefix = testPrefix('flow-chaos');
  const ADMIN = 'flow-chaos-admin-token-0123456789';
  const env = {
    REDIS_URL: ownRedis().url,
    WIZARD_PREFIX: prefix,
    WIZARD_HANDLERS: MODULE,
    ADMIN_TOKEN: ADMIN,
    LOG_LEVEL: 'info',
  };
  const auth = { authorization: `Bearer ${ADMIN}` };
  store = await new RedisStore({ url: ownRedis().url, prefix }).connect();
  const port = await freePort();
  const api = `http://127.0.0.1:${port}`;
  const apiProc = spawnWizard(['api', '--port', String(port)], env, 'api-flow-chaos');
  procs.push(apiProc);
  await apiProc.waitForOutput(/api listening/);

  expect((await http('POST', `${api}/queues`, { name: 'chaos' }, auth)).status).toBeLessThan(300);
  const limits = await http('PUT', `${api}/queues/chaos/limits`, { group_concurrency: 1, rate: RATE }, auth);
  expect(limits.body).toMatchObject({ group_concurrency: 1, rate: RATE });

  const expected = new Map<string, { group: string; result: number }>();
  for (let g = 0; g < GROUPS; g++)
    for (let i = 0; i < PER_GROUP; i++) {
      const group = `t${g}`;
      const n = g * 100 + i;
      const r = await http<{ job_id: string }>(
        'POST',
        `${api}/jobs`,
        { type: 'stamp', queue: 'chaos', group, params: { group, n } },
        auth,
      );
      expect(r.status).toBe(202);
      expected.set(r.body.job_id, { group, result: n * 2 });
    }

  const worker = (name: string, offset: string | null, extra: Record<string, string> = {}) => {
    const w = spawnWizard(
      [
        'worker',
        '--queue',
        'chaos',
        '--node-id',
        name,
        '--lease-ms',
        String(LEASE_MS),
        '--threads',
        '1',
        '--concurrency',
        '6',
      ],
      { ...env, CHAOS_WORKER: name, ...(offset ? skewed(offset) : {}), ...extra },
      name,
    );
    procs.push(w);
    return w;
  };
  // the worker to be cut off starts first (through the proxy it would claim little next to the others)
  const victim = worker('w-ahead', '+20s', { REDIS_URL: proxy.url, CHAOS_SLOW: '1' });
  await victim.waitForOutput(/worker started/);

  // midway, while the victim runs a long job and a short one that started just now: cut it off;
  // its leases lapse and live workers take its jobs again while its handlers still run; then
  // kill it, and heal: what it sent while cut (the short runs' acknowledgements) arrives late
  const raw = () => fieldsOf(LOG);
  const open = () => {
    const ended = new Set(
      raw()
        .filter((f) => f[0] === 'E')
        .map((f) => f[1]),
    );
    return raw().filter((f) => f[0] === 'S' && f[3] === 'w-ahead' && !ended.has(f[1]));
  };
  await waitUntil(
    async () => {
      const o = open();
      return (
        o.some((f) => Number(f[6]) === LONG_MS) &&
        o.some((f) => Number(f[6]) === SHORT_MS && mono() - Number(f[5]) < SHORT_MS / 2)
      );
    },
    60_000,
    'the partitioned worker to run a long job and a short one',
    20,
  );
  proxy.cut();
  const cutAt = mono();
  const others = [worker('w-behind', '-20s'), worker('w-right', null)];
  await Promise.all(others.map((w) => w.waitForOutput(/worker started/)));
  await sleep(LEASE_MS + 2000);
  await victim.kill('SIGKILL');
  const killedAt = mono();
  await sleep(500);
  proxy.heal();

  const jobs = await waitUntil(
    async () => {
      const all = await Promise.all([...expected.keys()].map((id) => store.reads.job(id)));
      return all.every((j) => j?.state === 'SUCCESS') ? all.map((j) => j!) : null;
    },
    60_000,
    'every job to succeed',
    200,
  ).catch(async (err) => {
    const all = await Promise.all([...expected.keys()].map((id) => store.reads.job(id)));
    const open = all.filter((j) => j?.state !== 'SUCCESS').map((j) => [j?.id, j?.state, j?.attempts, j?.error]);
    throw new Error(`${String(err)}\nnot done: ${JSON.stringify(open)}`);
  });

  // no job lost, each with its own result
  expect(Object.fromEntries(jobs.map((j) => [j.id, { group: j.group, result: j.result }]))).toEqual(
    Object.fromEntries(expected),
  );

  const lines = raw();
  const ends = new Map(lines.filter((f) => f[0] === 'E').map((f) => [f[1], Number(f[5])]));
  const runs: Run[] = lines
    .filter((f) => f[0] === 'S')
    .map(([, run, job, worker, group, start]) => ({
      run,
      job,
      worker,
      group,
      start: Number(start),
      end: ends.get(run) ?? killedAt,
    }));
  // a run with no end is one the SIGKILL ended: only the victim's
  expect(runs.filter((r) => !ends.has(r.run) && r.worker !== 'w-ahead')).toEqual([]);
  const victimRuns = runs.filter((r) => r.worker === 'w-ahead');
  expect(victimRuns.filter((r) => !ends.has(r.run)).length).toBeGreaterThan(0); // killed mid-run
  expect(victimRuns.filter((r) => ends.has(r.run) && ends.get(r.run)! > cutAt).length).toBeGreaterThan(0); // ended cut off
  expect(runs.filter((r) => r.worker !== 'w-ahead' && r.start > cutAt).length).toBeGreaterThan(0); // work went on while it was cut off

  // none done twice: the job the store says a live worker did was run to its end by that one run
  // only; one the victim did (its acknowledgement got through) by no live worker at all
  const doneTwice = jobs.flatMap((j) => {
    const live = runs.filter((r) => r.job === j.id && r.worker !== 'w-ahead' && ends.has(r.run));
    const want = j.handledBy === 'w-ahead' ? 0 : 1;
    return live.length === want ? [] : [{ id: j.id, handledBy: j.handledBy, liveRuns: live.map((r) => r.worker) }];
  });
  expect(doneTwice).toEqual([]);

  // the group limit: two runs of a group overlap only when one is the partitioned worker's and the
  // other started after the partition (its slot came back when its lease lapsed)
  const badOverlaps: string[] = [];
  for (let g = 0; g < GROUPS; g++) {
    const mine = runs.filter((r) => r.group === `t${g}`).sort((a, b) => a.start - b.start);
    for (let i = 0; i < mine.length; i++)
      for (let k = i + 1; k < mine.length; k++) {
        const [a, b] = [mine[i], mine[k]];
        if (b.start >= a.end) continue;
        const victimRun = [a, b].filter((r) => r.worker === 'w-ahead');
        const live = [a, b].filter((r) => r.worker !== 'w-ahead');
        const allowed = victimRun.length === 1 && live[0].start > cutAt;
        if (!allowed) badOverlaps.push(`t${g}: ${JSON.stringify(a)} and ${JSON.stringify(b)}`);
      }
  }
  expect(badOverlaps).toEqual([]);

  // the rate: in the store's claim times (every job's last claim, Redis's clock) and in every
  // handler start (all runs, the victim's too), no window holds more than its max
  expect(
    busiestWindow(
      jobs.map((j) => j.startedAt!),
      RATE.per_ms,
    ),
  ).toBeLessThanOrEqual(RATE.max);
  expect(
    busiestWindow(
      runs.map((r) => r.start),
      RATE.per_ms - DISPATCH_MS,
    ),
  ).toBeLessThanOrEqual(RATE.max);
  expect(Math.max(...runs.map((r) => r.start)) - Math.min(...runs.map((r) => r.start))).toBeGreaterThanOrEqual(
    Math.floor((GROUPS * PER_GROUP - 1) / RATE.max) * RATE.per_ms - DISPATCH_MS,
  );
}, 90_000);
