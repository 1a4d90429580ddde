/**
 * SIGKILL a bot while it holds a job: after BOT_DOWN_AFTER_MS without a heartbeat the scheduler
 * marks it down and puts the job back, another bot finishes it, and the job succeeds exactly
 * once (one SUCCESS event, one datalake record).
 */
import { RedisStore } from '../../src/store/redis';
import { testPrefix, testRedisUrl } from '../helpers/env';
import { http, killAll, spawnWizard, waitUntil } from '../helpers/procs';
import { freePort } from '../helpers/redis-server';
import { lakeExport } from '../helpers/lake';
import type { BotView, JobView } from '../../src/roles/api/views';

afterAll(killAll);

test('a SIGKILLed bot is marked down and the other bot finishes its job, once', async () => {
  const prefix = testPrefix('bot-crash');
  const port = await freePort();
  const apiUrl = `http://127.0.0.1:${port}`;
  const env = {
    REDIS_URL: testRedisUrl(),
    WIZARD_PREFIX: prefix,
    WIZARD_API_URL: apiUrl,
    BOT_DOWN_AFTER_MS: '3000',
    HEARTBEAT_INTERVAL_MS: '300',
    WIZARD_BOT_POLL_MS: '100',
    POPULATE_INTERVAL_MS: '600000',
    BATCH_SIZE: '1',
    PROCESSING_DURATION_MS: '2500',
    FAILURE_RATE: '0',
  };
  const store = await new RedisStore({ url: testRedisUrl(), prefix }).connect();
  try {
    const from = await store.events.lastId();
    const api = spawnWizard(['api', '--port', String(port)], env, 'api');
    await api.waitForOutput(/api listening/);
    const victim = spawnWizard(['bot', '--name', 'victim'], env, 'victim');
    await victim.waitForOutput(/registered/);
    const scheduler = spawnWizard(['scheduler'], env, 'scheduler');

    const bots = async () => (await http<{ bots: BotView[] }>('GET', `${apiUrl}/bots`)).body.bots;
    const held = await waitUntil(
      async () => {
        const v = (await bots()).find((b) => b.name === 'victim');
        if (!v?.current_job) return null;
        const job = (await http<JobView>('GET', `${apiUrl}/jobs/${v.current_job}`)).body;
        return job.state === 'PROGRESS' ? { victimId: v.bot_id, jobId: job.job_id } : null;
      },
      15_000,
      'the victim to be running the job',
    );
    expect(await victim.kill('SIGKILL')).toBe('SIGKILL');
    const killedAt = Date.now();
    const survivor = spawnWizard(['bot', '--name', 'survivor'], env, 'survivor');

    const down = await waitUntil(
      async () => (await bots()).find((b) => b.bot_id === held.victimId && b.status === 'down'),
      20_000,
      'the victim to be marked down',
    );
    expect(down.current_job).toBeNull();
    expect(Date.now() - killedAt).toBeGreaterThanOrEqual(2000);
    const survivorId = (await bots()).find((b) => b.name === 'survivor')!.bot_id;
    const done = await waitUntil(
      async () => {
        const job = (await http<JobView>('GET', `${apiUrl}/jobs/${held.jobId}`)).body;
        return job.state === 'SUCCESS' ? job : null;
      },
      25_000,
      'the survivor to finish the job',
      100,
    );
    expect(done).toMatchObject({ handled_by: survivorId, attempts: 2 });
    // the success shows no error of its own: the first attempt's reason is in its attempts log
    expect(done.error).toBeNull();
    expect(done.attempts_log.map((a) => a.state)).toEqual(['RETRY', 'SUCCESS']);
    expect(done.attempts_log[0].error).toMatch(/^(bot down: no heartbeat for \d+ ms|lease expired) \(held by bot-/);

    const successes = (await store.events.read(from, 0, 10_000)).filter(
      (e) => e.jobId === held.jobId && e.state === 'SUCCESS',
    );
    expect(successes).toHaveLength(1);
    const day = done.finished_at!.slice(0, 10); // SUCCESS: finished
    const records = (await lakeExport(store, day)).filter((r) => r.job_id === held.jobId);
    expect(records).toEqual([expect.objectContaining({ status: 'SUCCESS', handled_by: survivorId, attempts: 2 })]);

    await Promise.all([survivor.kill('SIGTERM'), scheduler.kill('SIGTERM')]);
    expect(await api.kill('SIGTERM')).toBe(0);
  } finally {
    await store.close();
  }
}, 60_000);
