/**
 * Prometheus's own linter takes /metrics of a real api and of a real worker (`promtool check
 * metrics`: no gauge named like a counter), and wizard_bot_heartbeat_age_seconds holds a series
 * only for the bots that exist, at most BOT_HEARTBEAT_SERIES of them.
 */
import { BOT_HEARTBEAT_SERIES } from '../../src/roles/api/routes/metrics';
import { testPrefix, testRedisUrl } from '../helpers/env';
import { freePort } from '../helpers/redis-server';
import { http, killAll, spawnWizard } from '../helpers/procs';
import { promtool } from '../helpers/promtool';

afterAll(killAll);

const heartbeatSeries = (text: string) =>
  [...text.matchAll(/^wizard_bot_heartbeat_age_seconds\{bot_id="([^"]+)"/gm)].map((m) => m[1]);

test('the api and the worker serve /metrics that promtool accepts; bot heartbeat series are bounded', async () => {
  const env = {
    REDIS_URL: testRedisUrl(),
    WIZARD_PREFIX: testPrefix('promtool'),
    ADMIN_TOKEN: 'prom-admin-token-0123456',
  };
  const [apiPort, metricsPort] = await Promise.all([freePort(), freePort()]);
  const api = spawnWizard(['api', '--port', String(apiPort)], env, 'api');
  const worker = spawnWizard(['worker', '--threads', '1', '--metrics-port', String(metricsPort)], env, 'worker');
  await Promise.all([api.waitForOutput(/listening/), worker.waitForOutput(/metrics listening/)]);
  const u = `http://127.0.0.1:${apiPort}`;

  // some of everything: a request of each kind, a task the worker runs, bots
  const task = await http<{ task_id: string }>('POST', `${u}/task`, { a: 1, b: 2 });
  expect(task.status).toBe(202);
  const ids: string[] = [];
  for (let i = 0; i < 3; i++)
    ids.push((await http<{ bot_id: string }>('POST', `${u}/bots/register`, { name: `b${i}` })).body.bot_id);
  expect(
    (await http('DELETE', `${u}/bots/${ids[0]}`, undefined, { authorization: 'Bearer prom-admin-token-0123456' }))
      .status,
  ).toBe(204);

  const apiText = (await http<string>('GET', `${u}/metrics`)).body;
  const workerText = (await http<string>('GET', `http://127.0.0.1:${metricsPort}/metrics`)).body;
  for (const text of [apiText, workerText]) {
    expect(text).toContain('nodejs_active_handles{');
    expect(text).not.toMatch(/^nodejs_active_\w+_total/m);
    expect(promtool(text)).toEqual({ code: 0, output: '' });
  }
  expect(workerText).toContain('process_cpu_seconds_total');
  // the deleted bot has no series; the two that exist have one each
  expect(heartbeatSeries(apiText).sort()).toEqual(ids.slice(1).sort());

  // many bots: the series stop at the cap, the most recent ones; wizard_bots counts them all
  const more = await Promise.all(
    Array.from({ length: BOT_HEARTBEAT_SERIES + 10 }, (_, i) =>
      http<{ bot_id: string }>('POST', `${u}/bots/register`, { name: `m${i}` }),
    ),
  );
  expect(more.every((r) => r.status === 201)).toBe(true);
  const many = (await http<string>('GET', `${u}/metrics`)).body;
  expect(new Set(heartbeatSeries(many)).size).toBe(BOT_HEARTBEAT_SERIES);
  expect(many).toMatch(new RegExp(`^wizard_bots\\{status="up"\\} ${BOT_HEARTBEAT_SERIES + 12}$`, 'm'));
  expect(promtool(many).code).toBe(0);

  expect(await worker.kill('SIGTERM')).toBe(0);
  expect(await api.kill('SIGTERM')).toBe(0);
}, 60_000);
