/**
 * Every role survives Redis being away for 30 s: the API answers 503 JSON meanwhile (never
 * hanging past a timeout), and the worker, the scheduler and a bot resume by themselves, with
 * no restart, once Redis is back.
 */
import { ownRedisServer } from '../helpers/own-redis';
import { testPrefix } from '../helpers/env';
import { http, spawnWizard, waitUntil } from '../helpers/procs';
import { freePort } from '../helpers/redis-server';
import { RedisStore } from '../../src/store/redis';

const ownRedis = ownRedisServer({ appendonly: true });
const OUTAGE_MS = Number(process.env.WIZARD_OUTAGE_MS ?? 30_000);

test(
  `every role survives a ${OUTAGE_MS / 1000} s Redis outage and resumes by itself`,
  async () => {
    const prefix = testPrefix('redis-outage');
    const env = {
      REDIS_URL: ownRedis().url,
      WIZARD_PREFIX: prefix,
      POPULATE_INTERVAL_MS: '1000',
      BATCH_SIZE: '1',
      PROCESSING_DURATION_MS: '100',
      FAILURE_RATE: '0',
      HEARTBEAT_INTERVAL_MS: '500',
      BOT_DOWN_AFTER_MS: `${OUTAGE_MS + 20_000}`,
    };
    const port = await freePort();
    const api = `http://127.0.0.1:${port}`;
    const procs = [
      spawnWizard(['api', '--port', String(port), '--node-id', 'outage-api'], env, 'api'),
      spawnWizard(['worker', '--node-id', 'outage-worker'], env, 'worker'),
      spawnWizard(['scheduler', '--node-id', 'outage-scheduler'], env, 'scheduler'),
    ];
    await procs[0].waitForOutput(/api listening/);
    procs.push(spawnWizard(['bot', '--api', api, '--name', 'outage-bot', '--poll-ms', '200'], env, 'bot'));
    const store = await new RedisStore({ url: ownRedis().url, prefix }).connect();
    const simDone = async () =>
      (await store.reads.list({ state: 'SUCCESS', limit: 500 })).jobs.filter((j) => j.type === 'sim').length;
    try {
      await waitUntil(async () => (await simDone()) > 0, 20_000, 'a first batch job done by the bot', 200);

      await ownRedis().stop(true);
      const outageEnds = Date.now() + OUTAGE_MS;
      let answered503 = 0;
      while (Date.now() < outageEnds) {
        const started = Date.now();
        const res = await http<{ error: { code: string } }>('POST', `${api}/task`, { a: 1, b: 2 });
        expect(res.status).toBe(503);
        expect(res.body.error.code).toBe('store_unavailable');
        expect(Date.now() - started).toBeLessThan(6000);
        answered503++;
        await new Promise((r) => setTimeout(r, 1000));
      }
      expect(answered503).toBeGreaterThan(3);
      await ownRedis().start();

      // the worker: a task submitted after the outage is done, without a restart
      const task = await waitUntil(
        async () => {
          const r = await http<{ task_id: string }>('POST', `${api}/task`, { a: 40, b: 2 });
          return r.status === 202 ? r.body : null;
        },
        15_000,
        'the API to accept tasks again',
        200,
      );
      const status = await waitUntil(
        async () => {
          const r = await http<{ status: string; result: number }>('GET', `${api}/tasks/${task.task_id}/status`);
          return r.body.status === 'SUCCESS' ? r.body : null;
        },
        20_000,
        'the worker to resume',
        200,
      );
      expect(status.result).toBe(42);
      // the scheduler and the bot: new batches are made and done after the outage
      const before = await simDone();
      await waitUntil(async () => (await simDone()) > before, 30_000, 'the scheduler and the bot to resume', 250);
      for (const p of procs) expect(p.proc.exitCode).toBeNull();
    } finally {
      await store.close();
    }
  },
  OUTAGE_MS + 120_000,
);
