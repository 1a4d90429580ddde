/**
 * npm run bench:queue: jobs/s end to end and single round-trip latency through ONE worker
 * process, for wizard and for BullMQ in the same run on the same Redis with the same
 * concurrency; then Redis memory before and after 100,000 finished tasks expire.
 * The peers run in alternating rounds (BENCH_ROUNDS, 5) and their medians are compared. Each
 * round also reads the CPU time spent per job by Redis (INFO cpu), by the worker process and by
 * this process (the producer): on a 2-core machine the three share the cores, so CPU per job is
 * what throughput comes down to.
 * Prints one JSON object. Knobs: BENCH_N (20000), BENCH_CONCURRENCY (64), BENCH_RTT (2000),
 * BENCH_MEMORY_N (100000), BENCH_REDIS_URL (default: a redis-server of its own on a free port).
 * The memory phase runs with the datalake off (--datalake none): it measures the queue.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Queue, QueueEvents } from 'bullmq';
import { createClient } from 'redis';
import { sleep } from '../src/util/time';
import { RedisStore } from '../src/store/redis';
import type { Durability } from '../src/store/types';
import { waitForSync } from '../test/helpers/redis-sentinel';
import { pairsFromInfo } from '../src/store/redis';
import { spawnWizard, WizardProc, killAll } from '../test/helpers/procs';
import { startRedisServer } from '../test/helpers/redis-server';
import { spawn } from 'node:child_process';

const N = Number(process.env.BENCH_N ?? 20_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 64);
const RTT_SAMPLES = Number(process.env.BENCH_RTT ?? 2000);
const MEMORY_N = Number(process.env.BENCH_MEMORY_N ?? 100_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const BATCH = 1000;

const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] * 1000) / 1000;
};
const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;

async function until(cond: () => Promise<boolean>, everyMs = 5, timeoutMs = 180_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}

interface Peer {
  /** seconds to push N tasks through the worker, end to end */
  throughput(round: number): Promise<number>;
  /** the worker process */
  pid: number;
  /** single round trips, ms */
  roundTrips(samples: number): Promise<number[]>;
  close(): Promise<void>;
}

async function wizardPeer(url: string, durability: Durability = 'none'): Promise<Peer> {
  const prefix = `bench-${process.pid}-${durability}`;
  const store = await new RedisStore({ url, prefix, durability }).connect();
  const worker = spawnWizard(
    ['worker', '--prefix', prefix, '--node-id', 'bench-worker', '--concurrency', String(CONCURRENCY), '--threads', '1'],
    { REDIS_URL: url, LOG_LEVEL: 'warn', WIZARD_DURABILITY: durability },
  );
  await until(async () => (await store.nodes.live('worker')).length === 1, 20);
  let done = 0;
  return {
    pid: worker.proc.pid!,
    async throughput() {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < N; i += BATCH) {
        await store.jobs.enqueue(
          Array.from({ length: Math.min(BATCH, N - i) }, (_, k) => ({
            type: 'task' as const,
            params: { a: i + k, b: 1, op: 'add' },
          })),
        );
      }
      done += N;
      await until(async () => (await store.reads.countByState()).SUCCESS >= done);
      return ms(t0) / 1000;
    },
    async roundTrips(samples) {
      const rtts: number[] = [];
      let cursor = await store.events.lastId();
      for (let i = 0; i < samples + 200; i++) {
        const s = process.hrtime.bigint();
        const [job] = await store.jobs.enqueue([{ type: 'task', params: { a: i, b: 1, op: 'add' } }]);
        for (let seen = false; !seen;) {
          const events = await store.events.read(cursor, 1000);
          if (events.length) cursor = events[events.length - 1].id;
          seen = events.some((e) => e.jobId === job.id && e.state === 'SUCCESS');
        }
        if (i >= 200) rtts.push(ms(s));
      }
      return rtts;
    },
    async close() {
      await worker.kill('SIGTERM');
      await store.close();
    },
  };
}

async function bullmqPeer(url: string): Promise<Peer> {
  const u = new URL(url);
  const connection = { host: u.hostname, port: Number(u.port || 6379) };
  const name = `bench-bullmq-${process.pid}`;
  const queue = new Queue(name, { connection });
  const events = new QueueEvents(name, { connection });
  await events.waitUntilReady();
  const proc = spawn(process.execPath, [path.join(__dirname, 'bullmq-worker.js'), url, name, String(CONCURRENCY)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve) =>
    proc.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve()),
  );
  let done = 0;
  return {
    pid: proc.pid!,
    async throughput() {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < N; i += BATCH) {
        await queue.addBulk(
          Array.from({ length: Math.min(BATCH, N - i) }, (_, k) => ({ name: 'add', data: { a: i + k, b: 1 } })),
        );
      }
      done += N;
      await until(async () => (await queue.getCompletedCount()) >= done);
      return ms(t0) / 1000;
    },
    async roundTrips(samples) {
      const rtts: number[] = [];
      for (let i = 0; i < samples + 200; i++) {
        const s = process.hrtime.bigint();
        const job = await queue.add('add', { a: i, b: 1 });
        await job.waitUntilFinished(events);
        if (i >= 200) rtts.push(ms(s));
      }
      return rtts;
    },
    async close() {
      proc.kill('SIGTERM');
      await queue.obliterate({ force: true });
      await Promise.all([queue.close(), events.close()]);
    },
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** CPU time (ms) a process has used so far: /proc on Linux, else 0 (the figure is then left out) */
function processCpuMs(pid: number): number {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}
const CLOCK_TICKS = 100;

type CpuPerJob = { redis: number; worker: number; producer: number };

/** the two peers in alternating rounds, so both see the same machine; medians are compared */
async function compare(url: string) {
  const raw = createClient({ url });
  await raw.connect();
  const redisCpuMs = async () => {
    const info = pairsFromInfo(await raw.info('cpu'));
    return (Number(info.used_cpu_sys) + Number(info.used_cpu_user)) * 1000;
  };
  const peers = { wizard: await wizardPeer(url), bullmq: await bullmqPeer(url) };
  const runs: Record<keyof typeof peers, number[]> = { wizard: [], bullmq: [] };
  const cpu: Record<keyof typeof peers, CpuPerJob[]> = { wizard: [], bullmq: [] };
  for (let r = 0; r < ROUNDS; r++) {
    for (const name of ['wizard', 'bullmq'] as const) {
      const [redis0, worker0, me0] = [await redisCpuMs(), processCpuMs(peers[name].pid), process.cpuUsage()];
      runs[name].push(Math.round(N / (await peers[name].throughput(r))));
      const me = process.cpuUsage(me0);
      const perJob = (ms: number) => Math.round((ms * 1000 * 10) / N) / 10;
      cpu[name].push({
        redis: perJob((await redisCpuMs()) - redis0),
        worker: perJob(processCpuMs(peers[name].pid) - worker0),
        producer: perJob((me.user + me.system) / 1000),
      });
    }
  }
  await raw.close();
  const figures = async (name: keyof typeof peers) => {
    const rtts = await peers[name].roundTrips(RTT_SAMPLES);
    await peers[name].close();
    const cpuMedian = (k: keyof CpuPerJob) => median(cpu[name].map((c) => c[k]));
    return {
      jobs_per_sec: median(runs[name]),
      runs_jobs_per_sec: runs[name],
      cpu_us_per_job: { redis: cpuMedian('redis'), worker: cpuMedian('worker'), producer: cpuMedian('producer') },
      rtt_p50_ms: percentile(rtts, 50),
      rtt_p99_ms: percentile(rtts, 99),
    };
  };
  return { wizard: await figures('wizard'), bullmq: await figures('bullmq') };
}

/** used_memory before, and after MEMORY_N finished tasks have expired */
async function benchMemory(url: string) {
  const prefix = `bench-mem-${process.pid}`;
  const raw = createClient({ url });
  await raw.connect();
  const usedMemory = async () => Number(pairsFromInfo(await raw.info('memory')).used_memory);
  const ttl = 3000;
  const store = await new RedisStore({ url, prefix, resultTtlMs: ttl }).connect();
  // the queue's own memory: the datalake is a deliberate, retained record (30 days by default),
  // so it is off here; with it on, each finished task adds one record to its day
  await store.lake.configure({ records: 'none' });
  const worker: WizardProc = spawnWizard(
    [
      'worker',
      '--prefix',
      prefix,
      '--node-id',
      'mem-worker',
      '--concurrency',
      String(CONCURRENCY),
      '--threads',
      '1',
      '--result-ttl-ms',
      String(ttl),
      '--event-retention-ms',
      String(ttl),
      '--lease-ms',
      '2000',
    ],
    { REDIS_URL: url, LOG_LEVEL: 'warn' },
  );
  await until(async () => (await store.nodes.live('worker')).length === 1, 20);
  await store.jobs.enqueue([{ type: 'task', params: { a: 0, b: 0, op: 'add' } }]); // load the scripts
  await sleep(ttl + 2000);
  const before = await usedMemory();
  for (let i = 0; i < MEMORY_N; i += BATCH) {
    await store.jobs.enqueue(
      Array.from({ length: Math.min(BATCH, MEMORY_N - i) }, (_, k) => ({
        type: 'task' as const,
        params: { a: i + k, b: 1, op: 'add' },
      })),
    );
  }
  // finished ones start expiring before the last is done: wait for an empty queue instead of counting
  await until(async () => {
    const d = await store.queues.depth('default');
    return d.waiting + d.active + d.delayed === 0;
  }, 20);
  const peak = await usedMemory();
  await until(
    async () => (await store.reads.list({ limit: 1 })).total === 0 && (await raw.xLen(store.keys.events)) < 200,
    200,
  );
  await sleep(500);
  const after = await usedMemory();
  await worker.kill('SIGTERM');
  await store.close();
  await raw.close();
  return {
    tasks: MEMORY_N,
    used_memory_before: before,
    used_memory_peak: peak,
    used_memory_after: after,
    growth_ratio: Math.round((after / before) * 1000) / 1000,
  };
}

const sumCpu = (c: CpuPerJob) => c.redis + c.worker + c.producer;

/**
 * BENCH_DURABILITY=replica: what --durability replica costs. A master and a replica of its own
 * (on this machine: the replica's acknowledgement is a loopback round trip), the same load with
 * durability none and replica in alternating rounds; medians are compared.
 */
async function benchDurability() {
  const master = await startRedisServer();
  const replica = await startRedisServer({ extraArgs: ['--replicaof', '127.0.0.1', String(master.port)] });
  try {
    await waitForSync(replica.port);
    const peers = { none: await wizardPeer(master.url, 'none'), replica: await wizardPeer(master.url, 'replica') };
    const runs: Record<Durability, number[]> = { none: [], replica: [] };
    for (let r = 0; r < ROUNDS; r++)
      for (const d of ['none', 'replica'] as const) runs[d].push(Math.round(N / (await peers[d].throughput(r))));
    const figures = async (d: Durability) => {
      const rtts = await peers[d].roundTrips(RTT_SAMPLES);
      await peers[d].close();
      return {
        jobs_per_sec: median(runs[d]),
        runs_jobs_per_sec: runs[d],
        rtt_p50_ms: percentile(rtts, 50),
        rtt_p99_ms: percentile(rtts, 99),
      };
    };
    const none = await figures('none');
    const withReplica = await figures('replica');
    return {
      bench: 'queue-durability',
      n: N,
      concurrency: CONCURRENCY,
      rounds: ROUNDS,
      none,
      replica: withReplica,
      throughput_ratio: Math.round((withReplica.jobs_per_sec / none.jobs_per_sec) * 100) / 100,
      rtt_p50_added_ms: Math.round((withReplica.rtt_p50_ms - none.rtt_p50_ms) * 1000) / 1000,
    };
  } finally {
    await killAll();
    await replica.destroy();
    await master.destroy();
  }
}

async function main() {
  if (process.env.BENCH_DURABILITY === 'replica') {
    process.stdout.write(JSON.stringify(await benchDurability(), null, 2) + '\n');
    return;
  }
  const own = process.env.BENCH_REDIS_URL ? null : await startRedisServer();
  const url = process.env.BENCH_REDIS_URL ?? own!.url;
  try {
    const { wizard, bullmq } = await compare(url);
    const memory = MEMORY_N > 0 ? await benchMemory(url) : null;
    const out = {
      bench: 'queue',
      n: N,
      concurrency: CONCURRENCY,
      rounds: ROUNDS,
      wizard,
      bullmq,
      throughput_ratio: Math.round((wizard.jobs_per_sec / bullmq.jobs_per_sec) * 100) / 100,
      cpu_per_job_ratio: {
        redis: Math.round((wizard.cpu_us_per_job.redis / bullmq.cpu_us_per_job.redis) * 100) / 100,
        all: Math.round((sumCpu(wizard.cpu_us_per_job) / sumCpu(bullmq.cpu_us_per_job)) * 100) / 100,
      },
      rtt_p50_ratio: Math.round((wizard.rtt_p50_ms / bullmq.rtt_p50_ms) * 100) / 100,
      memory,
      targets: { throughput_ratio: '>= 2', rtt_p50_ms: '< 1', memory_growth_ratio: '<= 1.10' },
    };
    process.stdout.write(JSON.stringify(out, null, 2) + '\n');
  } finally {
    await killAll();
    await own?.destroy();
  }
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
