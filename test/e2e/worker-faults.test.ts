/**
 * Workers across smaller faults, with real processes: the chunks a worker is computing when
 * their prime count fails are cancelled with it (refused, never retried, never DEAD); a second
 * process with a live node's --node-id, or a worker whose --metrics-port is taken, is refused
 * at start (exit 2, one line naming the flag).
 */
import net from 'node:net';
import { RedisStore } from '../../src/store/redis';
import { testPrefix, testRedisUrl } from '../helpers/env';
import { killAll, runWizard, spawnWizard, waitUntil, WizardProc } from '../helpers/procs';
import { freePort } from '../helpers/redis-server';

afterAll(killAll);

test('a prime count that fails: the chunks still running end cancelled, none DEAD, none in the dead-letter queue', async () => {
  const prefix = testPrefix('chunk-cancel');
  const store = await new RedisStore({ url: testRedisUrl(), prefix }).connect();
  try {
    // chunk 0 fails at once, on its only attempt; 1 and 2 take seconds each in the worker's threads
    const slow = (index: number) => ({
      type: 'primes_chunk' as const,
      params: { lo: 1e12 - (index + 1) * 4e9, hi: 1e12 - index * 4e9, index },
    });
    const { parent, children } = await store.jobs.enqueueFlow({
      parent: { type: 'primes', params: { n: 1e12, chunks: 3 } },
      children: [{ type: 'primes_chunk', params: { lo: -1, hi: 10, index: 0 }, maxAttempts: 1 }, slow(1), slow(2)],
    });
    const worker = spawnWizard(
      ['worker', '--node-id', 'cancel-worker', '--threads', '3', '--concurrency', '3', '--lease-ms', '1500'],
      { REDIS_URL: testRedisUrl(), WIZARD_PREFIX: prefix },
      'worker',
    );
    const failed = await waitUntil(
      async () => {
        const p = await store.reads.job(parent.id);
        return p?.state === 'FAILURE' && p;
      },
      15_000,
      'the parent to fail',
    );
    expect(failed.error).toMatch(/^chunk 0 failed: lo must be an integer/);
    const cancelled = { state: 'FAILURE', error: `cancelled: parent job ${parent.id} failed`, attempts: 1 };
    for (const c of children.slice(1)) expect(await store.reads.job(c.id)).toMatchObject(cancelled);
    // the worker computing them stops (its renewal is refused), says they were cancelled, and nothing is retried or reaped
    for (const c of children.slice(1))
      await worker.waitForOutput(
        new RegExp(`job cancelled: abandoning it.*${c.id}.*cancelled: parent job ${parent.id} failed`),
        5000,
      );
    expect(worker.output()).not.toMatch(/lease lost/);
    await new Promise((r) => setTimeout(r, 2000)); // past a lease: a reaper would have found them
    for (const c of children.slice(1)) expect(await store.reads.job(c.id)).toMatchObject(cancelled);
    expect((await store.reads.job(children[0].id))!.state).toBe('DEAD');
    expect((await store.dead.list()).jobs.map((j) => j.id)).toEqual([children[0].id]);
    expect(await store.queues.depth('default')).toEqual({ waiting: 0, active: 0, delayed: 0 });
    expect(await worker.kill('SIGTERM')).toBe(0);
  } finally {
    await store.close();
  }
}, 40_000);

/**
 * a role's start line, and a moment more: it is logged just before the role installs its SIGTERM
 * handler, so a signal sent the instant it appears can still find the default one
 */
async function started(p: WizardProc, re: RegExp): Promise<void> {
  await p.waitForOutput(re, 10_000);
  await new Promise((r) => setTimeout(r, 300));
}

/** `wizard <args>` refused at start: exit 2 and one line on stderr naming the flag */
function expectRefused(args: string[], env: Record<string, string>, flag: string): string {
  const { code, stdout, stderr } = runWizard(args, env);
  expect({ code, stdout }).toEqual({ code: 2, stdout: '' });
  expect(stderr.trim().split('\n')).toEqual([expect.stringContaining(flag)]);
  return stderr;
}

test("a second worker with a live worker's --node-id is refused; a SIGKILLed one restarts with it at once", async () => {
  const prefix = testPrefix('node-id');
  const env = { REDIS_URL: testRedisUrl(), WIZARD_PREFIX: prefix };
  const store = await new RedisStore({ url: testRedisUrl(), prefix }).connect();
  try {
    const first = spawnWizard(['worker', '--node-id', 'twin'], env, 'first');
    await started(first, /worker started/);
    expect(expectRefused(['worker', '--node-id', 'twin'], env, '--node-id')).toMatch(
      `--node-id twin is taken by a live worker (host `,
    );
    expect(expectRefused(['worker'], { ...env, WIZARD_NODE_ID: 'twin' }, '--node-id')).toContain(
      `pid ${first.proc.pid})`,
    );
    // the same id for another role is another node
    const scheduler = spawnWizard(['scheduler', '--node-id', 'twin'], env, 'scheduler');
    await started(scheduler, /scheduler started/);
    expectRefused(['scheduler', '--node-id', 'twin'], env, '--node-id');

    // a worker SIGKILLed on this host: its claim is taken over at once by a restart with the id
    expect(await first.kill('SIGKILL')).toBe('SIGKILL');
    const again = spawnWizard(['worker', '--node-id', 'twin'], env, 'again');
    await started(again, /worker started/);
    expect(await again.kill('SIGTERM')).toBe(0);
    expect(await store.nodes.lockHolder('node:worker:twin')).toBeNull(); // released on a clean stop
    expect(await scheduler.kill('SIGTERM')).toBe(0);

    // a claim of another host's process is waited out: refused until its TTL lapses
    // (held long enough that a slow start on a loaded machine still meets it, then left to lapse)
    expect(await store.nodes.holdLock('node:worker:far', 'other-host 4242 abcd', 30_000)).toBe(true);
    expect(expectRefused(['worker', '--node-id', 'far'], env, '--node-id')).toContain('(host other-host, pid 4242)');
    expect(await store.nodes.holdLock('node:worker:far', 'other-host 4242 abcd', 300)).toBe(true); // its holder stops renewing
    await new Promise((r) => setTimeout(r, 400));
    const later = spawnWizard(['worker', '--node-id', 'far'], env, 'later');
    await started(later, /worker started/);
    expect(await later.kill('SIGTERM')).toBe(0);
  } finally {
    await store.close();
  }
}, 60_000);

test('a worker whose --metrics-port is taken exits 2 naming the flag', async () => {
  const port = await freePort();
  const taken = net.createServer();
  await new Promise<void>((r) => taken.listen(port, '127.0.0.1', () => r()));
  try {
    const env = { REDIS_URL: testRedisUrl(), WIZARD_PREFIX: testPrefix('metrics-port') };
    const stderr = expectRefused(
      ['worker', '--node-id', 'metrics-twin', '--metrics-port', String(port)],
      env,
      '--metrics-port',
    );
    expect(stderr).toBe(
      `error: --metrics-port ${port} is already in use on 127.0.0.1: give another with --metrics-port <n> or WIZARD_METRICS_PORT=<n>\n`,
    );
  } finally {
    await new Promise((r) => taken.close(r));
  }
});
