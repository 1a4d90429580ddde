/**
 * The chaos suite: a whole cluster (2 api, 3 workers, 1 scheduler, 2 bots) on one Redis with
 * appendonly, under load (500 tasks, 20 prime counts, abacus adds, scheduled bot batches), while
 * a driver SIGKILLs and restarts a random worker every few seconds, SIGKILLs Redis once and
 * starts it again, and SIGKILLs a bot. At the end every job is SUCCESS with the exact result (or
 * DEAD with its reason), the abacus sum is exact, and nothing is recorded twice.
 */
import { countPrimesUpTo } from '../../src/core/sieve';
import { RedisStore } from '../../src/store/redis';
import { testPrefix } from '../helpers/env';
import { ownRedisServer } from '../helpers/own-redis';
import { http, spawnWizard, waitUntil, WizardProc } from '../helpers/procs';
import { seededRandom } from '../helpers/prng';
import { freePort } from '../helpers/redis-server';
import { successCounts } from '../helpers/events';
import { lakeExport } from '../helpers/lake';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const random = seededRandom(42);

const ownRedis = ownRedisServer({ appendonly: true });

test('no job is lost or counted twice while workers, a bot and Redis are killed', async () => {
  const prefix = testPrefix('chaos');
  const env = {
    REDIS_URL: ownRedis().url,
    WIZARD_PREFIX: prefix,
    LOG_LEVEL: 'warn',
    ADMIN_TOKEN: 'chaos-admin-token-0123',
    POPULATE_INTERVAL_MS: '1000',
    BATCH_SIZE: '3',
    PROCESSING_DURATION_MS: '300',
    FAILURE_RATE: '0',
    HEARTBEAT_INTERVAL_MS: '300',
    BOT_DOWN_AFTER_MS: '2500',
    WIZARD_LEASE_MS: '2000',
    WIZARD_THREADS: '1',
  };
  const ports = [await freePort(), await freePort()];
  const apis = ports.map((p, i) =>
    spawnWizard(
      ['api', '--port', String(p), '--node-id', `chaos-api-${i + 1}`],
      { ...env, LOG_LEVEL: 'info' },
      `api-${i + 1}`,
    ),
  );
  await Promise.all(apis.map((a) => a.waitForOutput(/api listening/)));
  const urls = ports.map((p) => `http://127.0.0.1:${p}`);
  const anyApi = () => pick(urls);
  const pick = <T>(xs: T[]) => xs[Math.floor(random() * xs.length)];

  const workers: WizardProc[] = [1, 2, 3].map((i) =>
    spawnWizard(['worker', '--node-id', `chaos-worker-${i}`], env, `worker-${i}`),
  );
  const scheduler = spawnWizard(['scheduler', '--node-id', 'chaos-scheduler'], env, 'scheduler');
  const bots = [1, 2].map((i) =>
    spawnWizard(['bot', '--api', urls[i - 1], '--name', `chaos-bot-${i}`], env, `bot-${i}`),
  );

  const stats = {
    worker_kills: 0,
    redis_restarts: 0,
    bot_kills: 0,
    tasks: 0,
    primes: 0,
    abacus_adds: 0,
    submit_retries: 0,
  };
  const tasks = new Map<string, number>(); // id → expected result
  const primes = new Map<string, number>(); // id → expected count
  let abacusExpected = 0n;
  let redisDown = false;

  /** POST until accepted: 503 while Redis is away is retried (a new submission, tracked only once accepted) */
  const submit = async <T>(path: string, body: unknown): Promise<T> => {
    for (;;) {
      if (!redisDown) {
        const res = await http<T>('POST', `${anyApi()}${path}`, body).catch(() => null);
        if (res && res.status < 300) return res.body;
        if (res && res.status !== 503) throw new Error(`${path} answered ${res.status}: ${JSON.stringify(res.body)}`);
        stats.submit_retries++;
      }
      await sleep(100);
    }
  };

  const load = (async () => {
    const sizes = [1_000_000, 3_000_000, 10_000_000, 20_000_000, 50_000_000, 200_000_000, 1_000_000_000];
    for (let i = 0; i < 500; i++) {
      const a = Math.floor(random() * 1e6) - 5e5;
      const b = i;
      const { task_id } = await submit<{ task_id: string }>('/task', { a, b });
      tasks.set(task_id, a + b);
      if (i % 25 === 0) {
        const n = sizes[(i / 25) % sizes.length];
        const { job_id } = await submit<{ job_id: string }>('/api/count-primes', {
          n,
          chunks: 1 + Math.floor(random() * 32),
        });
        primes.set(job_id, countPrimesUpTo(n));
      }
      if (!redisDown) {
        // adds only while Redis is up: a 503 could not tell whether the add was applied
        const number = Math.floor(random() * 2e6) - 1e6;
        const res = await http<{ added: number }>('POST', `${anyApi()}/abacus/number`, { number }).catch(() => null);
        if (res?.status === 200) {
          abacusExpected += BigInt(number);
          stats.abacus_adds++;
        }
      }
      await sleep(30);
    }
  })();

  const faults = (async () => {
    const start = Date.now();
    let redisRestarted = false;
    let botKilled = false;
    while (Date.now() - start < 18_000) {
      await sleep(2500);
      const i = Math.floor(random() * workers.length);
      await workers[i].kill('SIGKILL');
      stats.worker_kills++;
      workers[i] = spawnWizard(['worker', '--node-id', `chaos-worker-${i + 1}`], env, `worker-${i + 1}`);
      if (!redisRestarted && Date.now() - start > 6000) {
        redisDown = true;
        await sleep(200); // let in-flight adds settle
        await ownRedis().stop(true);
        await sleep(3000);
        await ownRedis().start();
        redisDown = false;
        redisRestarted = true;
        stats.redis_restarts++;
      }
      if (!botKilled && Date.now() - start > 11_000) {
        await bots[0].kill('SIGKILL');
        botKilled = true;
        stats.bot_kills++;
      }
    }
  })();

  await Promise.all([load, faults]);
  stats.tasks = tasks.size;
  stats.primes = primes.size;
  await scheduler.kill('SIGTERM');

  const store = await new RedisStore({ url: ownRedis().url, prefix }).connect();
  try {
    // everything drains: every queue empty, nothing held
    await waitUntil(
      async () => {
        const [d, b] = await Promise.all([store.queues.depth('default'), store.queues.depth('bots')]);
        return d.waiting + d.active + d.delayed + b.waiting + b.active + b.delayed === 0;
      },
      60_000,
      'every queue to drain',
      250,
    );

    let lost = 0;
    let wrong = 0;
    const outcomes: string[] = [];
    for (const [id, expected] of tasks) {
      const job = await store.reads.job(id);
      if (!job) lost++;
      else if (job.state === 'DEAD') outcomes.push(`task ${id} DEAD: ${job.error}`);
      else if (job.state !== 'SUCCESS' || job.result !== expected) wrong++;
    }
    for (const [id, expected] of primes) {
      const job = await store.reads.job(id);
      if (!job) lost++;
      else if (job.state !== 'SUCCESS' || (job.result as { prime_count: number }).prime_count !== expected) {
        wrong++;
        outcomes.push(`primes ${id} ${job.state}: ${job.error ?? JSON.stringify(job.result)}`);
      }
    }
    const allJobs = (await store.reads.list({ limit: 100_000 })).jobs;
    const unfinished = allJobs.filter((j) => !['SUCCESS', 'FAILURE', 'DEAD'].includes(j.state));
    const deadWithoutReason = allJobs.filter((j) => j.state === 'DEAD' && !j.error);

    // exactly once: one SUCCESS event per job; one datalake record per job
    const successes = await successCounts(store, '0');
    const twice = [...successes.values()].filter((n) => n > 1).length;
    const lakeIds: string[] = [];
    for (const day of await store.lake.days())
      lakeIds.push(...(await lakeExport(store, day.date)).map((r) => r.job_id));
    const lakeDuplicates = lakeIds.length - new Set(lakeIds).size;
    const sum = await store.abacus.sum();

    console.table({
      ...stats,
      jobs: allJobs.length,
      lost,
      wrong,
      duplicates: twice + lakeDuplicates,
      datalake_records: lakeIds.length,
      abacus_exact: sum === abacusExpected,
    });
    expect(outcomes).toEqual([]);
    expect({ lost, wrong, unfinished: unfinished.length, deadWithoutReason: deadWithoutReason.length }).toEqual({
      lost: 0,
      wrong: 0,
      unfinished: 0,
      deadWithoutReason: 0,
    });
    expect({ successTwice: twice, lakeDuplicates }).toEqual({ successTwice: 0, lakeDuplicates: 0 });
    expect(sum).toBe(abacusExpected);
    expect(stats.worker_kills).toBeGreaterThanOrEqual(5);
    expect(stats.redis_restarts).toBe(1);
    expect(stats.bot_kills).toBe(1);
    expect(allJobs.filter((j) => j.type === 'sim').length).toBeGreaterThan(0);
  } finally {
    await store.close();
  }
}, 180_000);
