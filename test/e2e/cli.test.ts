/** The binary as people run it: help, exit codes, one-line usage errors, `up` with no Redis. */
import { freePort } from '../helpers/redis-server';
import { http, killAll, runWizard, spawnWizard, waitUntil } from '../helpers/procs';

afterAll(killAll);

const run = runWizard;

test('--help lists every role and client command', () => {
  const { code, stdout } = run(['--help']);
  expect(code).toBe(0);
  for (const cmd of ['api', 'worker', 'up', 'submit', 'watch', 'abacus']) expect(stdout).toMatch(new RegExp(`^  ${cmd} .*\\S`, 'm'));
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
  expect(human.stdout).not.toMatch(/\u001b\[/);
  const json = run(['submit', 'task', '--a', '1', '--b', '0', '--op', 'div', '--watch', '--json', '--api', api]);
  expect(json.code).toBe(1);
  const record = JSON.parse(json.stdout);
  expect(record).toMatchObject({ type: 'task', state: 'FAILURE', error: 'b must not be 0 for op=div', attempts: 1 });
  expect(json.stdout.trim().split('\n')).toHaveLength(1);
  // seed 004 in the same process: the scheduler's first batch and two bots, over HTTP
  const bots = await waitUntil(async () => {
    const r = await http<{ up: number; bots: { current_job: string | null }[] }>('GET', `${api}/bots`);
    return r.body.up === 2 && r.body.bots.every((b) => b.current_job) && r.body;
  }, 10_000, 'two bots at work');
  expect(bots.bots).toHaveLength(2);
  expect((await http<{ total: number }>('GET', `${api}/jobs?limit=1&status=PROGRESS`)).body.total).toBe(2);
  expect(await up.kill('SIGTERM')).toBe(0);
}, 40_000);
