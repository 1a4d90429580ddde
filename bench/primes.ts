/**
 * `npm run bench:primes`: prints one JSON object.
 * - kernel: the prime-counting kernel against `primesieve --threads=1` at 1e8 and 1e9;
 * - end_to_end: `submit primes --n 1e10 --chunks 64` through one api and ONE worker with 2
 *   threads, against `primesieve 1e10 --threads=2` (target: within 5x);
 * - latency: seed 002's example, n=200000 with chunks=16, submit to final SSE event, warm
 *   (seed 002 quotes ~5.2 s; target under 50 ms).
 * Knobs: BENCH_E2E_N (1e10), BENCH_LATENCY_RUNS (20), BENCH_SKIP_KERNEL=1.
 */
import { readSse } from '../src/client/sse';
import { killAll, spawnWizard } from '../test/helpers/procs';
import { freePort, startRedisServer } from '../test/helpers/redis-server';
import { benchKernel, KernelBenchResult, timePrimesieve } from './primes-kernel';

const SIZES = [1e8, 1e9];
const E2E_N = Number(process.env.BENCH_E2E_N ?? 1e10);
const LATENCY_RUNS = Number(process.env.BENCH_LATENCY_RUNS ?? 20);

interface Final {
  state: string;
  result: { prime_count: number; duration_sec: number } | null;
}

/** POST a prime count and follow its events to the end: wall seconds and the final record */
async function countPrimes(api: string, n: number, chunks: number): Promise<{ sec: number; final: Final }> {
  const started = process.hrtime.bigint();
  const res = await fetch(`${api}/api/count-primes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ n, chunks }) });
  const { job_id } = (await res.json()) as { job_id: string };
  let final: Final | null = null;
  for await (const ev of readSse(`${api}/api/jobs/${job_id}/events`)) final = JSON.parse(ev.data) as Final;
  const sec = Number(process.hrtime.bigint() - started) / 1e9;
  if (!final || final.state !== 'SUCCESS') throw new Error(`job ${job_id} ended in ${final?.state}`);
  return { sec, final };
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
    if (peer && peer.count !== big.final.result!.prime_count) throw new Error(`counts differ: ${big.final.result!.prime_count} vs primesieve ${peer.count}`);

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
  const e2e = await endToEnd();
  process.stdout.write(`${JSON.stringify({ kernel, ...e2e }, null, 2)}\n`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
