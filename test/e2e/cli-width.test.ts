/**
 * The CLI in 80 columns, not on a terminal: every line it prints, help included, fits $COLUMNS,
 * else 80; the roles' help names its groups (--help <group>, --help-all); and the rough edges a
 * newcomer met: status names in any case, paused as yes or no, intervals as people say them, a
 * day that does not exist, CANCELLED in watch's exit codes.
 */
import { Command } from 'commander';
import { buildProgram } from '../../src/cli';
import { killAll, runWizard, runWizardAsync, spawnWizard, WizardProc } from '../helpers/procs';
import { freePort } from '../helpers/redis-server';

afterAll(killAll);

/** no terminal (spawnSync's pipes), no $COLUMNS: 80 */
const NO_COLUMNS = { COLUMNS: '' };

const tooWide = (text: string, width = 80) => text.split('\n').filter((l) => l.length > width);

/** every command's words, from the program itself: [], ['api'], ['submit', 'task'], … */
function commandPaths(): string[][] {
  const out: string[][] = [];
  const walk = (c: Command, at: string[]) => {
    out.push(at);
    for (const sub of c.commands) walk(sub, [...at, sub.name()]);
  };
  walk(buildProgram(), []);
  return out;
}

describe('help', () => {
  const paths = commandPaths();

  test('there are commands to check', () => {
    expect(paths.length).toBeGreaterThan(30);
  });

  // each check is a process of its own, so they run side by side (jest's maxConcurrency at once)
  test.concurrent.each(paths.map((p) => [p.join(' ') || '(wizard)', p]))(
    '%s --help fits 80 columns, and $COLUMNS when set',
    async (_name, words) => {
      // the roles with groups: their --help-all too
      const flags = ['api', 'up', 'worker', 'scheduler'].includes((words as string[])[0])
        ? ['--help', '--help-all']
        : ['--help'];
      // $COLUMNS honoured: checked on a few (each run is a process)
      const widths = ['up', 'api', 'watch'].includes((words as string[])[0])
        ? ([
            [NO_COLUMNS, 80],
            [{ COLUMNS: '60' }, 60],
          ] as const)
        : ([[NO_COLUMNS, 80]] as const);
      const runs = flags.flatMap((flag) => widths.map(([env, width]) => ({ flag, env, width })));
      const results = await Promise.all(
        runs.map(({ flag, env }) => runWizardAsync([...(words as string[]), flag], env)),
      );
      runs.forEach(({ flag, width }, i) => {
        const r = results[i];
        expect({ flag, width, code: r.code, stderr: r.stderr, tooWide: tooWide(r.stdout, width) }).toEqual({
          flag,
          width,
          code: 0,
          stderr: '',
          tooWide: [],
        });
      });
    },
  );

  test('up --help shows the common flags and names the groups; --help <group> one group; --help-all every flag', () => {
    const short = runWizard(['up', '--help'], NO_COLUMNS).stdout;
    expect(short.split('\n').length).toBeLessThanOrEqual(45);
    for (const flag of ['--redis', '--port', '--host', '--handlers', '--bots', '--admin-token', '--help-all'])
      expect(short).toMatch(new RegExp(`^  ${flag}\\b`, 'm'));
    for (const flag of ['--redis-sentinel', '--api-tokens', '--batch-size', '--datalake'])
      expect(short).not.toMatch(new RegExp(`^  ${flag}\\b`, 'm'));
    expect(short).toContain('More options, by group (wizard up --help <group>, or --help-all):');
    expect(short).toMatch(/^ {2}store {5}Redis auth, TLS, Sentinel, shards, durability, timeouts, expiry \(16\)$/m);
    for (const g of ['security', 'batch', 'datalake']) expect(short).toMatch(new RegExp(`^  ${g} +\\S`, 'm'));

    const security = runWizard(['up', '--help', 'security'], NO_COLUMNS);
    expect(security.code).toBe(0);
    expect(security.stdout).toContain('Security options:');
    expect(security.stdout).toMatch(/^ {2}--cors-origins <list>/m);
    expect(security.stdout).not.toMatch(/^ {2}--port\b/m);

    const flagsOf = (text: string) => new Set([...text.matchAll(/^ {2}(?:-\w, )?(--[a-z][\w-]*)/gm)].map((m) => m[1]));
    const all = flagsOf(runWizard(['up', '--help-all'], NO_COLUMNS).stdout);
    const declared = buildProgram()
      .commands.find((c) => c.name() === 'up')!
      .options.map((o) => o.long!);
    expect(declared.length).toBeGreaterThan(40);
    for (const flag of declared) expect({ flag, listed: all.has(flag) }).toEqual({ flag, listed: true });
    // each flag is in the short help or in exactly one group's
    const groups = ['store', 'security', 'batch', 'datalake'].map((g) =>
      flagsOf(runWizard(['up', '--help', g], NO_COLUMNS).stdout),
    );
    for (const flag of declared)
      expect({ flag, shown: [flagsOf(short), ...groups].filter((s) => s.has(flag)).length }).toEqual({
        flag,
        shown: 1,
      });
  });

  test('a group the command has not is exit 2 naming its groups', () => {
    const r = runWizard(['worker', '--help', 'batch'], NO_COLUMNS);
    expect([r.code, r.stdout, r.stderr]).toEqual([
      2,
      '',
      'error: --help batch: wizard worker has no batch options; its groups are store (or --help-all)\n',
    ]);
  });

  test('watch --help says that CANCELLED exits 1, in lines that fit', () => {
    const r = runWizard(['watch', '--help'], NO_COLUMNS);
    expect(r.stdout.replace(/\n {5}/g, ' ')).toContain(
      '  1  the job ended in FAILURE, DEAD or CANCELLED, no longer exists (expired, or Redis lost it), or --timeout-ms passed',
    );
    expect(tooWide(r.stdout)).toEqual([]);
  });
});

describe('against a running `wizard up`, not on a terminal', () => {
  let up: WizardProc;
  let api = '';
  // a long node id: a job's result line names it (…-worker), past 80 columns
  const NODE = 'a-rather-long-node-name-for-the-eighty-column-test';
  const cli = (args: string[]) => runWizard([...args, '--api', api], NO_COLUMNS);
  beforeAll(async () => {
    const port = await freePort();
    up = spawnWizard(
      ['up', '--port', String(port), '--bots', '0', '--node-id', NODE, '--admin-token', 'width-admin-token-0123456789'],
      { REDIS_URL: '' },
      'up-width',
    );
    await up.waitForOutput(/API and dashboard at/, 30_000);
    api = `http://127.0.0.1:${port}`;
  }, 60_000);
  afterAll(() => up.kill('SIGTERM'));

  test('submit --watch and watch print lines of at most 80 characters, the whole said', () => {
    const primes = cli(['submit', 'primes', '--n', '200000', '--chunks', '16', '--watch']);
    expect(primes.code).toBe(0);
    expect(tooWide(primes.stdout)).toEqual([]);
    expect(primes.stdout.trimEnd().replace(/\n {2}/g, ' ')).toMatch(
      /^SUCCESS [0-9a-z]{16}: 17,984 primes <= 200,000 \(16 chunks\) in [\d.]+ s$/,
    );

    const task = cli(['submit', 'task', '--a', '40', '--b', '2', '--watch']);
    expect(task.code).toBe(0);
    expect(task.stdout.split('\n').length).toBeGreaterThan(2); // it was wrapped
    expect(tooWide(task.stdout)).toEqual([]);
    expect(task.stdout.trimEnd().replace(/\n {2}/g, ' ')).toMatch(
      new RegExp(`^SUCCESS task [0-9a-z]{16}: result 42 by ${NODE}-worker in \\d+ ms$`),
    );

    const id = JSON.parse(cli(['submit', 'task', '--a', '1', '--b', '1', '--json']).stdout).task_id as string;
    const watched = cli(['watch', id]);
    expect(watched.code).toBe(0);
    expect(tooWide(watched.stdout)).toEqual([]);
  });

  test('watch of a cancelled job: exit 1, CANCELLED said once', () => {
    const id = JSON.parse(cli(['submit', 'task', '--a', '1', '--b', '2', '--delay', '1h', '--json']).stdout)
      .task_id as string;
    expect(cli(['cancel', id]).code).toBe(0);
    const r = cli(['watch', id]);
    expect([r.code, r.stdout, r.stderr]).toEqual([1, `CANCELLED task ${id}: cancelled\n`, '']);
  });

  test('jobs --status takes the states and seed 004 names in any case, as the API does', () => {
    for (const [given, state] of [
      ['pending', 'PENDING'],
      ['PENDING', 'PENDING'],
      ['Claimed', 'STARTED'],
      ['completed', 'SUCCESS'],
      ['failed', 'FAILURE'],
    ]) {
      const r = cli(['jobs', '--status', given, '--json']);
      expect({ given, code: r.code, stderr: r.stderr }).toEqual({ given, code: 0, stderr: '' });
      expect({ given, status: JSON.parse(r.stdout).status }).toEqual({ given, status: state });
    }
    const bad = cli(['jobs', '--status', 'nope']);
    expect([bad.code, bad.stdout, bad.stderr.trim().split('\n')]).toEqual([
      2,
      '',
      [
        "error: option '--status <state>' argument 'nope' is invalid. --status must be one of PENDING, STARTED, PROGRESS, SUCCESS, FAILURE, RETRY, DEAD, CANCELLED, SKIPPED or claimed, processing, running, completed, failed (any case), got 'nope'",
      ],
    ]);
  });

  test('queues says paused yes or no', () => {
    // a request makes no queue: an admin declares it (issue 24)
    expect(runWizard(['queue', 'add', 'slow', '--api', api, '--token', 'width-admin-token-0123456789']).code).toBe(0);
    expect(cli(['submit', 'task', '--a', '1', '--b', '1', '--queue', 'slow', '--delay', '1h']).code).toBe(0);
    const row = (text: string) =>
      text
        .split('\n')
        .find((l) => l.startsWith('slow '))!
        .trim()
        .split(/\s+/);
    expect(row(cli(['queues']).stdout)).toEqual(['slow', '0', '0', '1', 'no']);
    expect(runWizard(['queue', 'pause', 'slow', '--api', api, '--token', 'width-admin-token-0123456789']).code).toBe(0);
    expect(row(cli(['queues']).stdout)).toEqual(['slow', '0', '0', '1', 'yes']);
  });

  test('schedules list says the batch comes every 10 min', () => {
    const r = cli(['schedules', 'list']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^seed-batch +sim +every 10 min +5 +bots /m);
    expect(r.stdout).not.toContain('600000');
  });

  test('datalake export: a day that does not exist is named so; one not written YYYY-MM-DD is told how', () => {
    const unreal = cli(['datalake', 'export', '2021-02-30']);
    expect([unreal.code, unreal.stdout, unreal.stderr]).toEqual([
      2,
      '',
      'error: <date> 2021-02-30 is not a real date\n',
    ]);
    const badly = cli(['datalake', 'export', '2021-2-3']);
    expect([badly.code, badly.stdout, badly.stderr]).toEqual([
      2,
      '',
      "error: <date> must be a day written YYYY-MM-DD, got '2021-2-3'\n",
    ]);
  });
});
