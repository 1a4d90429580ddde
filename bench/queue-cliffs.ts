/**
 * npm run bench:queue:cliffs: where `bench:queue`'s ratio could fall off a cliff. On a Redis of
 * its own, for wizard and the current BullMQ (BENCH_PEERS, as bench:queue), one case at a time
 * (the Redis is emptied between cases):
 *
 * - `backlog`: BENCH_BACKLOG (1,000,000) trivial tasks enqueued with no worker running; Redis
 *   memory per waiting job (used_memory before and after), where those bytes go (the keys by
 *   name pattern, and one job's record field by field with its encoding), then a worker started
 *   and the backlog drained: jobs/s and CPU per job from the first 1% finished to the last;
 * - `concurrency_64`, `concurrency_1024`: bench:queue's rounds (BENCH_N tasks each, BENCH_ROUNDS
 *   alternating rounds, medians) at that worker concurrency;
 * - `payload_10k`: the same at concurrency 64 with a 10 kB filler in every job's payload
 *   (BENCH_PAYLOAD_N tasks a round, 5,000: each peer keeps its finished jobs an hour).
 *
 * Prints one JSON object. BENCH_CASES (all: backlog,concurrency_64,concurrency_1024,payload_10k)
 * picks cases. The full size takes long (1M jobs a peer, twice); BENCH_BACKLOG=100000 is a
 * quicker look.
 */
import { createClient } from 'redis';
import { pairsFromInfo } from '../src/store/redis';
import { killAll } from '../test/helpers/procs';
import { startRedisServer } from '../test/helpers/redis-server';
import {
  alternatingRounds,
  CpuPerJob,
  fastest,
  makePeer,
  measured,
  packageVersion,
  PEERS,
  Peer,
  PeerName,
  PeerOptions,
  round2,
  sumCpu,
} from './queue-peers';

const BACKLOG = Number(process.env.BENCH_BACKLOG ?? 1_000_000);
const N = Number(process.env.BENCH_N ?? 20_000);
const PAYLOAD_N = Number(process.env.BENCH_PAYLOAD_N ?? 5_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CASES = (process.env.BENCH_CASES ?? 'backlog,concurrency_64,concurrency_1024,payload_10k').split(',');
const NAMES: PeerName[] = ['wizard', ...PEERS];

type Raw = ReturnType<typeof createClient>;
const usedMemory = async (raw: Raw) => Number(pairsFromInfo(await raw.info('memory')).used_memory);

/** a key's name with its job ids and numbers taken out: `{p}:job:<id>`, `bull:q:<n>` */
const patternOf = (key: string) =>
  key
    .replace(/:job:[^:]+/, ':job:<id>')
    .replace(/(s\d+-)?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<id>')
    .replace(/:\d+(?=:|$)/g, ':<n>')
    .replace(/^\{bench-[^}]*\}/, '{prefix}')
    .replace(/^bull:bench-[^:]*:/, 'bull:<queue>:');

/**
 * the peer's keys grouped by pattern: how many, and their bytes (MEMORY USAGE of up to 200 keys
 * of each pattern, scaled to the count), per waiting job; and one job record's fields
 */
async function whereTheBytesGo(raw: Raw, peer: Peer, jobs: number) {
  const groups = new Map<string, { count: number; sampled: number; bytes: number; example: string }>();
  for await (const keys of raw.scanIterator({ MATCH: peer.keyPattern, COUNT: 10_000 }))
    for (const key of keys) {
      const p = patternOf(key);
      const g = groups.get(p) ?? { count: 0, sampled: 0, bytes: 0, example: key };
      g.count++;
      if (g.sampled < 200) {
        g.sampled++;
        g.bytes += (await raw.memoryUsage(key, { SAMPLES: 0 })) ?? 0;
      }
      groups.set(p, g);
    }
  const keys: Record<string, { keys: number; type: string; encoding: string | null; bytes_per_job: number }> = {};
  for (const [p, g] of [...groups].sort(
    (x, y) => (y[1].bytes / y[1].sampled) * y[1].count - (x[1].bytes / x[1].sampled) * x[1].count,
  )) {
    keys[p] = {
      keys: g.count,
      type: await raw.type(g.example),
      encoding: await raw.objectEncoding(g.example),
      bytes_per_job: round2(((g.bytes / g.sampled) * g.count) / jobs),
    };
  }
  // one job's record: the hash whose pattern is the peer's job record (the most numerous hash)
  const record = [...groups].filter(([, g]) => g.count >= jobs).map(([, g]) => g.example)[0];
  let job: Record<string, unknown> | null = null;
  if (record && (await raw.type(record)) === 'hash') {
    const fields = await raw.hGetAll(record);
    job = {
      key: patternOf(record),
      encoding: await raw.objectEncoding(record),
      memory_usage: await raw.memoryUsage(record, { SAMPLES: 0 }),
      // a listpack entry costs its bytes and 2-3 of header each for field and value
      fields: Object.fromEntries(
        Object.entries(fields).map(([f, v]) => [
          f,
          { field: f.length, value: Buffer.byteLength(v), text: v.slice(0, 60) },
        ]),
      ),
      payload_bytes: Object.entries(fields).reduce((s, [f, v]) => s + f.length + Buffer.byteLength(v), 0),
    };
  }
  return { keys, job };
}

async function backlogCase(url: string, raw: Raw) {
  const out: Record<string, unknown> = {};
  for (const name of NAMES) {
    await raw.flushAll();
    const peer = await makePeer(name, url, { concurrency: 64, deferWorker: true });
    const before = await usedMemory(raw);
    const t0 = Date.now();
    await peer.enqueue(BACKLOG, 1000);
    const enqueueSeconds = (Date.now() - t0) / 1000;
    const after = await usedMemory(raw);
    const where = await whereTheBytesGo(raw, peer, BACKLOG);
    await peer.startWorker();
    const first = Math.ceil(BACKLOG / 100);
    await peer.finished(first);
    const drain = await measured(raw, peer, BACKLOG - first, () => peer.finished(BACKLOG));
    await peer.close();
    out[name] = {
      version: name === 'wizard' ? undefined : packageVersion(name),
      bytes_per_waiting_job: Math.round((after - before) / BACKLOG),
      enqueue_jobs_per_sec: Math.round(BACKLOG / enqueueSeconds),
      drain_jobs_per_sec: drain.jobsPerSec,
      drain_cpu_us_per_job: drain.cpu,
      where_the_bytes_go: where,
    };
  }
  return out;
}

/** bench:queue's alternating rounds at these options: medians per peer, and the ratios */
async function roundsCase(url: string, raw: Raw, o: PeerOptions, n: number) {
  await raw.flushAll();
  const peers = new Map<PeerName, Peer>();
  for (const name of NAMES) peers.set(name, await makePeer(name, url, o));
  const out = Object.fromEntries(await alternatingRounds(raw, peers, ROUNDS, n, o.payloadBytes ? 100 : 1000));
  for (const peer of peers.values()) await peer.close();
  const peer = fastest(PEERS, out);
  const [w, b] = [out.wizard, out[peer]];
  return {
    n,
    ...o,
    ...out,
    peer,
    throughput_ratio: round2(w.jobs_per_sec / b.jobs_per_sec),
    cpu_per_job_ratio: round2(sumCpu(w.cpu_us_per_job) / sumCpu(b.cpu_us_per_job)),
  };
}

async function main() {
  const own = await startRedisServer();
  const raw = createClient({ url: own.url });
  await raw.connect();
  try {
    const out: Record<string, unknown> = {
      bench: 'queue-cliffs',
      peer_versions: Object.fromEntries(PEERS.map((p) => [p, packageVersion(p)])),
      rounds: ROUNDS,
    };
    if (CASES.includes('backlog')) {
      const b = (await backlogCase(own.url, raw)) as Record<
        string,
        { bytes_per_waiting_job: number; drain_jobs_per_sec: number; drain_cpu_us_per_job: CpuPerJob }
      >;
      // against each BullMQ measured
      const against = (f: (w: (typeof b)['wizard'], p: (typeof b)['wizard']) => number) =>
        Object.fromEntries(PEERS.map((peer) => [peer, round2(f(b.wizard, b[peer]))]));
      out.backlog = {
        jobs: BACKLOG,
        ...b,
        memory_per_waiting_job_ratio: against((w, p) => w.bytes_per_waiting_job / p.bytes_per_waiting_job),
        drain_throughput_ratio: against((w, p) => w.drain_jobs_per_sec / p.drain_jobs_per_sec),
        drain_cpu_per_job_ratio: against((w, p) => sumCpu(w.drain_cpu_us_per_job) / sumCpu(p.drain_cpu_us_per_job)),
      };
    }
    if (CASES.includes('concurrency_64')) out.concurrency_64 = await roundsCase(own.url, raw, { concurrency: 64 }, N);
    if (CASES.includes('concurrency_1024'))
      out.concurrency_1024 = await roundsCase(own.url, raw, { concurrency: 1024 }, N);
    if (CASES.includes('payload_10k'))
      out.payload_10k = await roundsCase(own.url, raw, { concurrency: 64, payloadBytes: 10_240 }, PAYLOAD_N);
    process.stdout.write(JSON.stringify(out, null, 2) + '\n');
  } finally {
    await raw.close();
    await killAll();
    await own.destroy();
  }
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
