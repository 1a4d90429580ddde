/**
 * Seed 002's acceptance checklist against real processes: 1 api, 2 workers × 2 threads, Redis.
 */
import { freePort } from '../helpers/redis-server';
import { testPrefix, testRedisUrl } from '../helpers/env';
import { http, killAll, spawnWizard, waitUntil, WizardProc } from '../helpers/procs';
import { readSse } from '../../src/client/sse';

interface PrimeJob {
  job_id: string;
  state: string;
  progress: { completed: number; total: number };
  result: { prime_count: number; duration_sec: number } | null;
  error: string | null;
}

const env = { REDIS_URL: testRedisUrl(), WIZARD_PREFIX: testPrefix('primes-cluster') };
let api: string;
let workers: WizardProc[] = [];
const startWorker = (id: string) =>
  spawnWizard(['worker', '--node-id', id, '--threads', '2', '--concurrency', '2', '--lease-ms', '3000'], env, id);
/** what the workers printed (the end of it), for a failure's message */
const workersOutput = () => workers.map((w) => `${w.name}: ${w.output().slice(-2000)}`).join('\n');
/** the first test starts the workers only after it has seen PENDING; any other test starts them at once */
const ensureWorkers = () => {
  if (workers.length === 0) workers = [startWorker('worker-1'), startWorker('worker-2')];
};

beforeAll(async () => {
  const port = await freePort();
  api = `http://127.0.0.1:${port}`;
  await spawnWizard(['api', '--node-id', 'api-1', '--port', String(port)], env, 'api').waitForOutput(/api listening/);
});
afterAll(killAll);

async function finished(id: string, timeoutMs = 60_000): Promise<PrimeJob> {
  ensureWorkers();
  return waitUntil(
    async () => {
      const { body } = await http<PrimeJob>('GET', `${api}/api/jobs/${id}`);
      return body.state === 'SUCCESS' || body.state === 'FAILURE' ? body : null;
    },
    timeoutMs,
    `job ${id}`,
    100,
  );
}

test('submitting returns 202 with a job_id; SSE shows PENDING → STARTED → PROGRESS → SUCCESS, progress monotonic', async () => {
  const submitted = await http<{ job_id: string; status: string }>('POST', `${api}/api/count-primes`, {
    n: 10_000_000,
    chunks: 16,
  });
  expect(submitted.status).toBe(202);
  expect(submitted.body).toEqual({ job_id: expect.stringMatching(/^[0-9a-z]{16}$/), status: 'PENDING' });
  const id = submitted.body.job_id;

  const seen: PrimeJob[] = [];
  const stream = (async () => {
    for await (const ev of readSse(`${api}/api/jobs/${id}/events`)) seen.push(JSON.parse(ev.data));
  })();
  await waitUntil(async () => seen.length > 0, 5000, 'the first event');
  expect(seen[0]).toMatchObject({ state: 'PENDING', progress: { completed: 0, total: 16 } });

  ensureWorkers();
  await stream; // the server closes the stream after the final state
  const states = seen.map((s) => s.state);
  expect(states[states.length - 1]).toBe('SUCCESS');
  const order = ['PENDING', 'STARTED', 'PROGRESS', 'SUCCESS'];
  expect([...new Set(states)]).toEqual(order);
  for (let i = 1; i < states.length; i++)
    expect(order.indexOf(states[i])).toBeGreaterThanOrEqual(order.indexOf(states[i - 1]));
  const completed = seen.map((s) => s.progress.completed);
  for (let i = 1; i < completed.length; i++) expect(completed[i]).toBeGreaterThanOrEqual(completed[i - 1]);
  expect(seen.every((s) => s.progress.total === 16)).toBe(true);
  expect(
    seen.filter((s) => s.state === 'PROGRESS').every((s) => s.progress.completed >= 1 && s.progress.completed < 16),
  ).toBe(true);
  expect(seen[seen.length - 1]).toMatchObject({
    progress: { completed: 16, total: 16 },
    result: { prime_count: 664_579 },
  });
}, 60_000);

test('both workers take chunks, and the result is the same on a repeat', async () => {
  ensureWorkers();
  // both up and heartbeating first: a worker still starting on a busy machine would take none
  await waitUntil(
    async () => {
      const { body } = await http<{ workers: { live: number } }>('GET', `${api}/health`);
      return body.workers?.live === 2;
    },
    20_000,
    'both workers live',
  ).catch((err: Error) => {
    throw new Error(`${err.message}; their output:\n${workersOutput()}`);
  });
  const counts: number[] = [];
  const handlers = new Set<string>();
  for (let i = 0; i < 2; i++) {
    const { body } = await http<{ job_id: string }>('POST', `${api}/api/count-primes`, { n: 200_000_000, chunks: 32 });
    const done = await finished(body.job_id);
    counts.push(done.result!.prime_count);
    const chunks = await http<{ chunks: { state: string; handled_by: string }[] }>(
      'GET',
      `${api}/jobs/${body.job_id}/chunks`,
    );
    expect(chunks.body.chunks).toHaveLength(32);
    expect(chunks.body.chunks.every((c) => c.state === 'SUCCESS')).toBe(true);
    chunks.body.chunks.forEach((c) => handlers.add(c.handled_by));
  }
  expect(counts).toEqual([11_078_937, 11_078_937]);
  expect({ handlers: [...handlers].sort(), output: handlers.size === 2 ? '' : workersOutput() }).toEqual({
    handlers: ['worker-1', 'worker-2'],
    output: '',
  });
}, 90_000);

test('an n that chunks does not divide, chunks = 1 and chunks = 128', async () => {
  const cases: [number, number, number][] = [
    [1_000_003, 7, 78_499],
    [10_000, 1, 1_229],
    [10_000_000, 128, 664_579],
  ];
  const ids = await Promise.all(
    cases.map(
      async ([n, chunks]) =>
        (await http<{ job_id: string }>('POST', `${api}/api/count-primes`, { n, chunks })).body.job_id,
    ),
  );
  for (let i = 0; i < cases.length; i++) expect((await finished(ids[i])).result!.prime_count).toBe(cases[i][2]);
}, 60_000);

test.each([
  [{ n: 9_999, chunks: 4 }, 'n must be an integer >= 10000'],
  [{ n: 100_000, chunks: 0 }, 'chunks must be an integer >= 1'],
  [{ n: 100_000, chunks: 129 }, 'chunks must be an integer <= 128'],
  [{ n: 1e12 + 1, chunks: 4 }, 'n must be an integer <= 10^12'],
  [{ n: 'many', chunks: 4 }, 'n must be an integer from 10000 to 10^12'],
])('validation: %j → 400 "%s"', async (body, message) => {
  const res = await http<{ error: { code: string; message: string } }>('POST', `${api}/api/count-primes`, body);
  expect(res.status).toBe(400);
  expect(res.body.error).toMatchObject({ code: 'validation_failed', message });
});

test('an unknown job is a 404, for the record and for its events', async () => {
  expect((await http('GET', `${api}/api/jobs/nope`)).status).toBe(404);
  expect((await http('GET', `${api}/api/jobs/nope/events`)).status).toBe(404);
});

test('SIGKILL a worker mid-job and still get the exact count', async () => {
  ensureWorkers();
  const { body } = await http<{ job_id: string }>('POST', `${api}/api/count-primes`, { n: 3_000_000_000, chunks: 24 });
  const chunksHeldBy = async (node: string) =>
    (
      await http<{ chunks: { state: string; handled_by: string }[] }>('GET', `${api}/jobs/${body.job_id}/chunks`)
    ).body.chunks.filter((c) => c.state === 'STARTED' && c.handled_by === node).length;
  await waitUntil(async () => (await chunksHeldBy('worker-1')) > 0, 20_000, 'worker-1 to hold a chunk');
  expect(await workers[0].kill('SIGKILL')).toBe('SIGKILL');
  const done = await finished(body.job_id, 90_000);
  expect(done).toMatchObject({ state: 'SUCCESS', result: { prime_count: 144_449_537 } });
  const chunks = (
    await http<{ chunks: { attempts: number; handled_by: string }[] }>('GET', `${api}/jobs/${body.job_id}/chunks`)
  ).body.chunks;
  expect(chunks.some((c) => c.attempts === 2 && c.handled_by === 'worker-2')).toBe(true);
}, 120_000);
