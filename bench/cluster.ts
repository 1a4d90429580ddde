/**
 * npm run bench:cluster: the same trivial-task load (BENCH_N tasks, enqueued in batches, run by
 * one worker process) through a Redis Cluster of 1 master and one of 3 masters, on this machine.
 * Prints one JSON object: per cluster jobs/s and each master's Redis CPU per job (INFO cpu before
 * and after, ms), and busiest_master_cpu_ratio: the busiest master's CPU per job with 3 masters
 * over the single master's (target <= 0.5: the work divides; ideal 0.33). Redis CPU, not jobs/s,
 * is what a cluster scales: on a 2-core machine the worker and this producer share the cores
 * with every master, so jobs/s says little here.
 * Knobs: BENCH_N (20000), BENCH_CONCURRENCY (64).
 */
import { createClient } from 'redis';
import { sleep } from '../src/util/time';
import { RedisStore, pairsFromInfo } from '../src/store/redis';
import { spawnWizard } from '../test/helpers/procs';
import { startRedisCluster, TestCluster } from '../test/helpers/redis-cluster';

const N = Number(process.env.BENCH_N ?? 20_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 64);
const BATCH = 500;

/** a node's Redis CPU so far (user + sys, ms) */
async function cpuMs(port: number): Promise<number> {
  const c = createClient({ url: `redis://127.0.0.1:${port}` });
  await c.connect();
  try {
    const info = pairsFromInfo(String(await c.sendCommand(['INFO', 'cpu'])));
    return (Number(info.used_cpu_user) + Number(info.used_cpu_sys)) * 1000;
  } finally {
    c.destroy();
  }
}

interface Run {
  masters: number;
  shards: number;
  jobs_per_sec: number;
  redis_cpu_ms_per_job: Record<string, number>;
}

async function runOn(cluster: TestCluster, masters: number): Promise<Run> {
  const prefix = `bench-cluster-${process.pid}`;
  const store = await new RedisStore({ url: cluster.seed, cluster: true, prefix }).connect();
  const worker = spawnWizard(
    ['worker', '--prefix', prefix, '--node-id', 'bench-worker', '--concurrency', String(CONCURRENCY), '--threads', '1'],
    { REDIS_URL: cluster.seed, LOG_LEVEL: 'warn' },
  );
  try {
    for (let t = Date.now(); (await store.nodes.live('worker')).length === 0;) {
      if (Date.now() - t > 20_000) throw new Error(`the worker did not start: ${worker.output()}`);
      await sleep(50);
    }
    const ports = (await cluster.masters()).map((m) => m.port);
    const before = await Promise.all(ports.map(cpuMs));
    const t0 = Date.now();
    for (let i = 0; i < N; i += BATCH) {
      await store.jobs.enqueue(
        Array.from({ length: Math.min(BATCH, N - i) }, (_, k) => ({
          type: 'task' as const,
          params: { a: i + k, b: 1, op: 'add' },
        })),
      );
    }
    while ((await store.reads.countByState()).SUCCESS < N) await sleep(200);
    const secs = (Date.now() - t0) / 1000;
    const after = await Promise.all(ports.map(cpuMs));
    return {
      masters,
      shards: store.shardLayout.count,
      jobs_per_sec: Math.round(N / secs),
      redis_cpu_ms_per_job: Object.fromEntries(
        ports.map((p, i) => [String(p), Math.round(((after[i] - before[i]) / N) * 10_000) / 10_000]),
      ),
    };
  } finally {
    await worker.kill('SIGTERM');
    await store.close();
  }
}

async function main(): Promise<void> {
  const runs: Run[] = [];
  for (const masters of [1, 3]) {
    const cluster = await startRedisCluster({ masters, replicas: 0 });
    try {
      runs.push(await runOn(cluster, masters));
    } finally {
      await cluster.destroy();
    }
  }
  const [one, three] = runs;
  const single = Object.values(one.redis_cpu_ms_per_job)[0];
  const busiest = Math.max(...Object.values(three.redis_cpu_ms_per_job));
  console.log(
    JSON.stringify(
      {
        n: N,
        concurrency: CONCURRENCY,
        one_master: one,
        three_masters: three,
        busiest_master_cpu_ratio: Math.round((busiest / single) * 1000) / 1000,
        target: 0.5,
      },
      null,
      2,
    ),
  );
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
