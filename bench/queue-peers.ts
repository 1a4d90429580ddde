/**
 * The two peers `bench:queue` and `bench:queue:cliffs` drive: one `wizard worker` process and one
 * BullMQ worker process (bench/bullmq-worker.ts), each fed by this process through its own
 * client (wizard's store client; BullMQ's Queue), with the same concurrency and the same trivial
 * task (a + b). Also the measuring helpers both benches share.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { createClient } from 'redis';
import { sleep } from '../src/util/time';
import { createLogger } from '../src/util/log';
import { RedisStore, pairsFromInfo } from '../src/store/redis';
import type { Durability, JobEvent } from '../src/store/types';
import { WIZARD_BIN, spawnWizard } from '../test/helpers/procs';
import { BULLMQ_PACKAGES, BullmqPackage } from './bullmq-worker';

export const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] * 1000) / 1000;
};
export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
export const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
export const round2 = (x: number) => Math.round(x * 100) / 100;

export async function until(cond: () => Promise<boolean>, everyMs = 5, timeoutMs = 600_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}

/** CPU time (ms) a process has used so far: /proc on Linux, else 0 (the figure is then left out) */
export function processCpuMs(pid: number): number {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}
const CLOCK_TICKS = 100;

/** the version of an installed package (`bullmq`, or `bullmq5` for the alias of 5.81) */
export function packageVersion(pkg: string): string {
  return JSON.parse(fs.readFileSync(require.resolve(`${pkg}/package.json`), 'utf8')).version;
}

export interface PeerOptions {
  concurrency: number;
  /** bytes of filler in each job's payload (0: the trivial a + b only) */
  payloadBytes?: number;
  /** wizard only */
  durability?: Durability;
  /** start the worker process later (startWorker), e.g. to fill the queue first */
  deferWorker?: boolean;
  /** wizard only: the jobs spread over this many groups in turn (docs/flow-control.md); absent: none */
  groups?: number;
  /** BullMQ only: its Worker's `limiter` (a rate limit over every worker of the queue) */
  limiter?: { max: number; duration: number };
}

export interface Peer {
  /** enqueue n tasks in calls of `batch`; returns when the last call has answered */
  enqueue(n: number, batch?: number): Promise<void>;
  /** resolves once `total` jobs have finished since the peer was made */
  finished(total: number): Promise<void>;
  startWorker(): Promise<void>;
  /** the worker process */
  pid(): number;
  /** single round trips, enqueue to the result in hand, ms */
  roundTrips(samples: number): Promise<number[]>;
  /** the prefix of every key the peer writes (for SCAN) */
  keyPattern: string;
  close(): Promise<void>;
}

/**
 * BENCH_CPU_PROF=DIR: the worker processes run under `node --cpu-prof` and write their profiles
 * into DIR as they exit (the producer: run the bench itself with --cpu-prof; Node refuses the
 * flag in NODE_OPTIONS). Summarise them with bench/cpu-prof-top.ts.
 */
const PROF_ARGS = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];

interface WorkerProc {
  pid: number;
  /** SIGTERM, then the exit (a profiled process writes its profile as it exits) */
  stop(): Promise<void>;
}

/** a worker process: `node [profiling flags] file args`, its stdout watched for `ready` if given */
async function spawnNode(file: string, args: string[], env: NodeJS.ProcessEnv, ready?: RegExp): Promise<WorkerProc> {
  const proc = spawn(process.execPath, [...PROF_ARGS, file, ...args], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  let out = '';
  await new Promise<void>((resolve, reject) => {
    proc.stdout!.on('data', (d: Buffer) => {
      out = (out + d.toString()).slice(-4000);
      if (ready?.test(out)) resolve();
    });
    if (!ready) resolve();
    void exited.then(() => reject(new Error(`${file} exited before it was ready: ${out.slice(-2000)}`)));
  });
  return {
    pid: proc.pid!,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
}

const filler = (bytes: number) => (bytes > 0 ? { pad: 'x'.repeat(bytes) } : {});

export async function wizardPeer(url: string, o: PeerOptions): Promise<Peer> {
  const durability = o.durability ?? 'none';
  const prefix = `bench-${process.pid}-${durability}-${Math.random().toString(36).slice(2, 6)}`;
  const store = await new RedisStore({ url, prefix, durability }).connect();
  const pad = filler(o.payloadBytes ?? 0);
  let worker: WorkerProc | null = null;
  const startWorker = async () => {
    const args = ['worker', '--prefix', prefix, '--node-id', 'bench-worker', '--concurrency', String(o.concurrency)];
    const env = { REDIS_URL: url, LOG_LEVEL: 'warn', WIZARD_DURABILITY: durability };
    if (PROF_ARGS.length) {
      worker = await spawnNode(WIZARD_BIN, [...args, '--threads', '1'], { ...process.env, ...env });
    } else {
      const w = spawnWizard([...args, '--threads', '1'], env);
      worker = { pid: w.proc.pid!, stop: async () => void (await w.kill('SIGTERM')) };
    }
    await until(async () => (await store.nodes.live('worker')).length === 1, 20);
  };
  if (!o.deferWorker) await startWorker();
  return {
    keyPattern: `{${prefix}}*`,
    pid: () => worker!.pid,
    startWorker,
    async enqueue(n, batch = 1000) {
      for (let i = 0; i < n; i += batch)
        await store.jobs.enqueue(
          Array.from({ length: Math.min(batch, n - i) }, (_, k) => ({
            type: 'task' as const,
            params: { a: i + k, b: 1, op: 'add', ...pad },
            ...(o.groups ? { group: `g${(i + k) % o.groups}` } : {}),
          })),
        );
    },
    async finished(total) {
      // how many succeeded, one ZCARD a shard, as BullMQ's getCompletedCount is one (countByState
      // reads every state: ten commands a poll, 3 µs of this process's CPU a job at a poll each 5 ms)
      await until(async () => (await store.reads.list({ state: 'SUCCESS', limit: 0 })).total >= total);
    },
    async roundTrips(samples) {
      const rtts: number[] = [];
      let cursor = await store.events.lastId();
      for (let i = 0; i < samples + 200; i++) {
        const s = process.hrtime.bigint();
        const [job] = await store.jobs.enqueue([{ type: 'task', params: { a: i, b: 1, op: 'add' } }]);
        // the event log, read blocking (XREAD BLOCK): the SUCCESS event arrives without polling,
        // with the result in it (a small one), as BullMQ's waitUntilFinished hands its caller one
        let done: JobEvent | undefined;
        while (!done) {
          const events = await store.events.read(cursor, 1000);
          if (events.length) cursor = events[events.length - 1].id;
          done = events.find((e) => e.jobId === job.id && e.state === 'SUCCESS');
        }
        const result = done.result !== undefined ? done.result : (await store.reads.job(job.id))?.result;
        if (result !== i + 1) throw new Error(`job ${job.id}: result ${JSON.stringify(result)}`);
        if (i >= 200) rtts.push(ms(s));
      }
      return rtts;
    },
    async close() {
      await worker?.stop();
      await store.close();
    },
  };
}

export async function bullmqPeer(url: string, pkg: BullmqPackage, o: PeerOptions): Promise<Peer> {
  const { Queue, QueueEvents } = BULLMQ_PACKAGES[pkg];
  const u = new URL(url);
  const host = { host: u.hostname, port: Number(u.port || 6379) };
  const name = `bench-${pkg}-${process.pid}-${Math.random().toString(36).slice(2, 6)}`;
  // a producer's connection keeps ioredis's default retries (BullMQ's docs: a Queue should fail
  // fast); QueueEvents blocks (XREAD) on one of its own, made for the round trips alone: left
  // running, it read every event of a throughput round (several a job) for seconds after the
  // round, on this process's CPU and into the next round, the other peer's
  const queue = new Queue(name, { connection: host });
  const pad = filler(o.payloadBytes ?? 0);
  let worker: WorkerProc | null = null;
  const startWorker = async () => {
    const file = path.join(__dirname, 'bullmq-worker.js');
    const limiter = o.limiter ? [JSON.stringify(o.limiter)] : [];
    worker = await spawnNode(file, [url, name, String(o.concurrency), pkg, ...limiter], process.env, /ready/);
  };
  if (!o.deferWorker) await startWorker();
  return {
    keyPattern: `bull:${name}:*`,
    pid: () => worker!.pid,
    startWorker,
    async enqueue(n, batch = 1000) {
      for (let i = 0; i < n; i += batch)
        await queue.addBulk(
          Array.from({ length: Math.min(batch, n - i) }, (_, k) => ({ name: 'add', data: { a: i + k, b: 1, ...pad } })),
        );
    },
    async finished(total) {
      await until(async () => (await queue.getCompletedCount()) >= total);
    },
    async roundTrips(samples) {
      const rtts: number[] = [];
      const events = new QueueEvents(name, { connection: host });
      await events.waitUntilReady();
      try {
        for (let i = 0; i < samples + 200; i++) {
          const s = process.hrtime.bigint();
          const job = await queue.add('add', { a: i, b: 1 });
          const result = await job.waitUntilFinished(events);
          if (result !== i + 1) throw new Error(`job ${job.id}: result ${JSON.stringify(result)}`);
          if (i >= 200) rtts.push(ms(s));
        }
      } finally {
        await events.close();
      }
      return rtts;
    },
    async close() {
      await worker?.stop();
      await queue.obliterate({ force: true });
      await queue.close();
    },
  };
}

export type PeerName = 'wizard' | BullmqPackage;

/** the BullMQs to measure (BENCH_PEERS): the current release and 5.81, which measured a little faster */
export const PEERS = (process.env.BENCH_PEERS ?? 'bullmq,bullmq5').split(',').filter(Boolean) as BullmqPackage[];

export function makePeer(name: PeerName, url: string, o: PeerOptions): Promise<Peer> {
  return name === 'wizard' ? wizardPeer(url, o) : bullmqPeer(url, name, o);
}

/** Redis's own CPU time so far (ms), from INFO cpu */
export async function redisCpuMs(raw: ReturnType<typeof createClient>): Promise<number> {
  const info = pairsFromInfo(await raw.info('cpu'));
  return (Number(info.used_cpu_sys) + Number(info.used_cpu_user)) * 1000;
}

export type CpuPerJob = { redis: number; worker: number; producer: number };
export const sumCpu = (c: CpuPerJob) => c.redis + c.worker + c.producer;

/**
 * run `work` (which finishes n jobs) and answer its jobs/s and the CPU per job (µs) spent by
 * Redis, by the peer's worker process and by this process
 */
export async function measured(
  raw: ReturnType<typeof createClient>,
  peer: Peer,
  n: number,
  work: () => Promise<void>,
): Promise<{ jobsPerSec: number; cpu: CpuPerJob }> {
  const [redis0, worker0, me0] = [await redisCpuMs(raw), processCpuMs(peer.pid()), process.cpuUsage()];
  const t0 = process.hrtime.bigint();
  await work();
  const seconds = ms(t0) / 1000;
  const me = process.cpuUsage(me0);
  const perJob = (cpuMs: number) => Math.round((cpuMs * 1000 * 10) / n) / 10;
  return {
    jobsPerSec: Math.round(n / seconds),
    cpu: {
      redis: perJob((await redisCpuMs(raw)) - redis0),
      worker: perJob(processCpuMs(peer.pid()) - worker0),
      producer: perJob((me.user + me.system) / 1000),
    },
  };
}

export interface RoundFigures {
  jobs_per_sec: number;
  runs_jobs_per_sec: number[];
  cpu_us_per_job: CpuPerJob;
}

/**
 * the peers in alternating rounds, so all see the same machine: each round pushes n more tasks
 * through each peer end to end (enqueued in calls of `batch`, then until all have finished);
 * answers each peer's medians
 */
export async function alternatingRounds<K extends string>(
  raw: ReturnType<typeof createClient>,
  peers: Map<K, Peer>,
  rounds: number,
  n: number,
  batch: number,
): Promise<Map<K, RoundFigures>> {
  const runs = new Map<K, { jobsPerSec: number; cpu: CpuPerJob }[]>([...peers.keys()].map((k) => [k, []]));
  for (let r = 0; r < rounds; r++)
    for (const [name, peer] of peers)
      runs.get(name)!.push(
        await measured(raw, peer, n, async () => {
          await peer.enqueue(n, batch);
          await peer.finished((r + 1) * n);
        }),
      );
  const out = new Map<K, RoundFigures>();
  for (const [name, rs] of runs) {
    const cpuMedian = (k: keyof CpuPerJob) => median(rs.map((x) => x.cpu[k]));
    out.set(name, {
      jobs_per_sec: median(rs.map((x) => x.jobsPerSec)),
      runs_jobs_per_sec: rs.map((x) => x.jobsPerSec),
      cpu_us_per_job: { redis: cpuMedian('redis'), worker: cpuMedian('worker'), producer: cpuMedian('producer') },
    });
  }
  return out;
}

/** the BullMQ that made the most jobs/s: the ratios are taken against it */
export function fastest<T extends { jobs_per_sec: number }>(
  peers: BullmqPackage[],
  figures: Record<string, T>,
): BullmqPackage {
  return peers.reduce((a, b) => (figures[b].jobs_per_sec > figures[a].jobs_per_sec ? b : a));
}

/**
 * the bulk phase: jobs/s made by one bulk of n task jobs (no worker running), the median of
 * `rounds`: wizard through its HTTP route (POST /jobs/bulk on an API in this process: JSON, the
 * checks, the quotas' path, the store) and through the store alone (store.jobs.enqueueBulk),
 * against each BullMQ's Queue.addBulk of the same n jobs (one call)
 */
export async function benchBulk(url: string, n: number, rounds: number): Promise<Record<string, unknown>> {
  const { startApi } = await import('../src/roles/api');
  const prefix = `bench-bulk-${process.pid}`;
  const store = await new RedisStore({ url, prefix }).connect();
  const api = await startApi(store, { nodeId: 'bench-bulk-api', port: 0, log: createLogger({}, 'silent') });
  const jobs = Array.from({ length: n }, (_, i) => ({ type: 'task', params: { a: i, b: 1, op: 'add' } }));
  const rate = async (make: () => Promise<unknown>) => {
    const s = process.hrtime.bigint();
    await make();
    return Math.round(n / (Number(process.hrtime.bigint() - s) / 1e9));
  };
  const out: Record<string, number> = {};
  const measure = async (name: string, make: () => Promise<unknown>) => {
    await make(); // warm: scripts loaded, connections made
    const rates: number[] = [];
    for (let r = 0; r < rounds; r++) rates.push(await rate(make));
    out[name] = Math.round(percentile(rates, 50));
  };
  try {
    await measure('wizard_http_jobs_per_sec', async () => {
      const res = await fetch(`${api.url}/jobs/bulk`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jobs }),
      });
      if (res.status !== 202) throw new Error(`POST /jobs/bulk: ${res.status} ${await res.text()}`);
    });
    const items = jobs.map((j) => ({ ...j, type: 'task' as const }));
    await measure('wizard_store_jobs_per_sec', () => store.jobs.enqueueBulk(items));
    const u = new URL(url);
    for (const pkg of PEERS) {
      const { Queue } = BULLMQ_PACKAGES[pkg];
      const queue = new Queue(`bench-bulk-${pkg}-${process.pid}`, {
        connection: { host: u.hostname, port: Number(u.port || 6379) },
      });
      const bulk = jobs.map((j) => ({ name: 'add', data: j.params }));
      await measure(`${pkg}_addBulk_jobs_per_sec`, () => queue.addBulk(bulk));
      await queue.obliterate({ force: true });
      await queue.close();
    }
  } finally {
    await api.close(true);
    await store.close();
  }
  const peer = Math.max(...PEERS.map((p) => out[`${p}_addBulk_jobs_per_sec`] ?? 0));
  return {
    n,
    rounds,
    ...out,
    http_ratio: round2(out.wizard_http_jobs_per_sec / peer),
    store_ratio: round2(out.wizard_store_jobs_per_sec / peer),
  };
}
