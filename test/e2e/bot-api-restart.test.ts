/**
 * A bot outlives its API: it retries with backoff while the API is away (its job is reported
 * once the API is back, run once), and registers again when the API no longer knows it.
 */
import { killAll, http, spawnWizard, waitUntil, WizardProc } from '../helpers/procs';
import { testPrefix, testRedisUrl } from '../helpers/env';
import { freePort } from '../helpers/redis-server';
import type { BotView, JobView } from '../../src/roles/api/views';

afterAll(killAll);

test('a bot survives an API restart mid-job and registers again after being deleted', async () => {
  const port = await freePort();
  const apiUrl = `http://127.0.0.1:${port}`;
  const admin = { authorization: 'Bearer restart-admin-token-0123' };
  const env = {
    REDIS_URL: testRedisUrl(),
    WIZARD_PREFIX: testPrefix('bot-api-restart'),
    WIZARD_API_URL: apiUrl,
    ADMIN_TOKEN: 'restart-admin-token-0123',
    HEARTBEAT_INTERVAL_MS: '200',
    WIZARD_BOT_POLL_MS: '100',
    PROCESSING_DURATION_MS: '1500',
    FAILURE_RATE: '0',
    BATCH_SIZE: '1',
  };
  const startApi = async (): Promise<WizardProc> => {
    const p = spawnWizard(['api', '--port', String(port)], env, 'api');
    await p.waitForOutput(/api listening/);
    return p;
  };
  let api = await startApi();
  const bot = spawnWizard(['bot', '--name', 'steady'], env, 'bot');
  await bot.waitForOutput(/registered/);
  const [jobId] = (await http<{ job_ids: string[] }>('POST', `${apiUrl}/jobs/populate`, {}, admin)).body.job_ids;
  await waitUntil(
    async () => (await http<JobView>('GET', `${apiUrl}/jobs/${jobId}`)).body.state === 'PROGRESS',
    10_000,
    'the bot to start the job',
  );

  expect(await api.kill('SIGKILL')).toBe('SIGKILL');
  await new Promise((r) => setTimeout(r, 2000)); // the job ends while the API is away
  api = await startApi();
  const done = await waitUntil(
    async () => {
      const j = (await http<JobView>('GET', `${apiUrl}/jobs/${jobId}`)).body;
      return j.state === 'SUCCESS' ? j : null;
    },
    15_000,
    'the job to be reported done',
    100,
  );
  const [first] = (await http<{ bots: BotView[] }>('GET', `${apiUrl}/bots`)).body.bots;
  expect(done).toMatchObject({ attempts: 1, handled_by: first.bot_id });

  expect((await http('DELETE', `${apiUrl}/bots/${first.bot_id}`, undefined, admin)).status).toBe(204);
  const again = await waitUntil(
    async () => (await http<{ bots: BotView[] }>('GET', `${apiUrl}/bots`)).body.bots.find((b) => b.name === 'steady'),
    10_000,
    'the bot to register again',
  );
  expect(again.bot_id).not.toBe(first.bot_id);
  expect(bot.output()).toMatch(/the API does not know this bot: registering again/);

  expect(await bot.kill('SIGTERM')).toBe(0);
  expect((await http<{ bots: BotView[] }>('GET', `${apiUrl}/bots`)).body.bots).toEqual([]);
  expect(await api.kill('SIGTERM')).toBe(0);
}, 60_000);
