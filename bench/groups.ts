/**
 * npm run bench:groups: what groups cost and how fair they are (issue 27, item 7;
 * docs/flow-control.md "How fairness works"). One `wizard worker` process, its own redis-server.
 *
 * Throughput: the same trivial tasks through one worker with no group, and spread over
 * BENCH_GROUPS (1,000) groups in turn, in alternating rounds (bench/queue-peers.ts), medians
 * compared (`groups_throughput_ratio`). The peer is BullMQ 6.7 in the same run: its groups are a
 * paid BullMQ Pro feature, so what it measures is its free queue, plain and with its free
 * `limiter` (a global rate limit, set high enough never to hold a job back: what the limiter's
 * path costs), as the JSON's `peer.note` says.
 *
 * Fairness: BENCH_GROUPS groups of unequal sizes (a Pareto draw, a fixed seed: a few large
 * groups, many small ones), enqueued group after group (the worst order for a queue without
 * groups), then one worker starts. When half of all jobs are done, each group's count of done
 * jobs (read from the records' finished_at) is divided by the smaller of its size and an equal
 * share, and Jain's index is taken over the groups: 1 is perfectly fair, 1/n is one group served
 * alone. The equal share is the max-min fair one: the level L with sum(min(size, L)) = half the
 * jobs (a group smaller than L has all its jobs done in a fair run; the others L each); the index
 * over the plain share (half / groups) is given beside it. The same jobs with no group (one FIFO
 * queue) are the baseline. BullMQ has no groups for free: no peer figure here.
 *
 * Prints one JSON object. Knobs: BENCH_N (20000 a round), BENCH_ROUNDS (3), BENCH_GROUPS (1000),
 * BENCH_CONCURRENCY (64), BENCH_SEED (27), BENCH_PEERS (bullmq), BENCH_REDIS_URL.
 */
import { createClient } from 'redis';
import type { Job, NewJob } from '../src/core/job';
import { RedisStore } from '../src/store/redis';
import { killAll, spawnWizard } from '../test/helpers/procs';
import { seededRandom } from '../test/helpers/prng';
import { startRedisServer } from '../test/helpers/redis-server';
import { alternatingRounds, makePeer, packageVersion, Peer, round2, until } from './queue-peers';

const N = Number(process.env.BENCH_N ?? 20_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const GROUPS = Number(process.env.BENCH_GROUPS ?? 1000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 64);
const SEED = Number(process.env.BENCH_SEED ?? 27);
const PEERS = (process.env.BENCH_PEERS ?? 'bullmq').split(',').filter(Boolean) as ('bullmq' | 'bullmq5')[];
/** BullMQ's limiter, never reached: a million jobs a second */
const LIMITER = { max: 1_000_000, duration: 1000 };
const BATCH = 1000;

/** each group's size: Pareto (x_min 5, alpha 1.16, the 80/20 rule), at most 2,000 */
export function groupSizes(groups: number, seed: number): number[] {
  const random = seededRandom(seed);
  return Array.from({ length: groups }, () => Math.min(2000, Math.floor(5 / Math.pow(1 - random(), 1 / 1.16))));
}

/** the max-min fair share of `done` jobs among groups of these sizes: L with sum(min(size, L)) = done */
export function fairShare(sizes: number[], done: number): number {
  const sorted = [...sizes].sort((a, b) => a - b);
  let left = done;
  for (let i = 0; i < sorted.length; i++) {
    const share = left / (sorted.length - i);
    if (sorted[i] >= share) return share;
    left -= sorted[i];
  }
  return Infinity; // every group done
}

/** Jain's fairness index: (sum x)^2 / (n sum x^2) */
export function jain(xs: number[]): number {
  const sum = xs.reduce((a, b) => a + b, 0);
  const squares = xs.reduce((a, b) => a + b * b, 0);
  return squares === 0 ? 1 : (sum * sum) / (xs.length * squares);
}

/** the fairness run: the groups' jobs enqueued group after group, one worker, until half are done */
async function fairness(url: string, sizes: number[], grouped: boolean) {
  const prefix = `bench-fair-${process.pid}-${grouped ? 'groups' : 'fifo'}`;
  const store = await new RedisStore({ url, prefix }).connect();
  const total = sizes.reduce((a, b) => a + b, 0);
  const groupOf = new Map<string, number>();
  const rows: [NewJob, number][] = sizes.flatMap((size, g) =>
    Array.from({ length: size }, (_, k): [NewJob, number] => [
      { type: 'task', params: { a: k, b: 1, op: 'add' }, ...(grouped ? { group: `g${g}` } : {}) },
      g,
    ]),
  );
  for (let i = 0; i < rows.length; i += BATCH) {
    const slice = rows.slice(i, i + BATCH);
    const made = await store.jobs.enqueue(slice.map(([job]) => job));
    made.forEach((job, k) => groupOf.set(job.id, slice[k][1]));
  }
  const worker = spawnWizard(
    ['worker', '--prefix', prefix, '--node-id', 'fair-worker', '--concurrency', String(CONCURRENCY), '--threads', '1'],
    { REDIS_URL: url, LOG_LEVEL: 'warn' },
  );
  const half = Math.floor(total / 2);
  await until(async () => (await store.reads.countByState()).SUCCESS >= half, 20);
  await worker.kill('SIGTERM');
  const ids = [...groupOf.keys()];
  const finished: Job[] = [];
  for (let i = 0; i < ids.length; i += BATCH) finished.push(...(await store.reads.jobs(ids.slice(i, i + BATCH))));
  const firstHalf = finished
    .filter((j) => j.state === 'SUCCESS' && j.finishedAt !== null)
    .sort((a, b) => a.finishedAt! - b.finishedAt! || (a.id < b.id ? -1 : 1))
    .slice(0, half);
  const done = sizes.map(() => 0);
  for (const j of firstHalf) done[groupOf.get(j.id)!]++;
  const level = fairShare(sizes, half);
  const plain = half / sizes.length;
  await store.close();
  return {
    jain_index: round2(jain(done.map((d, g) => d / Math.min(sizes[g], level)))),
    jain_index_plain_share: round2(jain(done.map((d, g) => d / Math.min(sizes[g], plain)))),
    fair_share: round2(level),
    groups_done_within_share: done.filter((d, g) => d >= Math.min(sizes[g], Math.floor(level))).length,
    groups_with_none_done: done.filter((d) => d === 0).length,
  };
}

async function main() {
  const own = process.env.BENCH_REDIS_URL ? null : await startRedisServer();
  const url = process.env.BENCH_REDIS_URL ?? own!.url;
  try {
    const raw = createClient({ url });
    await raw.connect();
    const peers = new Map<string, Peer>([
      ['wizard', await makePeer('wizard', url, { concurrency: CONCURRENCY })],
      ['wizard_groups', await makePeer('wizard', url, { concurrency: CONCURRENCY, groups: GROUPS })],
    ]);
    for (const pkg of PEERS) {
      peers.set(pkg, await makePeer(pkg, url, { concurrency: CONCURRENCY }));
      peers.set(`${pkg}_limiter`, await makePeer(pkg, url, { concurrency: CONCURRENCY, limiter: LIMITER }));
    }
    const rounds = await alternatingRounds(raw, peers, ROUNDS, N, BATCH);
    await raw.close();
    for (const peer of peers.values()) await peer.close();
    const rate = (name: string) => rounds.get(name)!.jobs_per_sec;

    const sizes = groupSizes(GROUPS, SEED);
    const sorted = [...sizes].sort((a, b) => b - a);
    const total = sizes.reduce((a, b) => a + b, 0);
    const withGroups = await fairness(url, sizes, true);
    const fifo = await fairness(url, sizes, false);
    const figures = Object.fromEntries([...rounds].map(([name, r]) => [name, r]));
    process.stdout.write(
      JSON.stringify(
        {
          bench: 'groups',
          n: N,
          rounds: ROUNDS,
          groups: GROUPS,
          concurrency: CONCURRENCY,
          throughput: {
            ...figures,
            groups_throughput_ratio: round2(rate('wizard_groups') / rate('wizard')),
            ...Object.fromEntries(
              PEERS.flatMap((p) => [
                [`wizard_groups_to_${p}`, round2(rate('wizard_groups') / rate(p))],
                [`wizard_groups_to_${p}_limiter`, round2(rate('wizard_groups') / rate(`${p}_limiter`))],
                [`${p}_limiter_ratio`, round2(rate(`${p}_limiter`) / rate(p))],
              ]),
            ),
          },
          peer: {
            versions: Object.fromEntries(PEERS.map((p) => [p, packageVersion(p)])),
            note:
              "BullMQ's groups are BullMQ Pro's (paid): its figures are its free queue with no groups, plain and with " +
              `its free limiter (a global rate limit, here ${LIMITER.max} per ${LIMITER.duration} ms: never reached, ` +
              'so what its path costs). It has no fairness across groups for free: no peer fairness figure.',
          },
          fairness: {
            seed: SEED,
            jobs: total,
            sizes: {
              largest: sorted.slice(0, 5),
              median: sorted[Math.floor(sorted.length / 2)],
              smallest: sorted.at(-1),
            },
            measured_at: 'half of all jobs done; each group its done jobs / min(its size, the max-min fair share)',
            groups: withGroups,
            no_groups_fifo: fifo,
          },
          targets: { groups_throughput_ratio: 'about 1 (groups cost little)', jain_index: '>= 0.9' },
        },
        null,
        2,
      ) + '\n',
    );
  } finally {
    await killAll();
    await own?.destroy();
  }
}

if (require.main === module)
  main().catch((err) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
