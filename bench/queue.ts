/**
 * npm run bench:queue: jobs/s end to end and single round-trip latency through ONE worker
 * process, for wizard and for BullMQ in the same run on the same Redis with the same
 * concurrency; then Redis memory before and after 100,000 finished tasks expire.
 * The peers run in alternating rounds (BENCH_ROUNDS, 5) and their medians are compared. Each
 * round also reads the CPU time spent per job by Redis (INFO cpu), by the worker process and by
 * this process (the producer): on a 2-core machine the three share the cores, so CPU per job is
 * what throughput comes down to.
 * The peers are the current BullMQ release (`bullmq`, with `ioredis` beside it) and 5.81 (installed
 * as `bullmq5`: as often the faster here, on less CPU per job), each configured as its docs
 * advise (bench/bullmq-worker.ts); the ratios are taken against the faster of the two in this run
 * (`peer_version` names it). BENCH_PEERS=bullmq measures the current release alone.
 * Prints one JSON object. Knobs: BENCH_N (20000), BENCH_CONCURRENCY (64), BENCH_RTT (2000),
 * BENCH_MEMORY_N (100000), BENCH_BULK_N (10000; 0: no bulk phase), BENCH_PEERS (bullmq,bullmq5),
 * BENCH_REDIS_URL (default: a redis-server of its own on a free port), BENCH_ONLY=memory (the memory phase alone),
 * BENCH_ONLY=rtt (the round trips alone: BENCH_ROUNDS rounds of BENCH_RTT each, the peers in turn, every other round
 * in the other order, every sample pooled). The bulk phase: jobs/s made
 * by one bulk of BENCH_BULK_N jobs, no worker running, wizard's POST /jobs/bulk (an API in this
 * process) and its store path (store.jobs.enqueueBulk) against each BullMQ's Queue.addBulk. The memory phase runs with the datalake on, as users run it; the bytes the
 * datalake keeps are reported apart, so the queue's own growth shows too. CPU profiles:
 * BENCH_CPU_PROF=DIR runs the worker processes under `node --cpu-prof` (queue-peers.ts); run this
 * process with `node --cpu-prof` for the producer's; `node dist/bench/cpu-prof-top.js` sums them up.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createClient } from 'redis';
import { DEFAULTS } from '../src/core/defaults';
import { lakeFiles, startDrainer } from '../src/roles/datalake/drain';
import { createLogger } from '../src/util/log';
import { sleep } from '../src/util/time';
import { RedisStore } from '../src/store/redis';
import type { Durability } from '../src/store/types';
import { waitForSync } from '../test/helpers/redis-sentinel';
import { pairsFromInfo } from '../src/store/redis';
import { spawnWizard, WizardProc, killAll } from '../test/helpers/procs';
import { startRedisServer } from '../test/helpers/redis-server';
import {
  alternatingRounds,
  benchBulk,
  fastest,
  makePeer,
  packageVersion,
  PEERS,
  Peer,
  PeerName,
  percentile,
  round2,
  RoundFigures,
  sumCpu,
  until,
  wizardPeer,
} from './queue-peers';

const N = Number(process.env.BENCH_N ?? 20_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 64);
const RTT_SAMPLES = Number(process.env.BENCH_RTT ?? 2000);
const MEMORY_N = Number(process.env.BENCH_MEMORY_N ?? 100_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const BULK_N = Number(process.env.BENCH_BULK_N ?? 10_000);
const BATCH = 1000;

/** the peers in alternating rounds (their medians), then each one's round trips */
async function compare(url: string) {
  const raw = createClient({ url });
  await raw.connect();
  const peers = new Map<PeerName, Peer>();
  for (const name of ['wizard', ...PEERS] as PeerName[])
    peers.set(name, await makePeer(name, url, { concurrency: CONCURRENCY }));
  const rounds = await alternatingRounds(raw, peers, ROUNDS, N, BATCH);
  await raw.close();
  const out: Record<string, RoundFigures & { version?: string; rtt_p50_ms: number; rtt_p99_ms: number }> = {};
  for (const [name, peer] of peers) {
    const rtts = await peer.roundTrips(RTT_SAMPLES);
    await peer.close();
    out[name] = {
      version: name === 'wizard' ? undefined : packageVersion(name),
      ...rounds.get(name)!,
      rtt_p50_ms: percentile(rtts, 50),
      rtt_p99_ms: percentile(rtts, 99),
    };
  }
  return out;
}

/**
 * the round trips alone (BENCH_ONLY=rtt): BENCH_ROUNDS rounds, each peer's BENCH_RTT round trips in
 * turn (what the machine does meanwhile falls on both; every other round in the other order),
 * their samples pooled per peer
 */
async function roundTripsOnly(url: string) {
  const peers = new Map<PeerName, Peer>();
  for (const name of ['wizard', ...PEERS] as PeerName[])
    peers.set(name, await makePeer(name, url, { concurrency: CONCURRENCY }));
  const samples = new Map<PeerName, number[]>([...peers.keys()].map((k) => [k, []]));
  // every other round in the other order: the peer that goes first in a round does better here
  for (let r = 0; r < ROUNDS; r++)
    for (const [name, peer] of r % 2 ? [...peers].reverse() : peers)
      samples.get(name)!.push(...(await peer.roundTrips(RTT_SAMPLES)));
  const out: Record<string, { version?: string; rtt_p50_ms: number; rtt_p99_ms: number }> = {};
  for (const [name, peer] of peers) {
    await peer.close();
    const rtts = samples.get(name)!;
    out[name] = {
      version: name === 'wizard' ? undefined : packageVersion(name),
      rtt_p50_ms: percentile(rtts, 50),
      rtt_p99_ms: percentile(rtts, 99),
    };
  }
  const peer = PEERS.reduce((a, b) => (out[b].rtt_p50_ms < out[a].rtt_p50_ms ? b : a));
  return {
    bench: 'queue-rtt',
    rounds: ROUNDS,
    samples: RTT_SAMPLES,
    load: os.loadavg().map((l) => Math.round(l * 100) / 100),
    ...out,
    rtt_p50_ratio: round2(out.wizard.rtt_p50_ms / out[peer].rtt_p50_ms),
    peer_version: out[peer].version,
  };
}

/**
 * used_memory before, and after MEMORY_N finished tasks have expired, with the datalake on as
 * users run it (its default) and drained as a scheduler leader drains it (here in this process, as
 * `wizard up` does): what stays of the datalake in Redis (its counters, the undrained buffer) is
 * measured apart (MEMORY USAGE of its keys), so the queue's own growth shows on its own; the
 * buffer's peak is sampled while the tasks run, and the day files' bytes are the disk it takes
 */
async function benchMemory(url: string) {
  const prefix = `bench-mem-${process.pid}`;
  const raw = createClient({ url });
  await raw.connect();
  const usedMemory = async () => Number(pairsFromInfo(await raw.info('memory')).used_memory);
  const ttl = 3000;
  const store = await new RedisStore({ url, prefix, resultTtlMs: ttl }).connect();
  const lakeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-lake-'));
  const files = lakeFiles(store, lakeDir);
  const drainer = startDrainer(store, files, {
    intervalMs: DEFAULTS.datalakeDrainMs,
    log: createLogger({ role: 'bench-drainer' }),
    active: () => true,
  });
  let bufferPeak = { entries: 0, bytes: 0 };
  const sampler = setInterval(() => {
    void Promise.all([raw.xLen(store.keys.lakeBuffer), raw.memoryUsage(store.keys.lakeBuffer, { SAMPLES: 0 })]).then(
      ([entries, bytes]) => {
        if ((bytes ?? 0) > bufferPeak.bytes) bufferPeak = { entries, bytes: bytes ?? 0 };
      },
      () => undefined,
    );
  }, 200);
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
  await until(async () => (await store.lake.backlog()) === 0, 60);
  clearInterval(sampler);
  await drainer.close();
  await sleep(500);
  const after = await usedMemory();
  const onDisk = (await files.days()).reduce((n, d) => n + fs.statSync(files.file(d.date)).size, 0);
  fs.rmSync(lakeDir, { recursive: true, force: true });
  let lake = 0;
  for await (const keys of raw.scanIterator({ MATCH: `${store.keys.base}datalake:*`, COUNT: 1000 }))
    for (const key of keys) lake += (await raw.memoryUsage(key, { SAMPLES: 0 })) ?? 0;
  await worker.kill('SIGTERM');
  await store.close();
  await raw.close();
  return {
    tasks: MEMORY_N,
    used_memory_before: before,
    used_memory_peak: peak,
    used_memory_after: after,
    datalake_bytes: lake,
    datalake_bytes_per_job: Math.round(lake / MEMORY_N),
    datalake_buffer_peak_entries: bufferPeak.entries,
    datalake_buffer_peak_bytes: bufferPeak.bytes,
    datalake_disk_bytes_per_job: Math.round(onDisk / MEMORY_N),
    growth_ratio: Math.round((after / before) * 1000) / 1000,
    growth_ratio_without_datalake: Math.round(((after - lake) / before) * 1000) / 1000,
  };
}

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
    const peers = new Map<Durability, Peer>([
      ['none', await wizardPeer(master.url, { concurrency: CONCURRENCY, durability: 'none' })],
      ['replica', await wizardPeer(master.url, { concurrency: CONCURRENCY, durability: 'replica' })],
    ]);
    const raw = createClient({ url: master.url });
    await raw.connect();
    const rounds = await alternatingRounds(raw, peers, ROUNDS, N, BATCH);
    await raw.close();
    const figures = async (d: Durability) => {
      const rtts = await peers.get(d)!.roundTrips(RTT_SAMPLES);
      await peers.get(d)!.close();
      const { jobs_per_sec, runs_jobs_per_sec } = rounds.get(d)!;
      return { jobs_per_sec, runs_jobs_per_sec, rtt_p50_ms: percentile(rtts, 50), rtt_p99_ms: percentile(rtts, 99) };
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
    if (process.env.BENCH_ONLY === 'memory') {
      process.stdout.write(JSON.stringify({ bench: 'queue', memory: await benchMemory(url) }, null, 2) + '\n');
      return;
    }
    if (process.env.BENCH_ONLY === 'rtt') {
      process.stdout.write(JSON.stringify(await roundTripsOnly(url), null, 2) + '\n');
      return;
    }
    const peers = await compare(url);
    const memory = MEMORY_N > 0 ? await benchMemory(url) : null;
    const bulk = BULK_N > 0 ? await benchBulk(url, BULK_N, ROUNDS) : null;
    const wizard = peers.wizard;
    // the ratio is taken against the fastest BullMQ measured
    const peer = fastest(PEERS, peers);
    const bullmq = peers[peer];
    const out = {
      bench: 'queue',
      n: N,
      concurrency: CONCURRENCY,
      rounds: ROUNDS,
      peer_version: bullmq.version,
      ...peers,
      throughput_ratio: round2(wizard.jobs_per_sec / bullmq.jobs_per_sec),
      cpu_per_job_ratio: {
        redis: round2(wizard.cpu_us_per_job.redis / bullmq.cpu_us_per_job.redis),
        worker: round2(wizard.cpu_us_per_job.worker / bullmq.cpu_us_per_job.worker),
        producer: round2(wizard.cpu_us_per_job.producer / bullmq.cpu_us_per_job.producer),
        all: round2(sumCpu(wizard.cpu_us_per_job) / sumCpu(bullmq.cpu_us_per_job)),
      },
      rtt_p50_ratio: round2(wizard.rtt_p50_ms / bullmq.rtt_p50_ms),
      memory,
      bulk,
      targets: {
        throughput_ratio: '>= 3',
        cpu_per_job_ratio_all: '<= 0.33',
        rtt_p50_ratio: '<= 0.8',
        memory_growth_ratio: '<= 1.10',
      },
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
