/**
 * A prime count spreads over the workers (issue 25, item 1): a worker claims a chunk only for a
 * free pool thread, so two `wizard worker` processes of one thread each run the chunks of one
 * count side by side, each one chunk at a time, instead of one claiming them all while the other
 * idles. And a task enqueued behind a thousand waiting chunks is done while they wait. The proof
 * is in the records the store wrote (handled_by, started_at, finished_at: Redis's clock), not in
 * how long anything took.
 */
import { primeCountFlow } from '../../src/core/chunks';
import type { Job } from '../../src/core/job';
import { RedisStore } from '../../src/store/redis';
import { testPrefix, testRedisUrl } from '../helpers/env';
import { killAll, spawnWizard, waitUntil } from '../helpers/procs';

afterAll(killAll);

/** π(10^10) */
const PI_1E10 = 455_052_511;

/** the chunks of one worker overlap none of each other: sorted by start, each starts when the one before has finished */
function oneAtATime(chunks: Job[]): boolean {
  const sorted = [...chunks].sort((a, b) => a.startedAt! - b.startedAt!);
  return sorted.every((c, i) => i === 0 || c.startedAt! >= sorted[i - 1].finishedAt!);
}

test('two workers of one thread each run chunks of the same count at overlapping times, one chunk each at a time, and count exactly', async () => {
  const prefix = testPrefix('primes-spread');
  const env = { REDIS_URL: testRedisUrl(), WIZARD_PREFIX: prefix };
  const store = await new RedisStore({ url: testRedisUrl(), prefix }).connect();
  try {
    const workers = ['spread-a', 'spread-b'].map((id) =>
      spawnWizard(['worker', '--node-id', id, '--threads', '1'], env, id),
    );
    await Promise.all(workers.map((w) => w.waitForOutput(/worker started/)));

    const { parent } = await store.jobs.enqueueFlow(primeCountFlow(1e10, 16, { initiatedBy: 'test' }, {}));
    const done = await waitUntil(
      async () => {
        const p = await store.reads.job(parent.id);
        return p && ['SUCCESS', 'FAILURE'].includes(p.state) ? p : null;
      },
      240_000,
      'the prime count to end',
      200,
    );
    expect(done).toMatchObject({ state: 'SUCCESS', result: { prime_count: PI_1E10 } });

    const chunks = await store.reads.children(parent.id);
    expect(chunks.map((c) => [c.state, c.attempts])).toEqual(chunks.map(() => ['SUCCESS', 1]));
    const byWorker = new Map<string, Job[]>();
    for (const c of chunks) byWorker.set(c.handledBy!, [...(byWorker.get(c.handledBy!) ?? []), c]);
    expect([...byWorker.keys()].sort()).toEqual(['spread-a', 'spread-b']);

    // one thread each: a worker holds one chunk at a time (the next is claimed in the step that records the last)
    const a = byWorker.get('spread-a')!;
    const b = byWorker.get('spread-b')!;
    expect({ a: oneAtATime(a), b: oneAtATime(b) }).toEqual({ a: true, b: true });
    // side by side: some chunk of each ran while one of the other did
    const overlapping = a.flatMap((x) => b.filter((y) => x.startedAt! < y.finishedAt! && y.startedAt! < x.finishedAt!));
    expect(overlapping.length).toBeGreaterThan(0);
  } finally {
    await store.close();
  }
}, 300_000);

test('a task enqueued behind 1,000 waiting chunks is done while they wait, by a worker whose thread is busy', async () => {
  const prefix = testPrefix('primes-starve');
  const env = { REDIS_URL: testRedisUrl(), WIZARD_PREFIX: prefix };
  const store = await new RedisStore({ url: testRedisUrl(), prefix }).connect();
  try {
    const worker = spawnWizard(['worker', '--node-id', 'busy', '--threads', '1'], env, 'busy');
    await worker.waitForOutput(/worker started/);
    // chunks of 10^8 numbers each: the thousand would keep the one thread busy for minutes
    const { parent } = await store.jobs.enqueueFlow(primeCountFlow(1e11, 1000, { initiatedBy: 'test' }, {}));
    await waitUntil(
      async () => (await store.reads.job(parent.id))?.state === 'STARTED' || null,
      60_000,
      'the first chunk to be claimed',
    );

    const [task] = await store.jobs.enqueue([{ type: 'task', params: { a: 2, b: 3, op: 'add' } }]);
    const finished = await waitUntil(
      async () => {
        const t = await store.reads.job(task.id);
        return t?.state === 'SUCCESS' ? t : null;
      },
      60_000,
      'the task to succeed',
      100,
    );
    expect(finished).toMatchObject({ result: 5, handledBy: 'busy', attempts: 1 });

    // the task did not wait for the chunks ahead of it to be claimed (as it did when a worker's claims
    // held them all): chunks still wait, and the worker holds one chunk at most, for its one thread
    const chunks = await store.reads.children(parent.id);
    const byState = (s: string) => chunks.filter((c) => c.state === s).length;
    expect(byState('PENDING')).toBeGreaterThan(0);
    expect(byState('STARTED')).toBeLessThanOrEqual(1);
    await store.jobs.cancel(parent.id);
  } finally {
    await store.close();
  }
}, 180_000);
