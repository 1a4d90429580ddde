/** The binary as people run it: help, exit codes, one-line usage errors, `up` with no Redis. */
import { freePort } from '../helpers/redis-server';
import { http, killAll, runWizard, runWizardAsync, spawnWizard, waitUntil, WizardProc } from '../helpers/procs';
import { sleep } from '../../src/util/time';

afterAll(killAll);

const run = runWizard;

test('--help lists every role and client command', () => {
  const { code, stdout } = run(['--help']);
  expect(code).toBe(0);
  for (const cmd of ['api', 'worker', 'up', 'submit', 'watch', 'abacus'])
    expect(stdout).toMatch(new RegExp(`^  ${cmd} .*\\S`, 'm'));
});

test('each command documents its flags with env variable and default', () => {
  const stdout = run(['worker', '--help']).stdout.replace(/\s+/g, ' ');
  expect(stdout).toContain('env: REDIS_URL');
  expect(stdout).toContain('default: "redis://127.0.0.1:6379"');
  expect(stdout).toContain('env: WIZARD_THREADS');
  expect(stdout).toContain('env: WIZARD_PREFIX');
});

test.each([
  [['api', '--port', 'abc'], '--port'],
  [['api', '--port', '70000'], '--port'],
  [['worker', '--concurrency', '0'], '--concurrency'],
  [['worker', '--redis', 'http://x'], '--redis'],
  [['api', '--bogus'], '--bogus'],
  [['submit', 'task', '--a', 'x', '--b', '1'], '--a'],
  [['submit', 'task', '--b', '1'], '--a'],
])('%j → exit 2 with one line naming %s', (args, flag) => {
  const { code, stderr, stdout } = run(args);
  expect(code).toBe(2);
  expect(stdout).toBe('');
  expect(stderr.trim().split('\n')).toHaveLength(1);
  expect(stderr).toContain(flag);
});

test.each([
  [['healthcheck', '--role', 'worker', '--timeout-ms', 'abc'], {}, '--timeout-ms'],
  [['jobs', '--status', 'FOO'], {}, '--status'],
  [['wokrer'], {}, "unknown command 'wokrer' (Did you mean worker?)"],
  [['api', '--prot', '80'], {}, "unknown option '--prot' (Did you mean --port?)"],
  [['jobs'], { LOG_LEVEL: 'loud' }, "LOG_LEVEL must be one of debug, info, warn, error, silent, got 'loud'"],
  [['worker'], { LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
])('%j %j → exit 2 with one line naming %s', (args, env, said) => {
  const { code, stderr, stdout } = run(args, env);
  expect({ code, stdout }).toEqual({ code: 2, stdout: '' });
  expect(stderr.trim().split('\n')).toHaveLength(1);
  expect(stderr).toContain(said);
});

test('a bad value from the environment is named too', () => {
  const { code, stderr } = run(['api'], { PORT: 'x' });
  expect(code).toBe(2);
  expect(stderr).toContain("env 'PORT'");
});

test('an unreachable API → exit 3 with a message naming the URL', async () => {
  const port = await freePort();
  const { code, stderr } = run(['submit', 'task', '--a', '1', '--b', '2', '--api', `http://127.0.0.1:${port}`]);
  expect(code).toBe(3);
  expect(stderr).toContain(`http://127.0.0.1:${port}`);
});

test('`up` with no Redis says so first, then serves tasks end to end', async () => {
  const port = await freePort();
  const up = spawnWizard(['up', '--port', String(port)], { REDIS_URL: '' }, 'up');
  await up.waitForOutput(/API and dashboard at/);
  expect(up.output().split('\n')[0]).toMatch(/^wizard up: .*in-memory store/);
  const api = `http://127.0.0.1:${port}`;
  const human = run(['submit', 'task', '--a', '40', '--b', '2', '--watch', '--api', api]);
  expect(human.code).toBe(0);
  expect(human.stdout).toMatch(/^SUCCESS task \S+: result 42/);
  expect(human.stdout).not.toContain('\u001b[');
  const json = run(['submit', 'task', '--a', '1', '--b', '0', '--op', 'div', '--watch', '--json', '--api', api]);
  expect(json.code).toBe(1);
  const record = JSON.parse(json.stdout);
  expect(record).toMatchObject({ type: 'task', state: 'FAILURE', error: 'b must not be 0 for op=div', attempts: 1 });
  expect(json.stdout.trim().split('\n')).toHaveLength(1);
  // seed 004 in the same process: the scheduler's first batch and two bots, over HTTP
  const bots = await waitUntil(
    async () => {
      const r = await http<{ up: number; bots: { current_job: string | null }[] }>('GET', `${api}/bots`);
      return r.body.up === 2 && r.body.bots.every((b) => b.current_job) && r.body;
    },
    10_000,
    'two bots at work',
  );
  expect(bots.bots).toHaveLength(2);
  expect((await http<{ total: number }>('GET', `${api}/jobs?limit=1&status=PROGRESS`)).body.total).toBe(2);
  expect(await up.kill('SIGTERM')).toBe(0);
}, 40_000);

describe('against a running `wizard up`', () => {
  let up: WizardProc;
  let api = '';
  const cli = (args: string[], env: Record<string, string> = {}) => run([...args, '--api', api], env);
  const cliAsync = (args: string[]) => runWizardAsync([...args, '--api', api]);
  beforeAll(async () => {
    const port = await freePort();
    // one bot whose job runs 1.5 s and heartbeats rarely, so a test can delete it mid-job
    up = spawnWizard(
      ['up', '--port', String(port), '--bots', '1', '--admin-token', 'cli-admin-token-0123456'],
      {
        REDIS_URL: '',
        PROCESSING_DURATION_MS: '1500',
        FAILURE_RATE: '0',
        HEARTBEAT_INTERVAL_MS: '60000',
        BATCH_SIZE: '1',
        POPULATE_INTERVAL_MS: '600000',
      },
      'up',
    );
    await up.waitForOutput(/API and dashboard at/);
    api = `http://127.0.0.1:${port}`;
  });
  afterAll(() => up.kill('SIGTERM'));

  test('a failed submit --watch says its failure once, on stdout', () => {
    const failed = cli(['submit', 'task', '--a', '1', '--b', '0', '--op', 'div', '--watch']);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/^FAILURE task \S+: b must not be 0 for op=div\n$/);
    expect(failed.stderr).toBe('');
  });

  test('wizard watch of a failed task says its failure once too', () => {
    const submitted = JSON.parse(cli(['submit', 'task', '--a', '1', '--b', '0', '--op', 'div', '--json']).stdout) as {
      task_id: string;
    };
    const watched = cli(['watch', submitted.task_id]);
    expect(watched.code).toBe(1);
    expect(watched.stdout).toMatch(/^FAILURE task \S+: b must not be 0 for op=div\n$/);
    expect(watched.stderr).toBe('');
  });

  test('tables: short ids unique in the table, --wide whole ones, times as "Xs ago", a page line without "(from 0)"', () => {
    // failed tasks: the bot's jobs never fail (FAILURE_RATE 0), so nothing else changes this list
    for (let i = 0; i < 3; i++)
      expect(cli(['submit', 'task', '--a', String(i), '--b', '0', '--op', 'div', '--watch']).code).toBe(1);
    const json = JSON.parse(cli(['jobs', '--status', 'FAILURE', '--json']).stdout) as {
      total: number;
      jobs: { job_id: string }[];
    };
    const { total } = json;
    expect(total).toBeGreaterThanOrEqual(3);
    const ids = json.jobs.map((j) => j.job_id);

    const table = cli(['jobs', '--status', 'FAILURE', '--limit', '2']);
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^id {8}type +state +attempts +handled by +created +duration$/); // no borders: columns two spaces apart
    expect(lines.slice(1, 3).map((l) => l.split(/\s+/)[0])).toEqual(ids.slice(0, 2).map((id) => id.slice(0, 8)));
    expect(lines[1]).toMatch(/ \d+s ago /);
    expect(lines[3]).toBe(`2 of ${total} jobs in FAILURE; next: --offset 2`);
    expect(
      cli(['jobs', '--status', 'FAILURE', '--offset', String(total - 1)])
        .stdout.trimEnd()
        .split('\n')
        .pop(),
    ).toBe(`1 of ${total} jobs in FAILURE (${total} to ${total})`);

    const wide = cli(['jobs', '--status', 'FAILURE', '--wide']).stdout.split('\n');
    expect(wide.slice(1, total + 1).map((l) => l.split(/\s+/)[0])).toEqual(ids);
  }, 120_000); // eight CLI runs one after another: near 40 s on a loaded machine

  test('errors speak the CLI: a missing admin token is "pass --token or set WIZARD_TOKEN"', () => {
    const { code, stderr } = cli(['dlq', 'list']);
    expect(code).toBe(1);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toContain('pass --token or set WIZARD_TOKEN');
    expect(stderr).not.toContain('Authorization');
    expect(cli(['dlq', 'list', '--json'], { WIZARD_TOKEN: 'cli-admin-token-0123456' }).code).toBe(0);
  });

  test('the bot does not log "job completed" for a job whose report was refused; bots show short ids', async () => {
    // a job of its own that runs a while, so the bot is deleted mid-job; one that was over before
    // the DELETE landed (a slow machine) proves nothing either way: it is tried again, longer
    for (let durationMs = 5000; ; durationMs *= 2) {
      const made = await http<{ job_ids: string[] }>(
        'POST',
        `${api}/jobs/populate`,
        { count: 1, type: 'sim', params: { duration_ms: durationMs, failure_rate: 0 } },
        { authorization: 'Bearer cli-admin-token-0123456' },
      );
      expect(made.status).toBe(201);
      const [job] = made.body.job_ids;
      const bot = await waitUntil(
        async () => {
          const r = await http<{ bots: { bot_id: string; current_job: string | null }[] }>('GET', `${api}/bots`);
          return r.body.bots.find((b) => b.current_job === job);
        },
        30_000,
        `the bot at work on ${job}`,
      );
      const [shown, wide] = await Promise.all([cliAsync(['bots']), cliAsync(['bots', '--wide'])]);
      expect(
        (
          await http('DELETE', `${api}/bots/${bot.bot_id}`, undefined, {
            authorization: 'Bearer cli-admin-token-0123456',
          })
        ).status,
      ).toBe(204);
      const said = (m: string) =>
        up
          .output()
          .split('\n')
          .some((l) => l.includes(job) && l.includes(m));
      await waitUntil(
        async () => said('report refused') || said('job completed'),
        durationMs + 30_000,
        `the bot's word on ${job}`,
      );
      // its report accepted, as this bot's: the job was over before the DELETE (and maybe before the table)
      const after = (await http<{ state: string; handled_by: string | null }>('GET', `${api}/jobs/${job}`)).body;
      if (after.state === 'SUCCESS' && after.handled_by === bot.bot_id) continue;

      const row = shown.stdout.split('\n')[1];
      expect(row.split(/\s+/).slice(0, 1)).toEqual([bot.bot_id.slice(0, 'bot-'.length + 8)]);
      expect(row).toContain(` ${job.slice(0, 8)} `);
      expect(wide.stdout).toContain(bot.bot_id);
      await sleep(300);
      const about = up
        .output()
        .split('\n')
        .filter((l) => l.includes(job))
        .map((l) => JSON.parse(l).msg as string);
      expect(about.filter((m) => /report refused|job completed|job failed/.test(m))).toEqual([
        'report refused: the job is not ours any more',
      ]);
      return;
    }
  }, 120_000);
});
