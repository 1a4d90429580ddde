/**
 * Clock skew: real `wizard` processes whose clocks are off by tens of seconds (libfaketime, as
 * LD_PRELOAD: Debian's `faketime` package; .ci/run installs it) next to ones whose clocks are
 * right, on one Redis. Every deadline is Redis's (TIME inside the scripts), so a cluster whose
 * hosts' clocks differ must behave exactly as one with perfect clocks:
 * (a) a worker 20 s behind holding 6 s leases loses none of them: a prime count is exact and every
 *     chunk ran once (attempts 1); (e) its timestamps are in order and its duration is its own;
 * (b) a worker ahead that is SIGKILLed leaves its job for its lease, not lease + skew;
 * (c) a scheduler ahead or behind marks no heartbeating bot down and a dead one down on time, and
 *     a standby 20 s behind that takes over from a dead leader makes no second batch in a slot;
 * (d) a worker 30 s behind is live in /health and wizard_workers_live.
 * About 40 s of wall time: short leases and intervals.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { RedisStore } from '../../src/store/redis';
import { testPrefix } from '../helpers/env';
import { ownRedisServer } from '../helpers/own-redis';
import { http, spawnWizard, waitUntil, WizardProc } from '../helpers/procs';
import { freePort } from '../helpers/redis-server';

const LIBFAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';
/** a process's environment that sets its wall clock off by `offset` (libfaketime's "-20s", "+20s"); its monotonic clock stays right */
const skewed = (offset: string) => ({ LD_PRELOAD: LIBFAKETIME, FAKETIME: offset, FAKETIME_DONT_FAKE_MONOTONIC: '1' });

const ownRedis = ownRedisServer();
const prefix = testPrefix('clock-skew');
let env: Record<string, string>;
let apiUrl = '';
let store: RedisStore;
const procs: WizardProc[] = [];
const spawn = (args: string[], extra: Record<string, string> = {}, name = args[0]) => {
  const p = spawnWizard(args, { ...env, ...extra }, name);
  procs.push(p);
  return p;
};

interface JobView {
  job_id: string;
  state: string;
  attempts: number;
  handled_by: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  error: string | null;
}
interface BotView {
  bot_id: string;
  name: string;
  status: string;
}

beforeAll(async () => {
  env = {
    REDIS_URL: ownRedis().url,
    WIZARD_PREFIX: prefix,
    LOG_LEVEL: 'info',
    WIZARD_THREADS: '1',
    BATCH_SIZE: '1',
    PROCESSING_DURATION_MS: '200',
    FAILURE_RATE: '0',
  };
  store = await new RedisStore({ url: ownRedis().url, prefix }).connect();
  const port = await freePort();
  apiUrl = `http://127.0.0.1:${port}`;
  await spawn(['api', '--port', String(port), '--node-id', 'skew-api']).waitForOutput(/api listening/);
});

afterAll(async () => {
  await Promise.all(procs.map((p) => p.kill('SIGKILL')));
  await store.close();
});

const bots = async () => (await http<{ bots: BotView[] }>('GET', `${apiUrl}/bots`)).body.bots;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("libfaketime sets a Node process's Date.now() off and leaves its monotonic clock alone", () => {
  expect(fs.existsSync(LIBFAKETIME)).toBe(true); // apt-get install faketime (.ci/run does)
  const probe = (offset: string) => {
    const before = Date.now();
    const r = spawnSync(process.execPath, ['-e', 'console.log(Date.now())'], {
      env: { ...process.env, ...skewed(offset) },
      encoding: 'utf8',
    });
    return Number(r.stdout) - before;
  };
  expect(Math.abs(probe('-20s') + 20_000)).toBeLessThan(3000);
  expect(Math.abs(probe('+20s') - 20_000)).toBeLessThan(3000);
});

test('(a, e) a worker 20 s behind with 6 s leases, next to a right one and a scheduler: the prime count is exact, every chunk ran once, its times are in order', async () => {
  const scheduler = spawn(
    ['scheduler', '--node-id', 'sched-right'],
    { POPULATE_INTERVAL_MS: '600000', BOT_DOWN_AFTER_MS: '3000' },
    'scheduler-right',
  );
  const behind = spawn(
    ['worker', '--node-id', 'worker-behind', '--lease-ms', '6000', '--concurrency', '4'],
    skewed('-20s'),
    'worker-behind',
  );
  const right = spawn(
    ['worker', '--node-id', 'worker-right', '--lease-ms', '6000', '--concurrency', '4'],
    {},
    'worker-right',
  );
  await Promise.all([
    scheduler.waitForOutput(/leading/),
    behind.waitForOutput(/worker started/),
    right.waitForOutput(/worker started/),
  ]);

  const began = Date.now();
  const { body } = await http<{ job_id: string }>('POST', `${apiUrl}/api/count-primes`, {
    n: 10_000_000_000,
    chunks: 32,
  });
  const done = await waitUntil(
    async () => {
      const j = (
        await http<JobView & { result: { prime_count: number; duration_sec: number } | null }>(
          'GET',
          `${apiUrl}/jobs/${body.job_id}`,
        )
      ).body;
      return j.state === 'SUCCESS' || j.state === 'FAILURE' ? j : null;
    },
    60_000,
    'the prime count',
    100,
  );
  const wallSec = (Date.now() - began) / 1000;
  expect({ state: done.state, error: done.error, primes: done.result?.prime_count }).toEqual({
    state: 'SUCCESS',
    error: null,
    primes: 455_052_511,
  });
  const chunks = (await http<{ chunks: JobView[] }>('GET', `${apiUrl}/jobs/${body.job_id}/chunks`)).body.chunks;
  expect(chunks.length).toBe(32);
  expect(
    chunks
      .filter((c) => c.attempts !== 1 || c.state !== 'SUCCESS')
      .map((c) => [c.job_id, c.state, c.attempts, c.error]),
  ).toEqual([]);
  expect(chunks.filter((c) => c.handled_by === 'worker-behind').length).toBeGreaterThan(0); // the skewed worker did its share
  expect(behind.output()).not.toMatch(/lease lost/);

  // (e) Redis made every timestamp: in order, and the duration is the count's own
  const t = (iso: string | null) => Date.parse(iso!);
  expect(t(done.started_at)).toBeGreaterThanOrEqual(t(done.created_at));
  expect(t(done.finished_at)).toBeGreaterThanOrEqual(t(done.started_at));
  for (const c of chunks) {
    expect(t(c.started_at)).toBeGreaterThanOrEqual(t(c.created_at));
    expect(t(c.finished_at)).toBeGreaterThanOrEqual(t(c.started_at));
  }
  expect(done.result!.duration_sec).toBeGreaterThan(0);
  expect(done.result!.duration_sec).toBeLessThanOrEqual(wallSec + 1);
  await Promise.all([behind.kill('SIGKILL'), right.kill('SIGKILL')]);
}, 90_000);

test('(b) a worker 20 s ahead, SIGKILLed holding a job with a 1.5 s lease: the job is taken back within the lease and a margin, not lease + skew', async () => {
  const ahead = spawn(
    ['worker', '--node-id', 'worker-ahead', '--lease-ms', '1500', '--queue', 'skew-b'],
    skewed('+20s'),
    'worker-ahead',
  );
  await ahead.waitForOutput(/worker started/);
  const [job] = await store.jobs.enqueue([
    { type: 'sim', queue: 'skew-b', params: { duration_ms: 60_000, failure_rate: 0 }, maxAttempts: 1 },
  ]);
  await waitUntil(
    async () => (await store.reads.job(job.id))?.handledBy === 'worker-ahead',
    15_000,
    'the worker ahead to hold the job',
  );
  await sleep(1000); // it renews the lease meanwhile (every 500 ms)
  await ahead.kill('SIGKILL');
  const killed = Date.now();
  // the lease lapses within 1.5 s of the last renewal; the scheduler reaps about every second
  const dead = await waitUntil(
    async () => {
      const j = await store.reads.job(job.id);
      return j?.state === 'DEAD' ? j : null;
    },
    1500 + 4000,
    'the job to be taken back',
    50,
  );
  expect(Date.now() - killed).toBeLessThan(1500 + 4000); // the code before took lease + skew: 21.5 s
  expect(dead.error).toMatch(/^lease expired \(held by worker-ahead, attempt 1 of 1\)$/);
}, 30_000);

test('(c) a scheduler ahead marks no heartbeating bot down and a dead one down on time; so does one behind', async () => {
  await procs.find((p) => p.name === 'scheduler-right')!.kill('SIGTERM'); // steps down at once
  const DOWN_AFTER = 2500;
  const botEnv = { WIZARD_API_URL: apiUrl, HEARTBEAT_INTERVAL_MS: '300', WIZARD_BOT_POLL_MS: '200' };
  const [b1, b2, b3] = ['bot-1', 'bot-2', 'bot-3'].map((name) => spawn(['bot', '--name', name], botEnv, name));
  await waitUntil(async () => (await bots()).filter((b) => b.status === 'up').length === 3, 15_000, 'three bots up');
  const schedEnv = {
    POPULATE_INTERVAL_MS: '600000',
    BOT_DOWN_AFTER_MS: String(DOWN_AFTER),
    WIZARD_LEADER_LEASE_MS: '1500',
  };

  /** kill a bot and answer how long it took until it was marked down */
  const downAfterKill = async (bot: WizardProc) => {
    await sleep(300); // a heartbeat just now, at most
    await bot.kill('SIGKILL');
    const killed = Date.now();
    await waitUntil(
      async () => (await bots()).find((b) => b.name === bot.name)?.status === 'down',
      DOWN_AFTER + 5000,
      `${bot.name} marked down`,
      50,
    );
    return Date.now() - killed;
  };

  for (const [offset, name, bot] of [
    ['+20s', 'sched-ahead', b1],
    ['-20s', 'sched-behind', b2],
  ] as const) {
    const scheduler = spawn(['scheduler', '--node-id', name], { ...schedEnv, ...skewed(offset) }, name);
    await scheduler.waitForOutput(/leading/);
    await sleep(DOWN_AFTER + 1000); // longer than a bot may be silent: every live bot stays up
    expect({ name, down: (await bots()).filter((b) => b.status !== 'up').map((b) => b.name) }).toEqual({
      name,
      down: name === 'sched-ahead' ? [] : ['bot-1'],
    });
    expect(scheduler.output()).not.toMatch(/bots marked down/);
    const took = await downAfterKill(bot);
    // on time: its last heartbeat was at most a beat before the kill, and the scheduler looks every 500 ms
    // (the code before: at once, or 20 s late)
    expect({ name, took, early: took < DOWN_AFTER - 1000, late: took > DOWN_AFTER + 3000 }).toMatchObject({
      name,
      early: false,
      late: false,
    });
    expect((await bots()).find((b) => b.name === 'bot-3')!.status).toBe('up');
    await scheduler.kill('SIGTERM');
  }
  await b3.kill('SIGTERM');
}, 60_000);

test('(d) a worker 30 s behind is live in /health and in wizard_workers_live', async () => {
  const behind = spawn(['worker', '--node-id', 'worker-30s-behind'], skewed('-30s'), 'worker-30s-behind');
  await behind.waitForOutput(/worker started/);
  const health = await waitUntil(
    async () => {
      const h = (
        await http<{ workers: { live: number; nodes: { node_id: string; last_seen: string }[] } }>(
          'GET',
          `${apiUrl}/health`,
        )
      ).body;
      return h.workers.nodes.some((n) => n.node_id === 'worker-30s-behind') ? h : null;
    },
    5000,
    'the worker in /health',
    100,
  );
  expect(health.workers.nodes.map((n) => n.node_id)).toEqual(['worker-30s-behind']);
  expect(Math.abs(Date.parse(health.workers.nodes[0].last_seen) - Date.now())).toBeLessThan(10_000); // Redis's time, not 30 s ago
  const metrics = await (await fetch(`${apiUrl}/metrics`)).text();
  expect(metrics).toMatch(/^wizard_workers_live 1$/m);
  await behind.kill('SIGTERM');
}, 30_000);

test('(c) a standby scheduler 20 s behind that takes over from a dead leader makes no second batch in the same interval', async () => {
  const INTERVAL = 4000;
  const schedEnv = {
    POPULATE_INTERVAL_MS: String(INTERVAL),
    WIZARD_LEADER_LEASE_MS: '1000',
    WIZARD_BOT_QUEUE: 'skew-batches',
  };
  const leader = spawn(['scheduler', '--node-id', 'sched-lead'], schedEnv, 'sched-lead');
  await leader.waitForOutput(/leading/);
  const standby = spawn(
    ['scheduler', '--node-id', 'sched-standby'],
    { ...schedEnv, ...skewed('-20s') },
    'sched-standby',
  );
  await standby.waitForOutput(/standing by/);
  // the leader's second batch is made at the start of an interval slot: kill it right then
  await waitUntil(
    async () => (leader.output().match(/batch created/g) ?? []).length >= 2,
    2 * INTERVAL + 2000,
    "the leader's second batch",
    20,
  );
  await leader.kill('SIGKILL');
  await standby.waitForOutput(/leading/, 5000);
  await standby.waitForOutput(/batch created/, 2 * INTERVAL);
  // its first batch is the next slot's, not a second one of the slot the leader made last (the
  // code before made one at the takeover, a leader lease and a tick after the kill): read from
  // the slots the two logged, not from how long it took
  const slots = (out: string) =>
    [...out.matchAll(/"msg":"batch created".*?"batch":"([^"]+)"/g)].map((m) => Date.parse(m[1]));
  const led = slots(leader.output());
  const [first] = slots(standby.output());
  expect(led.length).toBeGreaterThanOrEqual(2);
  expect(first - led[led.length - 1]).toBe(INTERVAL);
  await standby.kill('SIGTERM');
}, 30_000);
