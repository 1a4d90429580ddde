/**
 * Seed 004 for real: an api, a scheduler on a 1 s interval and `wizard bot --count 2` (200 ms
 * jobs) as separate processes on one Redis. Batches are made, claimed and finished; each
 * finished job is in the datalake exactly once, and the CLI's tables and export read it all.
 */
import { RedisStore } from '../../src/store/redis';
import { testPrefix, testRedisUrl } from '../helpers/env';
import { http, killAll, runWizard, spawnWizard, waitUntil } from '../helpers/procs';
import { freePort } from '../helpers/redis-server';

afterAll(killAll);

interface JobView {
  job_id: string;
  state: string;
  handled_by: string | null;
  params: { batch: string };
  initiated_by: string;
}

test('a scheduler makes a batch a second and two bots claim and finish them; the lake holds each once', async () => {
  const prefix = testPrefix('scheduler-bots');
  const port = await freePort();
  const apiUrl = `http://127.0.0.1:${port}`;
  const env = {
    REDIS_URL: testRedisUrl(),
    WIZARD_PREFIX: prefix,
    POPULATE_INTERVAL_MS: '1000',
    BATCH_SIZE: '3',
    PROCESSING_DURATION_MS: '200',
    FAILURE_RATE: '0.3',
    HEARTBEAT_INTERVAL_MS: '300',
    WIZARD_BOT_POLL_MS: '100',
    WIZARD_API_URL: apiUrl,
  };
  const store = await new RedisStore({ url: testRedisUrl(), prefix }).connect();
  try {
    const api = spawnWizard(['api', '--port', String(port), '--node-id', 'api-1'], env, 'api');
    await api.waitForOutput(/api listening/);
    const bots = spawnWizard(['bot', '--count', '2', '--name', 'b'], env, 'bots');
    const scheduler = spawnWizard(['scheduler', '--node-id', 'sched-1'], env, 'scheduler');
    await scheduler.waitForOutput(/batch created/);

    // four batches made and every job of the first three finished
    const finished = await waitUntil(
      async () => {
        const all = (await http<{ jobs: JobView[] }>('GET', `${apiUrl}/jobs?limit=500`)).body.jobs;
        const batches = [...new Set(all.map((j) => j.params.batch))].sort();
        if (batches.length < 4) return null;
        const early = all.filter((j) => batches.slice(0, 3).includes(j.params.batch));
        // a simulated failure is retried (the sim policy): a job ends SUCCESS, or DEAD once its attempts failed
        return early.every((j) => j.state === 'SUCCESS' || j.state === 'DEAD') ? { all, early, batches } : null;
      },
      30_000,
      'three finished batches',
      200,
    );

    const perBatch = new Map<string, number>();
    for (const j of finished.all) perBatch.set(j.params.batch, (perBatch.get(j.params.batch) ?? 0) + 1);
    expect([...perBatch.values()].every((n) => n === 3)).toBe(true);
    expect(finished.all.every((j) => j.initiated_by === 'sched-1')).toBe(true);
    const slots = finished.batches.map((b) => Date.parse(b) / 1000);
    expect(new Set(slots).size).toBe(slots.length);

    const botList = (
      await http<{ bots: { bot_id: string; name: string; status: string; jobs_done: number; jobs_failed: number }[] }>(
        'GET',
        `${apiUrl}/bots`,
      )
    ).body.bots;
    expect(botList.map((b) => [b.name, b.status]).sort()).toEqual([
      ['b-1', 'up'],
      ['b-2', 'up'],
    ]);
    const botIds = botList.map((b) => b.bot_id);
    expect(finished.early.every((j) => botIds.includes(j.handled_by!))).toBe(true);
    expect(new Set(finished.early.map((j) => j.handled_by)).size).toBe(2);

    // the datalake: each finished job exactly once, through the CLI's export, line by line
    await bots.kill('SIGTERM');
    await scheduler.kill('SIGTERM');
    const done = (await http<{ jobs: JobView[] }>('GET', `${apiUrl}/jobs?limit=500`)).body.jobs.filter((j) =>
      ['SUCCESS', 'DEAD'].includes(j.state),
    );
    const days = [...new Set((await store.lake.days()).map((d) => d.date))];
    const records: { job_id: string; status: string; handled_by: string }[] = [];
    for (const day of days) {
      const r = runWizard(['datalake', 'export', day, '--api', apiUrl]);
      expect(r.code).toBe(0);
      const lines = r.stdout.split('\n');
      expect(lines.pop()).toBe('');
      records.push(...lines.map((l) => JSON.parse(l)));
    }
    expect(records.map((r) => r.job_id).sort()).toEqual(done.map((j) => j.job_id).sort());
    expect(Object.fromEntries(records.map((r) => [r.job_id, r.status]))).toEqual(
      Object.fromEntries(done.map((j) => [j.job_id, j.state])),
    );

    // the CLI's views of the same cluster
    const cli = (args: string[]) => runWizard([...args, '--api', apiUrl]);
    const status = JSON.parse(cli(['status', '--json']).stdout);
    expect(status.jobs.by_state.SUCCESS + status.jobs.by_state.DEAD).toBe(done.length);
    expect(status.bots).toEqual({ total: 0, up: 0, down: 0 }); // both deregistered on SIGTERM
    const jobs = JSON.parse(cli(['jobs', '--status', 'SUCCESS', '--json', '--limit', '500']).stdout);
    expect(jobs.jobs.map((j: JobView) => j.job_id).sort()).toEqual(
      done
        .filter((j) => j.state === 'SUCCESS')
        .map((j) => j.job_id)
        .sort(),
    );
    const table = cli(['jobs', '--limit', '2']);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^id +type +state +attempts/m);
    expect(table.stdout).toMatch(/2 of \d+ jobs/);
    const lake = JSON.parse(cli(['datalake', 'stats', '--json']).stdout);
    expect(lake.total).toBe(done.length);
    expect(await api.kill('SIGTERM')).toBe(0);
  } finally {
    await store.close();
  }
}, 60_000);
