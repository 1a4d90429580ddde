/**
 * `wizard watch` across faults, with real processes: an API that restarts is waited for (exit 0
 * with the result), one that never answered fails at once (exit 3), one that stays away fails
 * after --give-up-after-ms (exit 3), and a job that vanished (Redis restarted empty) ends the
 * event stream with `event: gone` and the watch with exit 1 and a message saying so.
 */
import { ownRedisServer } from '../helpers/own-redis';
import { testPrefix } from '../helpers/env';
import { http, runWizard, spawnWizard, WizardProc } from '../helpers/procs';
import { freePort } from '../helpers/redis-server';

const ownRedis = ownRedisServer(); // no persistence: a restart comes back empty

async function cluster(name: string) {
  const port = await freePort();
  const api = `http://127.0.0.1:${port}`;
  const env = { REDIS_URL: ownRedis().url, WIZARD_PREFIX: testPrefix(name), WIZARD_API_URL: api };
  const startApi = async (): Promise<WizardProc> => {
    const p = spawnWizard(['api', '--port', String(port)], env, 'api');
    await p.waitForOutput(/api listening/, 30_000);
    return p;
  };
  /** a task nobody runs yet (no worker): it waits PENDING */
  const submit = async () => (await http<{ task_id: string }>('POST', `${api}/task`, { a: 2, b: 3 })).body.task_id;
  /** `wizard watch <id>` (or `submit --watch`), once it follows the stream (its first event reached it: it says so at debug level) */
  const following = async (args: string[]) => {
    const w = spawnWizard(args, { ...env, LOG_LEVEL: 'debug' }, args[0]);
    await w.waitForOutput(/following the job's events/, 30_000);
    return w;
  };
  const watch = async (id: string, args: string[] = []) => following(['watch', id, ...args]);
  return { api, env, startApi, submit, watch, following };
}

test('an API restarted while `wizard watch` runs: the watch reconnects and exits 0 with the result', async () => {
  const c = await cluster('watch-restart');
  let api = await c.startApi();
  const id = await c.submit();
  const watch = await c.watch(id);
  expect(await api.kill('SIGKILL')).toBe('SIGKILL');
  await new Promise((r) => setTimeout(r, 2000)); // the watch finds no API for a while
  api = await c.startApi();
  spawnWizard(['worker', '--node-id', 'watch-restart-worker'], c.env, 'worker');
  expect(await watch.exited).toBe(0);
  expect(watch.output()).toMatch(new RegExp(`^SUCCESS task ${id}: result 5`, 'm'));
  await api.kill();
}, 90_000);

test('`submit --watch` across an API restart right after the submit: it waits and exits 0 with the result', async () => {
  const c = await cluster('submit-watch-restart');
  let api = await c.startApi();
  const submit = await c.following(['submit', 'task', '--a', '20', '--b', '22', '--watch']);
  expect(await api.kill('SIGKILL')).toBe('SIGKILL');
  await new Promise((r) => setTimeout(r, 1500));
  api = await c.startApi();
  spawnWizard(['worker', '--node-id', 'submit-watch-worker'], c.env, 'worker');
  expect(await submit.exited).toBe(0);
  expect(submit.output()).toMatch(/^SUCCESS task \S+: result 42/m);
  await api.kill();
}, 90_000);

test('a wrong --api URL: exit 3 at once, naming the URL', async () => {
  const url = `http://127.0.0.1:${await freePort()}`;
  const started = Date.now();
  const { code, stderr } = runWizard(['watch', '00000000-0000-4000-8000-000000000000', '--api', url]);
  expect(code).toBe(3);
  expect(Date.now() - started).toBeLessThan(2500);
  expect(stderr.trim().split('\n')).toEqual([expect.stringContaining(url)]);
});

test('an API that stays away: exit 3 after --give-up-after-ms, saying so', async () => {
  const c = await cluster('watch-give-up');
  const api = await c.startApi();
  const id = await c.submit();
  const watch = await c.watch(id, ['--give-up-after-ms', '2000']);
  await api.kill('SIGKILL');
  const gone = Date.now();
  expect(await watch.exited).toBe(3);
  expect(Date.now() - gone).toBeGreaterThanOrEqual(2000);
  expect(Date.now() - gone).toBeLessThan(6000);
  expect(watch.output()).toMatch(/gave up after \d+ s without the API; --give-up-after-ms 2000/);
}, 60_000);

test('a job that vanished (Redis restarted empty): the stream ends with `event: gone`, the watch exits 1 saying so', async () => {
  const c = await cluster('watch-gone');
  const api = await c.startApi();
  const id = await c.submit();
  const watch = await c.watch(id);
  // the test's own stream too, read from its first event on (so it is open before Redis goes)
  const reader = (await fetch(`${c.api}/api/jobs/${id}/events`)).body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = '';
  while (!text.includes('\n\n')) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
  }
  const stream = (async () => {
    for (let r = await reader.read(); !r.done; r = await reader.read()) text += r.value;
    return text;
  })();
  await ownRedis().stop(true);
  await ownRedis().start();
  const lost = Date.now();
  expect(await watch.exited).toBe(1);
  expect(Date.now() - lost).toBeLessThan(10_000); // the next keep-alive's look at the job
  expect(watch.output()).toContain(`error: job ${id} no longer exists (its record expired, or the store lost it)`);
  await stream;
  expect(text).toMatch(/^event: state\n/);
  expect(text.trimEnd().split('\n\n').pop()).toBe(
    `event: gone\ndata: {"job_id":"${id}","message":"job ${id} no longer exists (its record expired, or the store lost it)"}`,
  );
  await api.kill();
}, 90_000);
