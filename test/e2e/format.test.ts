/**
 * A prefix's format version ({prefix}:format), with real processes: a role says which Redis and
 * prefix it joined and whether they were new; one written by a newer wizard is refused (exit 2,
 * one line); format 1 (the queued PENDING and STARTED jobs in the state indexes) is migrated by
 * the first role that comes; `healthcheck --role worker` is not healthy where no role joined.
 */
import { createClient } from 'redis';
import { FORMAT_VERSION } from '../../src/store/format';
import { redisKeys } from '../../src/store/keys';
import { RedisStore } from '../../src/store/redis';
import { testPrefix, testRedisUrl } from '../helpers/env';
import { http, killAll, runWizard, spawnWizard } from '../helpers/procs';
import { sleep } from '../../src/util/time';

type Raw = ReturnType<typeof createClient>;
let raw: Raw;

beforeAll(async () => {
  raw = createClient({ url: testRedisUrl() });
  await raw.connect();
});

afterAll(async () => {
  await killAll();
  raw.destroy();
});

/** a real `wizard api` on the prefix, answering (so it has installed its SIGTERM handler too) */
async function apiOn(prefix: string, name: string) {
  const proc = spawnWizard(['api', '--port', '0'], { REDIS_URL: testRedisUrl(), WIZARD_PREFIX: prefix }, name);
  const url = (await proc.waitForOutput(/"url":"http:[^"]+"/)).slice(7, -1);
  expect((await http('GET', `${url}/healthz`)).status).toBe(200);
  return { proc, url };
}

/** the JSON log records of a role's output whose msg starts with "joined" */
const joinedRecords = (out: string) =>
  out
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((r) => String(r.msg).startsWith('joined'));

test('the first role writes the format and says the prefix is new; the next says it is not; healthcheck follows the format key', async () => {
  const prefix = testPrefix('format-new');
  const env = { REDIS_URL: testRedisUrl(), WIZARD_PREFIX: prefix };
  const redisShown = testRedisUrl().replace(/\/$/, '');

  expect(runWizard(['healthcheck', '--role', 'worker', '--timeout-ms', '2000'], env)).toMatchObject({
    code: 1,
    stderr: expect.stringContaining(`no wizard data under prefix '${prefix}'`),
  });

  const first = spawnWizard(['worker', '--threads', '1'], env, 'first');
  await first.waitForOutput(/worker started/);
  expect(joinedRecords(first.output())).toEqual([
    expect.objectContaining({
      role: 'worker',
      msg: `joined a new prefix '${prefix}' at ${redisShown}`,
      redis: redisShown,
      prefix,
      format: FORMAT_VERSION,
      new: true,
    }),
  ]);
  expect(await raw.get(redisKeys(prefix).format)).toBe(String(FORMAT_VERSION));
  expect(runWizard(['healthcheck', '--role', 'worker'], env)).toMatchObject({
    code: 0,
    stdout: expect.stringMatching(/^healthy: worker/),
  });

  const second = spawnWizard(['scheduler'], env, 'second');
  await second.waitForOutput(/scheduler started/);
  expect(joinedRecords(second.output())).toEqual([
    expect.objectContaining({ role: 'scheduler', prefix, format: FORMAT_VERSION, new: false }),
  ]);
  await sleep(300); // its SIGTERM handler is installed just after the line it printed
  expect(await second.kill('SIGTERM')).toBe(0);
  expect(await first.kill('SIGTERM')).toBe(0);
}, 30_000);

test('a prefix written by a newer or an unknown format → exit 2 with one line, and nothing written', async () => {
  for (const written of [String(FORMAT_VERSION + 7), 'x1']) {
    const prefix = testPrefix('format-newer');
    await raw.set(redisKeys(prefix).format, written);
    const roles =
      written === 'x1'
        ? [['worker', '--threads', '1']]
        : [['worker', '--threads', '1'], ['api', '--port', '0'], ['scheduler']];
    for (const role of roles) {
      const { code, stdout, stderr } = runWizard(role, {
        REDIS_URL: testRedisUrl(),
        WIZARD_PREFIX: prefix,
        LOG_LEVEL: 'warn',
      });
      expect({ role: role[0], code, stdout }).toEqual({ role: role[0], code: 2, stdout: '' });
      expect(stderr.trim().split('\n')).toHaveLength(1);
      expect(stderr).toContain(`prefix '${prefix}'`);
      expect(stderr).toContain(`format ${/^\d+$/.test(written) ? written : `'${written}'`}`);
    }
    expect(await raw.keys(`{${prefix}}:*`)).toEqual([redisKeys(prefix).format]);
  }
}, 30_000);

test('format 1 (queued PENDING and STARTED jobs in the state indexes, no counters) is migrated by the first role', async () => {
  const prefix = testPrefix('format-old');
  const k = redisKeys(prefix);
  const store = await new RedisStore({ url: testRedisUrl(), prefix }).connect(); // opened as is: it joins nothing
  try {
    const tasks = await store.jobs.enqueue(
      Array.from({ length: 5 }, (_, i) => ({ type: 'task' as const, params: { a: i, b: 1, op: 'add' } })),
    );
    const { parent } = await store.jobs.enqueueFlow({
      parent: { type: 'primes', params: { n: 20_000, chunks: 2 } },
      children: [
        { type: 'primes_chunk', params: { lo: 1, hi: 10_000 } },
        { type: 'primes_chunk', params: { lo: 10_001, hi: 20_000 } },
      ],
    });
    const claimed = await store.jobs.claim('default', { consumer: 'old-worker', max: 2, leaseMs: 600_000 });
    const started = claimed.jobs.map((c) => c.job.id);
    expect(started).toHaveLength(2);
    expect(await raw.hGetAll(k.counts)).toEqual({ PENDING: '3', STARTED: '2' });
    expect(await store.reads.countByState()).toMatchObject({ PENDING: 4, STARTED: 2 });

    // the layout before the counters: every top-level job in its state's index, no counts key
    const pending = tasks.map((t) => t.id).filter((id) => !started.includes(id));
    await raw.zAdd(
      k.state('PENDING'),
      pending.map((id) => ({ score: 1, value: id })),
    );
    await raw.zAdd(
      k.state('STARTED'),
      started.map((id) => ({ score: 2, value: id })),
    );
    await raw.del([k.counts, k.format]);
    expect(await raw.zCard(k.state('PENDING'))).toBe(4); // the 3 tasks and the prime count's parent

    const { proc: api, url } = await apiOn(prefix, 'api');
    expect(joinedRecords(api.output())).toEqual([
      expect.objectContaining({ prefix, new: false, migrated_from: 1, moved: 5, format: FORMAT_VERSION }),
    ]);
    expect(await raw.get(k.format)).toBe(String(FORMAT_VERSION));
    expect(await raw.hGetAll(k.counts)).toEqual({ PENDING: '3', STARTED: '2' });
    expect(await raw.zRange(k.state('PENDING'), 0, -1)).toEqual([parent.id]); // on no queue: it stays indexed
    expect(await raw.zCard(k.state('STARTED'))).toBe(0);
    const listed = await http<{ total: number; jobs: { job_id: string }[] }>(
      'GET',
      `${url}/jobs?status=PENDING&limit=10`,
    );
    expect(listed.body.total).toBe(4);
    expect(listed.body.jobs.map((j) => j.job_id).sort()).toEqual([...pending, parent.id].sort());
    expect((await http<{ total: number }>('GET', `${url}/jobs?status=STARTED`)).body.total).toBe(2);
    expect(await api.kill('SIGTERM')).toBe(0);

    // the next role finds the newest format: nothing moves again
    const { proc: again } = await apiOn(prefix, 'again');
    expect(joinedRecords(again.output())).toEqual([expect.not.objectContaining({ migrated_from: expect.anything() })]);
    expect(await raw.hGetAll(k.counts)).toEqual({ PENDING: '3', STARTED: '2' });
    expect(await again.kill('SIGTERM')).toBe(0);
  } finally {
    await store.close();
  }
}, 30_000);

test('data with no format key in the counters layout counts as format 1 too, and migrating it moves nothing', async () => {
  const prefix = testPrefix('format-unversioned');
  const k = redisKeys(prefix);
  const store = await new RedisStore({ url: testRedisUrl(), prefix }).connect();
  try {
    await store.jobs.enqueue([{ type: 'task', params: { a: 1, b: 1, op: 'add' } }]);
    const { proc: api } = await apiOn(prefix, 'api');
    expect(joinedRecords(api.output())).toEqual([expect.objectContaining({ new: false, migrated_from: 1, moved: 0 })]);
    expect(await raw.hGetAll(k.counts)).toEqual({ PENDING: '1' });
    expect(await api.kill('SIGTERM')).toBe(0);
  } finally {
    await store.close();
  }
}, 30_000);
