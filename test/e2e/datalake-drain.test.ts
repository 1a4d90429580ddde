/**
 * The datalake on disk with real processes: a worker finishes tasks while the scheduler, which
 * drains the buffer into the day files, is SIGKILLed again and again (mid-drain, as it happens)
 * and restarted. Every finished job is in the day files exactly once, and the buffer ends empty.
 * `wizard up` on its embedded store drains into the same day files, and its export reads them.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RedisStore } from '../../src/store/redis';
import { lakeFiles } from '../../src/roles/datalake/drain';
import { testPrefix, testRedisUrl } from '../helpers/env';
import { http, killAll, spawnWizard, waitUntil, WizardProc } from '../helpers/procs';
import { freePort } from '../helpers/redis-server';
import { MemoryStore } from '../../src/store/memory';

afterAll(killAll);

const ROUNDS = 4;
const PER_ROUND = 1000;

test('a scheduler SIGKILLed while it drains loses and doubles no datalake record', async () => {
  const prefix = testPrefix('lake-drain');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wizard-lake-e2e-'));
  const env = { REDIS_URL: testRedisUrl(), WIZARD_PREFIX: prefix, WIZARD_DATALAKE_DIR: dir };
  const store = await new RedisStore({ url: testRedisUrl(), prefix }).connect();
  const files = lakeFiles(store, dir);
  const schedulerArgs = ['scheduler', '--leader-lease-ms', '1000', '--populate-interval-ms', '3600000'];
  const startScheduler = async (): Promise<WizardProc> => {
    const s = spawnWizard(schedulerArgs, env, 'scheduler');
    await s.waitForOutput(/scheduler started/, 20_000);
    return s;
  };
  try {
    const worker = spawnWizard(['worker', '--threads', '1'], env, 'worker');
    let scheduler = await startScheduler();
    const ids: string[] = [];
    let kills = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const jobs = await store.jobs.enqueue(
        Array.from({ length: PER_ROUND }, (_, i) => ({
          type: 'task' as const,
          queue: 'default',
          params: { a: round, b: i, op: 'add' },
        })),
      );
      ids.push(...jobs.map((j) => j.id));
      // kill it once it has drained something this round: mid-drain, or between two
      const before = await drainedSoFar();
      await waitUntil(async () => (await drainedSoFar()) > before || null, 30_000, 'the scheduler to drain');
      await new Promise((r) => setTimeout(r, 50 + ((round * 137) % 400)));
      expect(await scheduler.kill('SIGKILL')).toBe('SIGKILL');
      kills++;
      scheduler = await startScheduler();
    }
    expect(kills).toBe(ROUNDS);
    // every job finishes, and the buffer is drained to empty
    await waitUntil(
      async () => {
        const counts = await store.reads.countByState();
        if (counts.SUCCESS === ids.length) return true; // the scheduler's bot batch waits for bots: not ours
        throw new Error(JSON.stringify(counts)); // the last counts, should it time out
      },
      120_000,
      'every task to succeed',
    );
    await waitUntil(async () => ((await store.lake.backlog()) === 0 ? true : null), 60_000, 'the buffer to be drained');
    const inFiles: string[] = [];
    for (const d of await files.days())
      for (const line of fs.readFileSync(files.file(d.date), 'utf8').split('\n').filter(Boolean))
        inFiles.push((JSON.parse(line) as { job_id: string }).job_id);
    expect(inFiles.length).toBe(ids.length);
    expect([...inFiles].sort()).toEqual([...ids].sort());
    expect(new Set(inFiles).size).toBe(inFiles.length);
    await Promise.all([scheduler.kill('SIGTERM'), worker.kill('SIGTERM')]);
  } finally {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }

  async function drainedSoFar(): Promise<number> {
    return (await files.days()).reduce((n, d) => n + d.total, 0);
  }
}, 300_000);

test('`wizard up` on its embedded store drains finished jobs into day files; its export serves them once', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wizard-lake-up-'));
  const port = await freePort();
  const api = `http://127.0.0.1:${port}`;
  const up = spawnWizard(
    ['up', '--port', String(port), '--bots', '0', '--threads', '1'],
    { REDIS_URL: '', WIZARD_DATALAKE_DIR: dir },
    'up',
  );
  try {
    await up.waitForOutput(/API and dashboard at/);
    const ids: string[] = [];
    for (let i = 0; i < 40; i++)
      ids.push((await http<{ task_id: string }>('POST', `${api}/task`, { a: i, b: 1 })).body.task_id);
    // the embedded store's prefix names the directory, as Redis's does
    const files = lakeFiles(new MemoryStore(), dir);
    const written = await waitUntil(
      async () => {
        const days = await files.days();
        return days.reduce((n, d) => n + d.total, 0) === ids.length && days;
      },
      30_000,
      'the day files to hold every task',
    );
    const inFiles = written.flatMap((d) =>
      fs
        .readFileSync(files.file(d.date), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => (JSON.parse(l) as { job_id: string }).job_id),
    );
    expect([...inFiles].sort()).toEqual([...ids].sort());
    const exported: string[] = [];
    for (const d of written) {
      const res = await fetch(`${api}/datalake/export/${d.date}`);
      expect(res.status).toBe(200);
      for (const line of (await res.text()).split('\n').filter(Boolean))
        exported.push((JSON.parse(line) as { job_id: string }).job_id);
    }
    expect([...exported].sort()).toEqual([...ids].sort());
    expect(await up.kill('SIGTERM')).toBe(0);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);
