/**
 * `wizard bot --exec`: real bots run a real command for each job they claim, through a real API
 * and Redis. Exit 0 with JSON completes the job with it; a failing command fails the attempt with
 * its last stderr line, stdout that is not JSON with a reason saying so; a command whose job is
 * cancelled or taken back (its bot deleted, or marked down while the bot was stopped past its
 * lease) or whose bot stops is killed, and the bot goes on to its next job.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { assetPath } from '../../src/util/package-root';
import { testPrefix, testRedisUrl } from '../helpers/env';
import { http, killAll, runWizard, spawnWizard, waitUntil, WizardProc } from '../helpers/procs';
import { freePort } from '../helpers/redis-server';

afterAll(killAll);

const ADMIN = 'bot-exec-admin-token-0123456789';
const admin = { Authorization: `Bearer ${ADMIN}` };

interface JobView {
  job_id: string;
  state: string;
  result: unknown;
  error: string | null;
  attempts: number;
  handled_by: string | null;
}
interface BotView {
  bot_id: string;
  name: string;
  status: string;
  current_job: string | null;
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wizard-bot-exec-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** a fresh API on a prefix of its own, so no job of one test reaches another's bot */
async function cluster(name: string, extraEnv: Record<string, string> = {}) {
  const port = await freePort();
  const api = `http://127.0.0.1:${port}`;
  const env = {
    REDIS_URL: testRedisUrl(),
    WIZARD_PREFIX: testPrefix(name),
    WIZARD_API_URL: api,
    ADMIN_TOKEN: ADMIN,
    HEARTBEAT_INTERVAL_MS: '200',
    WIZARD_BOT_POLL_MS: '100',
    BOT_DOWN_AFTER_MS: '60000',
    ...extraEnv,
  };
  const apiProc = spawnWizard(['api', '--port', String(port)], env, `api-${name}`);
  await apiProc.waitForOutput(/api listening/);
  const populate = async (body: unknown) => {
    const r = await http<{ job_ids: string[] }>('POST', `${api}/jobs/populate`, body, admin);
    expect(r.status).toBe(201);
    return r.body.job_ids;
  };
  const job = async (id: string) => (await http<JobView>('GET', `${api}/jobs/${id}`)).body;
  /** the job once `done` says so */
  const until = (id: string, done: (j: JobView) => boolean, what: string) =>
    waitUntil(
      async () => {
        const j = await job(id);
        return done(j) ? j : null;
      },
      20_000,
      what,
    );
  const bot = (exec: string, botName: string, extra: string[] = []) =>
    spawnWizard(['bot', '--name', botName, '--exec', exec, ...extra], env, botName);
  const stop = async (...procs: WizardProc[]) => {
    for (const p of procs) await p.kill('SIGTERM');
    await apiProc.kill('SIGTERM');
  };
  const bots = async () => (await http<{ bots: BotView[] }>('GET', `${api}/bots`)).body.bots;
  return { api, env, populate, job, until, bot, stop, bots };
}

const node = (script: string) => `${JSON.stringify(process.execPath)} -e ${JSON.stringify(script)}`;

/** the process is gone (not merely a zombie: ps knows no such pid, or knows it as defunct) */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = fs.existsSync(`/proc/${pid}/stat`) ? fs.readFileSync(`/proc/${pid}/stat`, 'utf8') : '';
  return !/\) Z /.test(stat);
}

test('exit 0 with JSON completes the job with it; the command gets the params on stdin and the job in its env', async () => {
  const c = await cluster('exec-ok');
  const echo = node(
    "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{const p=JSON.parse(s);" +
      'console.log(JSON.stringify({sum:p.a+p.b,params:p,id:process.env.WIZARD_JOB_ID,type:process.env.WIZARD_JOB_TYPE,attempt:process.env.WIZARD_JOB_ATTEMPT}))})',
  );
  const bot = c.bot(echo, 'exec-ok');
  const [id] = await c.populate({ count: 1, type: 'task', params: { a: 2, b: 3 } });
  const done = await c.until(
    id,
    (j) => j.state === 'SUCCESS' || j.state === 'FAILURE' || j.state === 'RETRY',
    'the job to end',
  );
  expect(done.state).toBe('SUCCESS');
  expect(done.attempts).toBe(1);
  expect(done.result).toEqual({
    sum: 5,
    params: { a: 2, b: 3, op: 'add', batch: expect.stringMatching(/^manual-/) },
    id,
    type: 'task',
    attempt: '1',
  });
  await c.stop(bot);
}, 40_000);

/** a command that prints its whole environment as JSON: the job's result */
const DUMP_ENV = node('console.log(JSON.stringify(process.env))');
/** what /bin/sh itself puts in the environment of what it runs */
const SHELL_VARS = new Set(['PWD', 'OLDPWD', 'SHLVL', '_']);
const envNames = (result: unknown) =>
  Object.keys(result as Record<string, string>)
    .filter((k) => !SHELL_VARS.has(k))
    .sort();

test("the command gets an allow-list of the bot's environment: no token, no Redis URL, no admin token, no tokens file, unless --exec-env names one", async () => {
  const tokens = path.join(tmp, 'tokens');
  fs.writeFileSync(tokens, 'bot bot bot-exec-bot-token-0123456789\n');
  const secrets = {
    WIZARD_TOKEN: 'bot-exec-bot-token-0123456789',
    REDIS_URL: 'redis://wizard:redis-password-0123@127.0.0.1:1',
    WIZARD_TOKENS_FILE: tokens,
    ADMIN_TOKEN: ADMIN,
    SECRET_OF_THE_HOST: 'nobody-should-see-this',
  };
  const passed = {
    LANG: 'C.UTF-8',
    TZ: 'Europe/Paris',
    TRACEPARENT: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    MY_SETTING: 'on',
    OTHER: 'two',
    THIRD: '3',
  };
  const c = await cluster('exec-env');
  // one bot at a time, each with a job of its own
  const run = async (name: string, extra: string[], env: Record<string, string>) => {
    const [id] = await c.populate({ count: 1, type: 'task', params: { a: 1, b: 1 } });
    const bot = spawnWizard(
      ['bot', '--name', name, '--exec', DUMP_ENV, ...extra],
      { ...c.env, ...secrets, ...passed, ...env },
      name,
    );
    const done = await c.until(
      id,
      (j) => j.state !== 'PENDING' && j.state !== 'STARTED' && j.state !== 'PROGRESS',
      `${name} to run its job`,
    );
    await bot.kill('SIGTERM');
    expect({ name, state: done.state }).toEqual({ name, state: 'SUCCESS' });
    return { ...(done.result as Record<string, string>), id } as Record<string, string> & { id: string };
  };
  const job = ['WIZARD_JOB_ATTEMPT', 'WIZARD_JOB_ID', 'WIZARD_JOB_TYPE'];
  const { id, ...plain } = await run('exec-env-plain', [], {});
  expect(envNames(plain)).toEqual(['HOME', 'LANG', 'PATH', 'TRACEPARENT', 'TZ', ...job].sort());
  expect(plain).toMatchObject({
    LANG: 'C.UTF-8',
    TZ: 'Europe/Paris',
    TRACEPARENT: passed.TRACEPARENT,
    PATH: process.env.PATH,
    WIZARD_JOB_ID: id,
    WIZARD_JOB_TYPE: 'task',
    WIZARD_JOB_ATTEMPT: '1',
  });
  expect(JSON.stringify(plain)).not.toMatch(/bot-exec-bot-token|redis-password|nobody-should-see|bot-exec-admin/);

  const { id: _f, ...flagged } = await run(
    'exec-env-flag',
    ['--exec-env', 'MY_SETTING', '--exec-env', 'OTHER,THIRD', '--exec-env', 'NOT_SET_ANYWHERE'],
    {},
  );
  expect(envNames(flagged)).toEqual(
    ['HOME', 'LANG', 'MY_SETTING', 'OTHER', 'PATH', 'THIRD', 'TRACEPARENT', 'TZ', ...job].sort(),
  );
  expect([flagged.MY_SETTING, flagged.OTHER, flagged.THIRD]).toEqual(['on', 'two', '3']);

  const { id: _e, ...fromEnv } = await run('exec-env-var', [], { WIZARD_BOT_EXEC_ENV: 'MY_SETTING' });
  expect(envNames(fromEnv)).toEqual(['HOME', 'LANG', 'MY_SETTING', 'PATH', 'TRACEPARENT', 'TZ', ...job].sort());
  await c.stop();
}, 90_000);

test('--exec-env (and WIZARD_BOT_EXEC_ENV) takes variable names: anything else is exit 2 with one line naming the flag', () => {
  for (const r of [
    runWizard(['bot', '--exec', 'true', '--exec-env', 'MY-SETTING', '--api', 'http://127.0.0.1:9']),
    runWizard(['bot', '--exec', 'true', '--api', 'http://127.0.0.1:9'], { WIZARD_BOT_EXEC_ENV: 'A,B=1' }),
  ]) {
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([
      expect.stringContaining('--exec-env takes names of environment variables'),
    ]);
  }
});

test('a failing command fails the attempt with the last line of its stderr; stdout that is not JSON fails with a reason', async () => {
  const c = await cluster('exec-fail');
  const [failing] = await c.populate({ count: 1, type: 'task', params: { a: 1, b: 1 } });
  const bot = c.bot("echo 'starting' >&2; echo 'disk full: /var/out' >&2; exit 3", 'exec-fail');
  const failed = await c.until(failing, (j) => j.error !== null, 'the job to fail');
  expect(failed).toMatchObject({ state: expect.stringMatching(/^(RETRY|DEAD)$/), error: 'disk full: /var/out' });
  await bot.kill('SIGTERM');

  const [notJson] = await c.populate({ count: 1, type: 'task', params: { a: 1, b: 2 } });
  const prose = c.bot('echo all good', 'exec-prose');
  const refused = await c.until(notJson, (j) => j.error !== null, 'the job to fail');
  expect(refused.error).toBe("command exited 0 but its stdout is not JSON: it printed 'all good'");
  expect(refused.result).toBeNull();
  await c.stop(prose);
}, 50_000);

/**
 * a bot whose command writes its pid to a file and runs until killed, holding one sim job: the
 * bot, the job and the command's pid once it runs
 */
async function sleeping(name: string, graceMs: number, ignoreSigterm = false) {
  const c = await cluster(name);
  const pidFile = path.join(tmp, `${name}.pid`);
  const deaf = ignoreSigterm ? "process.on('SIGTERM', () => {});" : '';
  const sleeper = node(
    `${deaf} require('fs').writeFileSync(${JSON.stringify(pidFile)}, String(process.pid)); setInterval(() => {}, 1000)`,
  );
  const bot = c.bot(sleeper, name, ['--exec-grace-ms', String(graceMs)]);
  const [id] = await c.populate({ count: 1, type: 'sim', params: { duration_ms: 1000, failure_rate: 0 } });
  const pid = await waitUntil(
    async () => fs.existsSync(pidFile) && Number(fs.readFileSync(pidFile, 'utf8')),
    20_000,
    'the command to start',
  );
  expect(alive(pid)).toBe(true);
  return { c, bot, id, pid };
}

test('deleting the bot while its command runs kills the command', async () => {
  const { c, bot, id, pid } = await sleeping('exec-delete', 1000);
  const held = (await http<{ bots: BotView[] }>('GET', `${c.api}/bots`)).body.bots.find(
    (b) => b.name === 'exec-delete',
  )!;
  expect(held.current_job).toBe(id);

  expect((await http('DELETE', `${c.api}/bots/${held.bot_id}`, undefined, admin)).status).toBe(204);
  await waitUntil(async () => !alive(pid), 5_000, 'the command to be killed');
  await bot.waitForOutput(/job taken back|does not know this bot/);
  expect((await c.job(id)).state).not.toBe('SUCCESS');
  await c.stop(bot);
}, 40_000);

test('a bot that stops kills its command, SIGKILL after the grace for one that ignores SIGTERM, and gives the job back: another bot finishes it', async () => {
  const { c, bot, id, pid } = await sleeping('exec-stop', 500, true);
  expect(await bot.kill('SIGTERM')).toBe(0);
  expect(alive(pid)).toBe(false);
  const back = await c.job(id);
  expect(back).toMatchObject({ state: 'PENDING', result: null });

  const other = c.bot(`echo '{"ok":true}'`, 'exec-stop-2');
  const done = await c.until(id, (j) => j.state === 'SUCCESS', 'the other bot to finish the job');
  expect(done.result).toEqual({ ok: true });
  await c.stop(other);
}, 60_000);

test('the example bot command does a task as a real program', async () => {
  const c = await cluster('exec-example');
  const bot = c.bot(
    `${JSON.stringify(process.execPath)} ${JSON.stringify(assetPath('examples', 'bot-command', 'run-job.js'))}`,
    'exec-example',
  );
  const [id] = await c.populate({ count: 1, type: 'task', params: { a: 6, b: 7, op: 'mul' } });
  const done = await c.until(id, (j) => j.state === 'SUCCESS', 'the job to succeed');
  expect(done.result).toEqual({ result: 42, attempt: 1 });
  await c.stop(bot);
}, 40_000);

test('an empty --exec (or WIZARD_BOT_EXEC) is exit 2 with one line naming the flag', () => {
  for (const r of [
    runWizard(['bot', '--exec', '  ', '--api', 'http://127.0.0.1:9']),
    runWizard(['bot', '--api', 'http://127.0.0.1:9'], { WIZARD_BOT_EXEC: '' }),
  ]) {
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringContaining('--exec must be a command')]);
  }
});

/**
 * a command that writes its pid to <dir>/<job id>.pid, then runs until killed when its job's
 * duration_ms is above 100, or prints {"done": <job id>} at once otherwise
 */
function holder(dir: string): string {
  return node(
    "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{const p=JSON.parse(s),id=process.env.WIZARD_JOB_ID;" +
      `require('fs').writeFileSync(require('path').join(${JSON.stringify(dir)},id+'.pid'),String(process.pid));` +
      'if(p.duration_ms>100)setInterval(()=>{},1000);else console.log(JSON.stringify({done:id}))})',
  );
}

/** a job whose command holds it (see holder()) and one whose command ends at once */
const HOLD = { count: 1, type: 'sim', params: { duration_ms: 60_000, failure_rate: 0 } };
const QUICK = { count: 1, type: 'sim', params: { duration_ms: 1, failure_rate: 0 } };

/** a holder bot running a held job: the job, and the pid of its command once it runs */
async function holding(c: Awaited<ReturnType<typeof cluster>>, name: string) {
  const dir = fs.mkdtempSync(path.join(tmp, `${name}-`));
  const bot = c.bot(holder(dir), name, ['--exec-grace-ms', '1000']);
  const [id] = await c.populate(HOLD);
  const pidFile = path.join(dir, `${id}.pid`);
  const pid = await waitUntil(
    async () => fs.existsSync(pidFile) && Number(fs.readFileSync(pidFile, 'utf8')),
    20_000,
    'the command to start',
  );
  expect(alive(pid)).toBe(true);
  return { bot, id, pid, dir };
}

test('cancelling a job kills its command; the job ends CANCELLED after one attempt and the bot takes the next job', async () => {
  const c = await cluster('exec-cancel');
  const { bot, id, pid, dir } = await holding(c, 'exec-cancel');
  const r = await http<JobView>('POST', `${c.api}/jobs/${id}/cancel`, {}, admin);
  expect(r.status).toBe(200);
  expect(r.body.state).toBe('CANCELLED');
  await waitUntil(async () => !alive(pid), 10_000, 'the command to be killed');
  expect(await c.job(id)).toMatchObject({ state: 'CANCELLED', attempts: 1, result: null });

  const [next] = await c.populate(QUICK);
  const done = await c.until(
    next,
    (j) => ['SUCCESS', 'FAILURE', 'RETRY', 'DEAD'].includes(j.state),
    'the next job to end',
  );
  expect(done).toMatchObject({ state: 'SUCCESS', attempts: 1, result: { done: next } });
  expect(fs.readdirSync(dir).sort()).toEqual([`${id}.pid`, `${next}.pid`].sort());
  expect(bot.proc.exitCode).toBeNull();
  expect(await c.job(id)).toMatchObject({ state: 'CANCELLED', attempts: 1 });
  expect(bot.output()).toMatch(/abandoning it.*"job_id":"[^"]*"/);
  await c.stop(bot);
}, 60_000);

test('a bot stopped past its lease learns when it continues that its job was taken back, and kills its command', async () => {
  const c = await cluster('exec-lease', { BOT_DOWN_AFTER_MS: '1500' });
  const scheduler = spawnWizard(['scheduler'], c.env, 'exec-lease-scheduler');
  const { bot, id, pid } = await holding(c, 'exec-lease');
  const me = (await c.bots()).find((b) => b.name === 'exec-lease')!;
  expect(me.current_job).toBe(id);

  bot.proc.kill('SIGSTOP');
  try {
    const down = await waitUntil(
      async () => (await c.bots()).find((b) => b.bot_id === me.bot_id && b.status === 'down'),
      20_000,
      'the stopped bot to be marked down',
    );
    expect(down.current_job).toBeNull();
    expect(alive(pid)).toBe(true); // the bot is stopped: nobody has told its command yet
    expect((await c.job(id)).state).not.toBe('PROGRESS');
  } finally {
    bot.proc.kill('SIGCONT');
  }
  await waitUntil(async () => !alive(pid), 10_000, 'the command to be killed once the bot continues');
  await bot.waitForOutput(/job taken back|does not know this bot/);
  expect(bot.proc.exitCode).toBeNull();
  await scheduler.kill('SIGTERM');
  await c.stop(bot);
}, 60_000);

test('a simulated failure is retried by the sim policy, the same for a built-in bot and for a bot running the example command', async () => {
  const c = await cluster('exec-sim-retry');
  const example = `${JSON.stringify(process.execPath)} ${JSON.stringify(assetPath('examples', 'bot-command', 'run-job.js'))}`;
  const failing = { count: 1, type: 'sim', params: { duration_ms: 10, failure_rate: 1 } };
  const ended = (j: JobView) => ['SUCCESS', 'FAILURE', 'DEAD', 'CANCELLED'].includes(j.state);

  const builtin = spawnWizard(['bot', '--name', 'sim-builtin'], c.env, 'sim-builtin');
  const [a] = await c.populate(failing);
  const byBuiltin = await c.until(a, ended, "the built-in bot's job to end");
  await builtin.kill('SIGTERM');

  const exec = c.bot(example, 'sim-exec');
  const [b] = await c.populate(failing);
  const byCommand = await c.until(b, ended, "the command's job to end");

  // every attempt failed and was retried: 3 attempts (sim's policy), then the dead-letter queue
  expect(byBuiltin).toMatchObject({ state: 'DEAD', attempts: 3, error: 'simulated failure', result: null });
  expect(byCommand).toMatchObject({ state: 'DEAD', attempts: 3, error: 'simulated failure (attempt 3)', result: null });
  const dlq = (await http<{ jobs: JobView[] }>('GET', `${c.api}/dlq`, undefined, admin)).body.jobs.map((j) => j.job_id);
  expect(dlq.sort()).toEqual([a, b].sort());
  await c.stop(exec);
}, 60_000);

test('exit 75 (rate_limited): the job goes back to waiting, its attempt not counted, and runs again after retry_after_ms', async () => {
  const c = await cluster('exec-limited');
  const marker = path.join(tmp, 'limited-once');
  const times = path.join(tmp, 'limited-times');
  const limitedOnce = node(
    `const fs=require('fs');fs.appendFileSync(${JSON.stringify(times)},Date.now()+'\\n');` +
      `if(!fs.existsSync(${JSON.stringify(marker)})){fs.writeFileSync(${JSON.stringify(marker)},'1');` +
      `console.log(JSON.stringify({retry_after_ms:800}));console.error('429 from the API');process.exit(75)}` +
      `console.log(JSON.stringify({ok:true}))`,
  );
  const bot = c.bot(limitedOnce, 'exec-limited');
  const [id] = await c.populate({ count: 1, type: 'task', params: { a: 1, b: 1 } });
  const done = await c.until(id, (j) => ['SUCCESS', 'FAILURE', 'DEAD'].includes(j.state), 'the job to end');
  expect([done.state, done.attempts, done.result]).toEqual(['SUCCESS', 1, { ok: true }]);
  const [first, second] = fs.readFileSync(times, 'utf8').trim().split('\n').map(Number);
  expect(second - first).toBeGreaterThanOrEqual(800); // the bot queue was held that long
  await c.stop(bot);
}, 40_000);
