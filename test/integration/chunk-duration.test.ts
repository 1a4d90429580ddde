/**
 * A chunk's duration is its run on a pool thread, not the time it waited for one: with one
 * thread, four chunks claimed together used to show about 1, 2, 3 and 4 runs' time (they queue
 * for the thread), so the durations summed to far more than the whole count took. One thread
 * runs one chunk at a time, so their run times can add up to no more than the wall time.
 */
import { startWorker, RunningWorker } from '../../src/roles/worker';
import type { Store } from '../../src/store/types';
import type { Logger } from '../../src/util/log';
import { silentLogger } from '../helpers/log';
import { makeStore } from '../helpers/stores';
import { waitUntil } from '../helpers/procs';

let store: Store;
let worker: RunningWorker;
let metricsUrl = '';

beforeAll(async () => {
  store = await makeStore('redis', 'chunk-duration');
  const log: Logger = {
    ...silentLogger,
    info: (msg, f) => void (msg === 'metrics listening' && (metricsUrl = String(f?.url))),
    child: () => log,
  };
  worker = startWorker(store, { nodeId: 'worker-d', threads: 1, concurrency: 4, metricsPort: 0, log });
  await waitUntil(async () => metricsUrl !== '', 10_000, 'the worker metrics');
});

afterAll(async () => {
  await worker.close(true);
  await store.close();
});

/** a histogram's _sum and _count for one label set, from Prometheus text */
function histogram(text: string, name: string, labels: string): { sum: number; count: number } {
  const value = (suffix: string) => {
    const line = text.split('\n').find((l) => l.startsWith(`${name}_${suffix}{`) && l.includes(labels));
    return line === undefined ? NaN : Number(line.slice(line.lastIndexOf(' ') + 1));
  };
  return { sum: value('sum'), count: value('count') };
}

test('wizard_job_duration_seconds of four chunks on one thread adds up to no more than the count took', async () => {
  const SPAN = 300_000_000;
  const base = 10_000_000_000;
  const began = performance.now();
  const { parent } = await store.jobs.enqueueFlow({
    parent: { type: 'primes', params: { n: base + 4 * SPAN, chunks: 4 } },
    children: [0, 1, 2, 3].map((i) => ({
      type: 'primes_chunk' as const,
      params: { lo: base + i * SPAN + 1, hi: base + (i + 1) * SPAN, index: i },
    })),
  });
  await waitUntil(async () => (await store.reads.job(parent.id))?.state === 'SUCCESS', 60_000, 'the prime count');
  const wallSeconds = (performance.now() - began) / 1000;
  const children = await store.reads.children(parent.id);
  expect(children.map((c) => c.attempts)).toEqual([1, 1, 1, 1]);
  const { sum, count } = histogram(
    await (await fetch(metricsUrl)).text(),
    'wizard_job_duration_seconds',
    'type="primes_chunk",outcome="SUCCESS"',
  );
  expect(count).toBe(4);
  expect(sum).toBeGreaterThan(0);
  expect(sum).toBeLessThanOrEqual(wallSeconds);
});
