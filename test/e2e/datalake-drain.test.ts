/**
 * The datalake on disk with real processes: a worker finishes tasks while the scheduler, which
 * drains the buffer into the day files, is SIGKILLed again and again (mid-drain, as it happens)
 * and restarted. Every finished job is in the day files exactly once, and the buffer ends empty.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RedisStore } from '../../src/store/redis';
import { lakeFiles } from '../../src/roles/datalake/drain';
import { testPrefix, testRedisUrl } from '../helpers/env';
import { killAll, spawnWizard, waitUntil, WizardProc } from '../helpers/procs';

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
