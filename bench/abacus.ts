/**
 * npm run bench:abacus: POST /abacus/number req/s and latency at BENCH_CONNECTIONS (50)
 * connections, as fast as it answers, against ONE `wizard api` process, next to a bare Express
 * route (bench/bare-abacus.ts: the same body parser, a safe-integer check, one Redis INCRBY, the
 * same reply fields; in a process of its own too), in the same run on a redis-server of the
 * bench's own. Rounds alternate bare and wizard, each after a warm-up, so that a noisy neighbour
 * hurts both alike; each also reports the server's CPU time per request, which is steadier than
 * req/s on a shared machine. In this closed loop latency is mostly queueing (Little's law:
 * mean latency = connections / req/s), so p99 follows throughput.
 * After each run the sum must have moved by exactly the adds answered 200, give or take those
 * still in flight when the clock stopped: a lost add fails the bench.
 * Prints one JSON object. Knobs: BENCH_DURATION (5 s a run), BENCH_CONNECTIONS (50),
 * BENCH_ROUNDS (3), BENCH_STRATEGY (atomic, or optimistic).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import autocannon from 'autocannon';
import { createClient } from 'redis';
import { killAll, spawnWizard, waitUntil } from '../test/helpers/procs';
import { freePort, startRedisServer } from '../test/helpers/redis-server';

const DURATION = Number(process.env.BENCH_DURATION ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const STRATEGY = process.env.BENCH_STRATEGY ?? 'atomic';
const WARMUP = 2;
const PREFIX = 'bench-abacus';

interface Target {
  url: string;
  pid: number;
  sum(): Promise<bigint>;
}

interface Saturated {
  req_per_sec: number;
  p50_ms: number;
  p99_ms: number;
  /** the server process's CPU time per answered request */
  server_cpu_ms_per_req: number | null;
  ok: number;
  non_2xx: number;
  errors: number;
}

const round2 = (x: number) => Math.round(x * 100) / 100;
const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
/** let the requests still in flight when autocannon stopped land */
const settle = () => new Promise((r) => setTimeout(r, 300));

function cannon(url: string, duration: number): Promise<autocannon.Result> {
  return autocannon({
    url: `${url}/abacus/number`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ number: 1 }),
    connections: CONNECTIONS,
    duration,
  });
}

/** user + system CPU time of a process (Linux /proc, USER_HZ 100), ms; null elsewhere */
function cpuMs(pid: number): number | null {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return null;
  }
}

async function measure(t: Target): Promise<Saturated> {
  await cannon(t.url, WARMUP);
  await settle();
  const [sumBefore, cpuBefore] = [await t.sum(), cpuMs(t.pid)];
  const r = await cannon(t.url, DURATION);
  await settle();
  const [sumAfter, cpuAfter] = [await t.sum(), cpuMs(t.pid)];
  const moved = sumAfter - sumBefore;
  if (moved < BigInt(r['2xx']) || moved > BigInt(r['2xx'] + CONNECTIONS)) {
    throw new Error(
      `${t.url}: the sum moved by ${moved} but ${r['2xx']} adds were answered 200: an add was lost or doubled`,
    );
  }
  return {
    req_per_sec: round2(r.requests.average),
    p50_ms: r.latency.p50,
    p99_ms: r.latency.p99,
    server_cpu_ms_per_req:
      cpuBefore === null || cpuAfter === null ? null : Math.round(((cpuAfter - cpuBefore) / r['2xx']) * 1000) / 1000,
    ok: r['2xx'],
    non_2xx: r.non2xx,
    errors: r.errors,
  };
}

function summarise(rounds: Saturated[]) {
  return {
    req_per_sec: round2(mean(rounds.map((r) => r.req_per_sec))),
    p99_ms_best: Math.min(...rounds.map((r) => r.p99_ms)),
    p99_ms_worst: Math.max(...rounds.map((r) => r.p99_ms)),
    server_cpu_ms_per_req: Math.round(mean(rounds.map((r) => r.server_cpu_ms_per_req ?? NaN)) * 1000) / 1000,
    rounds,
  };
}

async function main(): Promise<void> {
  const redis = await startRedisServer();
  const raw = createClient({ url: redis.url });
  raw.on('error', () => undefined); // Redis is stopped at the end
  const [wizardPort, barePort] = [await freePort(), await freePort()];
  const bareKey = `{${PREFIX}}:bare`;
  const bare = spawn(process.execPath, [path.join(__dirname, 'bare-abacus.js'), String(barePort), redis.url, bareKey], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const api = spawnWizard(['api', '--prefix', PREFIX, '--node-id', 'bench-api', '--port', String(wizardPort)], {
      REDIS_URL: redis.url,
      LOG_LEVEL: 'warn',
      ABACUS_STRATEGY: STRATEGY,
    });
    await new Promise<void>((resolve) =>
      bare.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve()),
    );
    const wizardUrl = `http://127.0.0.1:${wizardPort}`;
    await waitUntil(() => fetch(`${wizardUrl}/healthz`).then((r) => r.ok), 15_000, `${wizardUrl}/healthz`);
    await raw.connect();
    const wizard: Target = {
      url: wizardUrl,
      pid: api.proc.pid!,
      sum: async () =>
        BigInt(((await (await fetch(`${wizardUrl}/abacus/sum`)).json()) as { sum: number | string }).sum),
    };
    const bareExpress: Target = {
      url: `http://127.0.0.1:${barePort}`,
      pid: bare.pid!,
      sum: async () => BigInt((await raw.get(bareKey)) ?? 0),
    };

    const wizardRounds: Saturated[] = [];
    const bareRounds: Saturated[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      bareRounds.push(await measure(bareExpress));
      wizardRounds.push(await measure(wizard));
    }
    const w = summarise(wizardRounds);
    const b = summarise(bareRounds);
    const ratio = round2(w.req_per_sec / b.req_per_sec);
    const out = {
      bench: 'abacus',
      endpoint: 'POST /abacus/number {"number": 1}',
      strategy: STRATEGY,
      connections: CONNECTIONS,
      duration_s: DURATION,
      rounds: ROUNDS,
      wizard: w,
      bare_express: b,
      req_per_sec_ratio: ratio,
      /** bare's CPU per request over wizard's: the req/s ratio the two would have on an idle machine */
      cpu_per_req_ratio: round2(b.server_cpu_ms_per_req / w.server_cpu_ms_per_req),
      targets: {
        req_per_sec_ratio: '>= 0.6',
        p99_ms: '< 25',
        ratio_met: ratio >= 0.6,
        p99_met_every_round: w.p99_ms_worst < 25,
      },
    };
    process.stdout.write(JSON.stringify(out, null, 2) + '\n');
  } finally {
    bare.kill('SIGTERM');
    raw.destroy();
    await killAll();
    await redis.destroy();
  }
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
