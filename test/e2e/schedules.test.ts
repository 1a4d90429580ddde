/**
 * Schedules across real processes: an API and two schedulers on one Redis. A schedule with
 * every_ms and one with a seconds-field cron in a time zone make exactly one job per slot, with
 * no slot missed, while the leader is SIGKILLed and the standby takes over (it makes the slots of
 * the gap, and none twice). Each job carries its schedule and slot (GET /jobs/:id); GET /schedules
 * lists seed 004's batch too; bad input is a 400 naming the field, or exit 2 naming the flag.
 * A schedule of type primes makes one prime count per slot, each with the exact count pi(n).
 */
import { testPrefix, testRedisUrl } from '../helpers/env';
import { http, killAll, runWizard, spawnWizard, waitUntil } from '../helpers/procs';
import { freePort } from '../helpers/redis-server';

afterAll(killAll);

const ADMIN = 'schedules-admin-token-0123456789';
const admin = { Authorization: `Bearer ${ADMIN}` };

interface JobView {
  job_id: string;
  type: string;
  schedule: string | null;
  slot: string | null;
  params: Record<string, unknown>;
  initiated_by: string | null;
}
interface ScheduleView {
  name: string;
  type: string;
  every_ms: number | null;
  cron: string | null;
  tz: string | null;
  size: number;
  builtin: boolean;
  created_at: string;
  next_at: string | null;
}

test('two schedulers, a leader killed: exactly one job per slot of every_ms and of cron, none missed', async () => {
  const port = await freePort();
  const api = `http://127.0.0.1:${port}`;
  const env = {
    REDIS_URL: testRedisUrl(),
    WIZARD_PREFIX: testPrefix('schedules'),
    ADMIN_TOKEN: ADMIN,
    WIZARD_LEADER_LEASE_MS: '1000',
    POPULATE_INTERVAL_MS: '600000',
    BATCH_SIZE: '2',
  };
  const apiProc = spawnWizard(['api', '--port', String(port)], env, 'api');
  await apiProc.waitForOutput(/api listening/, 30_000);
  const s1 = spawnWizard(['scheduler', '--node-id', 's1'], env, 's1');
  const s2 = spawnWizard(['scheduler', '--node-id', 's2'], env, 's2');

  const post = (body: unknown, headers = admin) =>
    http<{ error?: { details: { field: string }[] } } & ScheduleView>('POST', `${api}/schedules`, body, headers);
  const created = await post({ name: 'every-second', type: 'task', params: { a: 1, b: 2 }, every_ms: 1000 });
  expect(created.status).toBe(201);
  expect(created.body).toMatchObject({
    name: 'every-second',
    type: 'task',
    every_ms: 1000,
    cron: null,
    size: 1,
    builtin: false,
  });
  const cron = await post({
    name: 'two-seconds',
    type: 'sim',
    params: { duration_ms: 10, failure_rate: 0 },
    cron: '*/2 * * * * *',
    tz: 'Europe/Paris',
  });
  expect(cron.status).toBe(201);
  const createdAt: Record<string, string> = {
    'every-second': created.body.created_at,
    'two-seconds': cron.body.created_at,
  };

  // refused: named fields, the admin gate, a name taken, the built-in one
  const both = await post({ name: 'x', type: 'sim', every_ms: 1000, cron: '* * * * *' });
  expect([both.status, both.body.error!.details[0].field]).toEqual([400, 'every_ms']);
  const badType = await post({ name: 'x', type: 'nope', every_ms: 1000 });
  expect([badType.status, badType.body.error!.details[0].field]).toEqual([400, 'type']);
  const badParams = await post({ name: 'x', type: 'task', params: { a: 'one' }, every_ms: 1000 });
  expect([badParams.status, badParams.body.error!.details[0].field]).toEqual([400, 'params']);
  expect(
    (await post({ name: 'x', type: 'sim', every_ms: 1000 }, { Authorization: 'Bearer wrong-token-0123456789' })).status,
  ).toBe(401);
  expect((await post({ name: 'every-second', type: 'sim', every_ms: 5000 })).status).toBe(409);
  expect((await post({ name: 'seed-batch', type: 'sim', every_ms: 5000 })).status).toBe(409);
  expect((await http('DELETE', `${api}/schedules/seed-batch`, undefined, admin)).status).toBe(409);
  expect((await http('DELETE', `${api}/schedules/nope`, undefined, admin)).status).toBe(404);

  const jobs = async () => (await http<{ jobs: JobView[] }>('GET', `${api}/jobs?limit=500`)).body.jobs;
  const bySchedule = async (name: string) => {
    const slots = new Map<string, JobView[]>();
    for (const j of await jobs()) if (j.schedule === name) slots.set(j.slot!, [...(slots.get(j.slot!) ?? []), j]);
    return slots;
  };
  await waitUntil(async () => (await bySchedule('every-second')).size >= 3, 60_000, 'three slots made'); // from the schedulers' start-up on: seconds on a loaded machine
  const leaderId = (await jobs()).find((j) => j.schedule === 'every-second')!.initiated_by;
  const [leader, standby] = leaderId === 's1' ? [s1, s2] : [s2, s1];
  expect(await leader.kill('SIGKILL')).toBe('SIGKILL');
  await waitUntil(
    async () =>
      [...(await bySchedule('every-second')).values()].filter((js) => js[0].initiated_by === standby.name).length >= 3,
    60_000,
    'three slots from the standby',
  );
  // the standby makes the slots of the gap at once, so this may be soon after the kill: the 2 s cron needs its 6 s
  await waitUntil(async () => (await bySchedule('two-seconds')).size >= 3, 60_000, 'three slots of the cron');

  const listed = (await http<{ total: number; schedules: ScheduleView[] }>('GET', `${api}/schedules`)).body;
  expect(listed.schedules.map((s) => [s.name, s.builtin, s.every_ms, s.cron, s.tz, s.size])).toEqual([
    ['every-second', false, 1000, null, null, 1],
    ['seed-batch', true, 600000, null, null, 2],
    ['two-seconds', false, null, '*/2 * * * * *', 'Europe/Paris', 1],
  ]);
  expect((await http('DELETE', `${api}/schedules/every-second`, undefined, admin)).status).toBe(204);
  expect((await http('DELETE', `${api}/schedules/two-seconds`, undefined, admin)).status).toBe(204);
  await new Promise((r) => setTimeout(r, 1500)); // a tick in flight may still make the slot it was making

  for (const [name, step, min] of [
    ['every-second', 1000, 5],
    ['two-seconds', 2000, 3],
  ] as const) {
    const slots = await bySchedule(name);
    const times = [...slots.keys()].map((s) => Date.parse(s)).sort((a, b) => a - b);
    expect(times.length).toBeGreaterThanOrEqual(min);
    expect(times[0]).toBeGreaterThanOrEqual(Date.parse(createdAt[name])); // nothing from before it was added
    expect([...slots.values()].map((js) => js.length)).toEqual(times.map(() => 1)); // one job per slot
    expect(times.map((t) => t % step)).toEqual(times.map(() => 0));
    expect(times.slice(1).map((t, i) => t - times[i])).toEqual(times.slice(1).map(() => step)); // none missed, through the failover
  }
  const one = [...(await bySchedule('two-seconds')).values()][0][0];
  const read = (await http<JobView>('GET', `${api}/jobs/${one.job_id}`)).body;
  expect(read).toMatchObject({
    type: 'sim',
    schedule: 'two-seconds',
    slot: one.slot,
    params: { duration_ms: 10, failure_rate: 0, batch: one.slot },
  });

  // seed 004's batch is one built-in schedule: its jobs carry it too
  const seed = await bySchedule('seed-batch');
  expect([...seed.values()].map((js) => js.length)).toEqual([2]);

  await standby.kill('SIGTERM');
  await apiProc.kill('SIGTERM');
}, 240_000);

test('a primes schedule every second makes one prime count per slot, each with the exact pi(n)', async () => {
  const port = await freePort();
  const api = `http://127.0.0.1:${port}`;
  const env = {
    REDIS_URL: testRedisUrl(),
    WIZARD_PREFIX: testPrefix('schedules-primes'),
    ADMIN_TOKEN: ADMIN,
    WIZARD_LEADER_LEASE_MS: '1000',
    POPULATE_INTERVAL_MS: '600000',
    BATCH_SIZE: '1',
  };
  const apiProc = spawnWizard(['api', '--port', String(port)], env, 'api');
  await apiProc.waitForOutput(/api listening/);
  const scheduler = spawnWizard(['scheduler', '--node-id', 'ps1'], env, 'ps1');
  const worker = spawnWizard(['worker', '--node-id', 'pw1', '--concurrency', '4'], env, 'pw1');
  const post = (body: unknown) =>
    http<{ error?: { details: { field: string }[] } } & ScheduleView>('POST', `${api}/schedules`, body, admin);

  const small = await post({ name: 'x', type: 'primes', params: { n: 10, chunks: 2 }, every_ms: 1000 });
  expect([small.status, small.body.error!.details[0].field]).toEqual([400, 'params.n']);
  const none = await post({ name: 'x', type: 'primes', every_ms: 1000 });
  expect(none.status).toBe(400);
  const created = await post({ name: 'counts', type: 'primes', params: { n: 20000, chunks: 4 }, every_ms: 1000 });
  expect(created.status).toBe(201);
  expect(created.body).toMatchObject({
    name: 'counts',
    type: 'primes',
    params: { n: 20000, chunks: 4 },
    every_ms: 1000,
    size: 1,
    queue: 'default',
    builtin: false,
  });

  type Count = JobView & { status: string; result: { prime_count: number } | null };
  const counts = async () =>
    (await http<{ jobs: Count[] }>('GET', `${api}/jobs?limit=500`)).body.jobs.filter((j) => j.schedule === 'counts');
  await waitUntil(
    async () => (await counts()).filter((j) => j.status === 'SUCCESS').length >= 3,
    20_000,
    'three counts done',
  );
  expect((await http('DELETE', `${api}/schedules/counts`, undefined, admin)).status).toBe(204);
  await new Promise((r) => setTimeout(r, 1500)); // a tick in flight may still make the slot it was making
  await waitUntil(async () => (await counts()).every((j) => j.status === 'SUCCESS'), 20_000, 'every count done');

  const made = await counts();
  const slots = made.map((j) => Date.parse(j.slot!)).sort((a, b) => a - b);
  expect(new Set(slots).size).toBe(made.length); // one count per slot
  expect(slots.slice(1).map((t, i) => t - slots[i])).toEqual(slots.slice(1).map(() => 1000)); // none missed
  expect(made.map((j) => [j.type, j.initiated_by, j.result!.prime_count])).toEqual(
    made.map(() => ['primes', 'ps1', 2262]),
  ); // pi(20000)
  const chunks = (await http<{ chunks: unknown[] }>('GET', `${api}/jobs/${made[0].job_id}/chunks`)).body.chunks;
  expect(chunks).toHaveLength(4);

  await Promise.all([scheduler.kill('SIGTERM'), worker.kill('SIGTERM'), apiProc.kill('SIGTERM')]);
}, 60_000);

test('wizard schedules add, list and rm; bad flags exit 2 naming the flag', async () => {
  const port = await freePort();
  const api = `http://127.0.0.1:${port}`;
  const env = { REDIS_URL: testRedisUrl(), WIZARD_PREFIX: testPrefix('schedules-cli'), ADMIN_TOKEN: ADMIN };
  const apiProc = spawnWizard(['api', '--port', String(port)], env, 'api');
  await apiProc.waitForOutput(/api listening/);
  const cli = (...args: string[]) => runWizard(['schedules', ...args, '--api', api, '--token', ADMIN]);

  const both = cli('add', 'x', '--type', 'sim', '--every-ms', '5000', '--cron', '* * * * *');
  expect([both.code, both.stderr.trim()]).toEqual([2, expect.stringContaining('--every-ms')]);
  const tz = cli('add', 'x', '--type', 'sim', '--cron', '* * * * *', '--tz', 'Mars/Olympus');
  expect([tz.code, tz.stderr.trim()]).toEqual([2, expect.stringContaining('--tz')]);
  const small = cli('add', 'x', '--type', 'sim', '--every-ms', '5');
  expect([small.code, small.stderr.trim()]).toEqual([2, expect.stringContaining('--every-ms')]);

  const added = cli(
    'add',
    'nightly',
    '--type',
    'task',
    '--params',
    '{"a":2,"b":3}',
    '--cron',
    '0 3 * * *',
    '--tz',
    'Asia/Tokyo',
    '--json',
  );
  expect(added.code).toBe(0);
  expect(JSON.parse(added.stdout)).toMatchObject({
    name: 'nightly',
    cron: '0 3 * * *',
    tz: 'Asia/Tokyo',
    params: { a: 2, b: 3, op: 'add' },
    next_at: expect.stringMatching(/T18:00:00\.000Z$/),
  });
  const listed = cli('--json');
  expect(listed.code).toBe(0);
  expect(JSON.parse(listed.stdout).schedules.map((s: ScheduleView) => s.name)).toEqual(['nightly']);
  expect(cli('list').stdout).toMatch(/nightly\s.*task\s.*0 3 \* \* \* \(Asia\/Tokyo\)/);
  expect(cli('rm', 'nightly').code).toBe(0);
  const again = cli('rm', 'nightly');
  expect(again.code).not.toBe(0);
  expect(again.stderr).toMatch(/schedule nightly not found/);
  await apiProc.kill('SIGTERM');
}, 40_000);
