/**
 * `npm run bench:primes`: prints one JSON object.
 * - kernel: the prime-counting kernel against `primesieve --threads=1` at 1e8 and 1e9;
 * - end_to_end: `submit primes --n 1e10 --chunks 64` through one api and ONE worker with 2
 *   threads, against `primesieve 1e10 --threads=2` (target: within 5x);
 * - latency: seed 002's example, n=200000 with chunks=16, submit to final SSE event, warm
 *   (seed 002 quotes ~5.2 s; target under 50 ms);
 * - spread: one count of 1e10 in 16 chunks through ONE worker of 1 thread against TWO workers of
 *   1 thread each (a worker claims a chunk only for a free thread, so the two share the count),
 *   every worker warmed first, in alternating rounds, the medians of 3 and their ratio (target:
 *   two workers take <= 0.6 of one's time). The one worker consumes queue `one`, the two queue
 *   `two`, so all three stay warm and idle ones cost nothing.
 * Knobs: BENCH_E2E_N (1e10), BENCH_LATENCY_RUNS (20), BENCH_SPREAD_N (1e10), BENCH_SPREAD_CHUNKS
 * (16), BENCH_SPREAD_ROUNDS (3), BENCH_SKIP_KERNEL=1, BENCH_SKIP_E2E=1 (end_to_end and latency),
 * BENCH_SKIP_SPREAD=1.
 */
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { readSse } from '../src/client/sse';
import { RedisStore } from '../src/store/redis';
import { killAll, spawnWizard } from '../test/helpers/procs';
import { freePort, startRedisServer } from '../test/helpers/redis-server';
import { benchKernel, KernelBenchResult, timePrimesieve } from './primes-kernel';

const SIZES = [1e8, 1e9];
const E2E_N = Number(process.env.BENCH_E2E_N ?? 1e10);
const LATENCY_RUNS = Number(process.env.BENCH_LATENCY_RUNS ?? 20);
const SPREAD_N = Number(process.env.BENCH_SPREAD_N ?? 1e10);
const SPREAD_CHUNKS = Number(process.env.BENCH_SPREAD_CHUNKS ?? 16);
const SPREAD_ROUNDS = Number(process.env.BENCH_SPREAD_ROUNDS ?? 3);

interface Final {
  state: string;
  result: { prime_count: number; duration_sec: number } | null;
}

/** POST a prime count (on `queue`: the workers' default unless given) and follow its events to the end: wall seconds and the final record */
async function countPrimes(
  api: string,
  n: number,
  chunks: number,
  queue?: string,
): Promise<{ sec: number; final: Final; jobId: string }> {
  const started = process.hrtime.bigint();
  const res = await fetch(`${api}/api/count-primes`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ n, chunks, ...(queue ? { queue } : {}) }),
  });
  const { job_id } = (await res.json()) as { job_id: string };
  let final: Final | null = null;
  for await (const ev of readSse(`${api}/api/jobs/${job_id}/events`)) final = JSON.parse(ev.data) as Final;
  const sec = Number(process.hrtime.bigint() - started) / 1e9;
  if (!final || final.state !== 'SUCCESS') throw new Error(`job ${job_id} ended in ${final?.state}`);
  return { sec, final, jobId: job_id };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** seconds for `threads` threads to count the primes up to 1e9 each, side by side: what the machine gives two workers */
async function kernelSideBySide(threads: number): Promise<number> {
  const code = `require(${JSON.stringify(require.resolve('../src/core/sieve'))}).countPrimesUpTo(1e9)`;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from(
      { length: threads },
      () => new Promise((resolve, reject) => new Worker(code, { eval: true }).on('exit', resolve).on('error', reject)),
    ),
  );
  return Number(process.hrtime.bigint() - started) / 1e9;
}
const round3 = (x: number) => Math.round(x * 1000) / 1000;

/** one worker of one thread against two of one thread each: the same count, alternating rounds, medians */
async function spread() {
  const redis = await startRedisServer();
  const port = await freePort();
  const env = { REDIS_URL: redis.url, LOG_LEVEL: 'info' };
  const store = await new RedisStore({ url: redis.url, prefix: 'wizard' }).connect();
  try {
    const api = `http://127.0.0.1:${port}`;
    const procs = [
      spawnWizard(['api', '--port', String(port), '--node-id', 'bench-api'], env),
      spawnWizard(['worker', '--threads', '1', '--queue', 'one', '--node-id', 'bench-one'], env),
      spawnWizard(['worker', '--threads', '1', '--queue', 'two', '--node-id', 'bench-two-a'], env),
      spawnWizard(['worker', '--threads', '1', '--queue', 'two', '--node-id', 'bench-two-b'], env),
    ];
    await Promise.all(procs.map((p) => p.waitForOutput(/api listening|worker started/, 120_000))); // a busy machine starts them slowly
    /**
     * the workers that ran a count's chunks: how many each, and how busy each was (the time its
     * chunks were held, from claim to recorded result, over the count's wall time: 1 is a worker
     * that never waited for a chunk, so what the ratio misses of 0.5 is the machine's cores)
     */
    const chunksBy = async (jobId: string, sec = 0) => {
      const by: Record<string, { chunks: number; busy: number }> = {};
      for (const c of await store.reads.children(jobId)) {
        const w = (by[c.handledBy!] ??= { chunks: 0, busy: 0 });
        w.chunks++;
        if (sec > 0) w.busy += (c.finishedAt! - c.startedAt!) / 1000 / sec;
      }
      for (const w of Object.values(by)) w.busy = Math.round(w.busy * 100) / 100;
      return by;
    };
    // warm every worker (its pool thread, the kernel's tables and V8's optimized code) with counts
    // of its own, until each of the two has run chunks of one
    await countPrimes(api, 1e9, 16, 'one');
    for (let i = 0; i < 5; i++) {
      if (Object.keys(await chunksBy((await countPrimes(api, 1e9, 16, 'two')).jobId)).length === 2) break;
    }
    // the machine's own ratio: the kernel on two threads at once against one (1: two free cores; 2: none)
    await kernelSideBySide(1);
    const alone = await kernelSideBySide(1);
    const paired = await kernelSideBySide(2);
    const loadBefore = os.loadavg()[0];
    const one: number[] = [];
    const two: number[] = [];
    const shares: Record<string, { chunks: number; busy: number }>[] = [];
    const counts = new Set<number>();
    for (let r = 0; r < SPREAD_ROUNDS; r++) {
      const a = await countPrimes(api, SPREAD_N, SPREAD_CHUNKS, 'one');
      const b = await countPrimes(api, SPREAD_N, SPREAD_CHUNKS, 'two');
      one.push(a.sec);
      two.push(b.sec);
      shares.push(await chunksBy(b.jobId, b.sec));
      counts.add(a.final.result!.prime_count).add(b.final.result!.prime_count);
    }
    if (counts.size !== 1) throw new Error(`the rounds counted differently: ${[...counts].join(', ')}`);
    const peer = await timePrimesieve(SPREAD_N, 1).catch(() => null);
    if (peer && !counts.has(peer.count))
      throw new Error(`counts differ: ${[...counts][0]} vs primesieve ${peer.count}`);
    return {
      spread: {
        n: SPREAD_N,
        chunks: SPREAD_CHUNKS,
        rounds: SPREAD_ROUNDS,
        prime_count: [...counts][0],
        one_worker: { threads: 1, median_sec: round3(median(one)), runs_sec: one.map(round3) },
        two_workers: { threads_each: 1, median_sec: round3(median(two)), runs_sec: two.map(round3), by_worker: shares },
        ratio: Math.round((median(two) / median(one)) * 100) / 100,
        target_ratio: '<= 0.6',
        // two workers can halve the time only where two cores are free for them: the kernel on two
        // threads side by side against one shows what the machine gave (two_threads_ratio / 2 is the best ratio it allowed)
        machine: {
          cpus: os.availableParallelism(),
          kernel_one_thread_sec: round3(alone),
          kernel_two_threads_sec: round3(paired),
          two_threads_ratio: Math.round((paired / alone) * 100) / 100,
        },
        load_average_1m: { before: Math.round(loadBefore * 10) / 10, after: Math.round(os.loadavg()[0] * 10) / 10 },
      },
    };
  } finally {
    await store.close();
    await killAll();
    await redis.destroy();
  }
}

async function endToEnd() {
  const redis = await startRedisServer();
  const port = await freePort();
  const env = { REDIS_URL: redis.url, LOG_LEVEL: 'info' };
  try {
    const api = `http://127.0.0.1:${port}`;
    const procs = [
      spawnWizard(['api', '--port', String(port), '--node-id', 'bench-api'], env),
      spawnWizard(['worker', '--threads', '2', '--node-id', 'bench-worker'], env),
    ];
    await Promise.all(procs.map((p) => p.waitForOutput(/api listening|worker started/)));
    await countPrimes(api, 1e8, 16); // warm the threads

    const big = await countPrimes(api, E2E_N, 64);
    const peer = await timePrimesieve(E2E_N, 2).catch(() => null);
    if (peer && peer.count !== big.final.result!.prime_count)
      throw new Error(`counts differ: ${big.final.result!.prime_count} vs primesieve ${peer.count}`);

    const latencies: number[] = [];
    for (let i = 0; i < LATENCY_RUNS; i++) latencies.push((await countPrimes(api, 200_000, 16)).sec * 1000);
    latencies.sort((a, b) => a - b);
    const ms = (x: number) => Math.round(x * 10) / 10;
    return {
      end_to_end: {
        n: E2E_N,
        chunks: 64,
        worker_threads: 2,
        prime_count: big.final.result!.prime_count,
        wizard_sec: Math.round(big.sec * 1000) / 1000,
        primesieve_threads2_sec: peer?.sec ?? null,
        ratio: peer ? Math.round((big.sec / peer.sec) * 100) / 100 : null,
        target_ratio: '<= 5',
      },
      latency: {
        n: 200_000,
        chunks: 16,
        runs: LATENCY_RUNS,
        p50_ms: ms(latencies[Math.floor(latencies.length / 2)]),
        max_ms: ms(latencies[latencies.length - 1]),
        seed_002_sec: 5.2,
        target_ms: '< 50',
      },
    };
  } finally {
    await killAll();
    await redis.destroy();
  }
}

async function main(): Promise<void> {
  const kernel: KernelBenchResult[] = [];
  if (!process.env.BENCH_SKIP_KERNEL) for (const n of SIZES) kernel.push(await benchKernel(n));
  const e2e = process.env.BENCH_SKIP_E2E ? {} : await endToEnd();
  const spreadResult = process.env.BENCH_SKIP_SPREAD ? {} : await spread();
  process.stdout.write(`${JSON.stringify({ kernel, ...e2e, ...spreadResult }, null, 2)}\n`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
