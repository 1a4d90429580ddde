/**
 * The dashboard as an operations console, in headless Chromium against real processes (two api
 * nodes, a worker, a scheduler, the test Redis): the history charts drawn from the cluster's
 * buckets in Redis, the workers, queues, schedules and dead-letter pages, a job's actions, the one banner,
 * an unknown route; under the strict Content-Security-Policy, with no console error. The tests
 * run in order on one cluster: the later ones look at what the earlier ones made.
 */
import type { Page } from 'playwright-core';
import type { HistoryPoint } from '../../src/core/history';
import { RedisStore } from '../../src/store/redis';
import { Browser, eventually, launchBrowser, openConsole, textOf } from '../helpers/browser';
import { testPrefix, testRedisUrl } from '../helpers/env';
import { http, killAll, spawnWizard } from '../helpers/procs';
import { freePort, startRedisServer, TestRedis } from '../helpers/redis-server';

const ADMIN_TOKEN = 'console-admin-token';
const prefix = testPrefix('console');
const env = { REDIS_URL: testRedisUrl(), WIZARD_PREFIX: prefix, ADMIN_TOKEN, BATCH_SIZE: '1' };

let api: string;
let api2: string;
let browser: Browser;
let store: RedisStore;
let primeId: string;

interface History {
  window: string;
  bucket_sec: number;
  points: HistoryPoint[];
}
const done = (h: History) => h.points.reduce((n, p) => n + p.done, 0);

beforeAll(async () => {
  const [port, port2] = [await freePort(), await freePort()];
  api = `http://127.0.0.1:${port}`;
  api2 = `http://127.0.0.1:${port2}`;
  const servers = [
    spawnWizard(['api', '--node-id', 'console-api', '--port', String(port)], env, 'api'),
    spawnWizard(['api', '--node-id', 'console-api-2', '--port', String(port2)], env, 'api'),
  ];
  spawnWizard(['worker', '--node-id', 'console-worker', '--threads', '2', '--concurrency', '8'], env, 'worker');
  spawnWizard(['scheduler', '--node-id', 'console-scheduler'], env, 'scheduler');
  store = await new RedisStore({ url: testRedisUrl(), prefix }).connect();
  [browser] = await Promise.all([launchBrowser(), ...servers.map((s) => s.waitForOutput(/api listening/))]);
  await browser.context.route('**/*', (route) =>
    new URL(route.request().url()).hostname === '127.0.0.1' ? route.continue() : route.abort('internetdisconnected'),
  );
}, 30_000);

afterAll(async () => {
  await browser?.close();
  await killAll();
  await store?.close();
});

const open = (path: string, base = api) => openConsole(browser, base, path);

const chartPoints = async (page: Page, id: string) =>
  Number(await page.locator(`[data-chart="${id}"] svg`).getAttribute('data-points', { timeout: 1000 }));
/** the history window buttons that are pressed */
const pressedWindow = (page: Page) => page.locator('.windows button[aria-pressed="true"]').allInnerTexts();
/** the size an axis label of a chart is drawn at on the screen, in CSS pixels: its font size times the SVG's scale */
const tickPx = (page: Page, id: string) =>
  page
    .locator(`[data-chart="${id}"] .tick`)
    .first()
    .evaluate(
      (t) =>
        parseFloat(t.ownerDocument.defaultView!.getComputedStyle(t).fontSize) *
        (t as unknown as { ownerSVGElement: { getScreenCTM(): { a: number } } }).ownerSVGElement.getScreenCTM().a,
    );

test('GET /metrics/history: the jobs the worker finished, counted exactly, the same on every api node; a bad window is a 400 naming it', async () => {
  for (let i = 0; i < 5; i++) expect((await http('POST', `${api}/task`, { a: i, b: 1, op: 'add' })).status).toBe(202);
  const count = await http<{ job_id: string }>('POST', `${api}/api/count-primes`, { n: 100_000, chunks: 4 });
  primeId = count.body.job_id;
  // five tasks and four chunks (the prime count itself is finished by its last chunk, not run)
  await eventually(
    async () => expect(done((await http<History>('GET', `${api}/metrics/history?window=5m`)).body)).toBe(9),
    15_000,
  );
  const [a, b] = await Promise.all([
    http<History>('GET', `${api}/metrics/history`),
    http<History>('GET', `${api2}/metrics/history`),
  ]);
  expect(a.body).toMatchObject({ window: '1h', window_sec: 3600, bucket_sec: 10 });
  expect(done(a.body)).toBe(9);
  expect(b.body.points.map((p) => [p.at, p.done, p.failed])).toEqual(
    a.body.points.map((p) => [p.at, p.done, p.failed]),
  );
  const timed = a.body.points.filter((p) => p.done > 0);
  expect(timed.every((p) => p.p50_ms !== null && p.p50_ms <= p.p95_ms! && p.p95_ms! <= p.p99_ms!)).toBe(true);
  expect(a.body.points.some((p) => p.waiting !== null && p.sum !== null)).toBe(true); // the api's samples

  const bad = await http<{ error: { details: { field: string }[] } }>('GET', `${api}/metrics/history?window=2d`);
  expect(bad.status).toBe(400);
  expect(bad.body.error.details[0].field).toBe('window');
});

test('the overview draws the history: bars of done jobs, queue depth and run-time lines with points; a reload shows the same', async () => {
  const page = await open('#/');
  await eventually(async () => {
    expect(await chartPoints(page, 'throughput')).toBeGreaterThan(0);
    expect(await chartPoints(page, 'depth')).toBeGreaterThan(0);
    expect(await chartPoints(page, 'runtime')).toBeGreaterThan(0);
  });
  expect(await page.locator('[data-chart="throughput"] path.s0').getAttribute('d')).toMatch(/^M[\d.]+ [\d.]+V/);
  // the charts open on the last 15 minutes, so a new demo's work is not a spike at the edge
  expect(await pressedWindow(page)).toEqual(['15m']);
  expect(await textOf(page.locator('[data-chart="throughput"] .legend li').first())).toBe('done: 9 in the last 15m');
  expect((await page.locator('[data-chart="throughput"] .tick').allTextContents()).slice(1)).toEqual([
    '0',
    '−15m',
    'now',
  ]);
  const before = await chartPoints(page, 'throughput');
  await page.reload();
  await eventually(async () => expect(await chartPoints(page, 'throughput')).toBe(before));
  expect(await pressedWindow(page)).toEqual(['15m']);
  // the window buttons ask for a longer one and a shorter one
  await page.getByRole('button', { name: '1h', exact: true }).click();
  await eventually(async () =>
    expect(await textOf(page.locator('[data-chart="throughput"] .legend li').first())).toBe('done: 9 in the last 1h'),
  );
  expect(await pressedWindow(page)).toEqual(['1h']);
  await page.getByRole('button', { name: '5m', exact: true }).click();
  await eventually(async () =>
    expect(await textOf(page.locator('[data-chart="throughput"] .legend li').first())).toBe('done: 9 in the last 5m'),
  );
  // six cards, and the sixth (the abacus) not alone on a row
  const tops = await page.locator('.cards article').evaluateAll((els) => els.map((e) => e.getBoundingClientRect().top));
  expect(tops).toHaveLength(6);
  expect(new Set(tops).size).toBe(1);
  expect(page.errors).toEqual([]);
  await page.close();
});

test('the abacus page draws the sum over time from the samples', async () => {
  expect((await http('POST', `${api}/abacus/number`, { number: 42 })).status).toBe(200);
  const page = await open('#/abacus');
  await eventually(
    async () => expect(await textOf(page.locator('[data-chart="sum"] .legend li'))).toBe('sum: 42 now'),
    15_000,
  );
  expect(await chartPoints(page, 'sum')).toBeGreaterThan(0);
  expect(await pressedWindow(page)).toEqual(['15m']);
  // its one chart is drawn at the overview's scale: axis labels of the same size, not three times it
  const sumTick = await tickPx(page, 'sum');
  await page.goto(`${api}/#/`);
  await eventually(async () => expect(await chartPoints(page, 'throughput')).toBeGreaterThan(0));
  const overviewTicks = [await tickPx(page, 'throughput'), await tickPx(page, 'depth'), await tickPx(page, 'runtime')];
  expect(overviewTicks.map((px) => Math.round(px * 10) / 10)).toEqual(Array(3).fill(Math.round(sumTick * 10) / 10));
  expect(sumTick).toBeGreaterThan(9); // 12px at about the viewBox's own scale
  expect(sumTick).toBeLessThan(16);
  expect(page.errors).toEqual([]);
  await page.close();
});

test('workers page: the live worker with its settings and counts, and the scheduler that leads', async () => {
  const page = await open('#/workers');
  const row = page.locator('.workers-table tbody tr').filter({ hasText: 'console-worker' });
  await eventually(
    async () =>
      expect((await row.locator('td').allInnerTexts()).map((t) => t.trim())).toEqual([
        'console-worker',
        'default',
        '8',
        '2',
        '0',
        expect.stringMatching(/ s ago$/),
        '9',
        '0',
      ]),
    15_000,
  );
  await eventually(async () =>
    expect(await textOf(page.locator('section .summary'))).toMatch(
      /^Leader: console-scheduler · next batch in (\d+ min )?\d+ s$/,
    ),
  );
  expect(await textOf(page.locator('.schedulers-table tbody tr'))).toContain('leader');
  expect(page.errors).toEqual([]);
  await page.close();
});

test("a bot's reports count in the history too, by the api node they reach", async () => {
  const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
  expect((await http('POST', `${api}/jobs/populate`, { count: 2 }, admin)).status).toBe(201);
  const bot = (await http<{ token: string }>('POST', `${api}/bots/register`, { name: 'console-bot' })).body;
  const as = { authorization: `Bearer ${bot.token}` };
  const report = async (how: 'complete' | 'fail') => {
    const { job } = (await http<{ job: { job_id: string } }>('POST', `${api2}/jobs/claim`, {}, as)).body;
    expect((await http('POST', `${api2}/jobs/${job.job_id}/start`, undefined, as)).status).toBe(200);
    const body = how === 'complete' ? { result: 'ok' } : { error: 'no luck', permanent: true };
    expect((await http('POST', `${api2}/jobs/${job.job_id}/${how}`, body, as)).status).toBe(200);
  };
  await report('complete');
  await report('fail');
  await eventually(async () => {
    const { points } = (await http<History>('GET', `${api}/metrics/history`)).body;
    expect([points.reduce((n, p) => n + p.done, 0), points.reduce((n, p) => n + p.failed, 0)]).toEqual([10, 1]); // the worker's 9, the bot's 1
  });
});

test('queues page: every queue with its waiting, active and delayed jobs', async () => {
  await store.jobs.enqueue([
    { type: 'task', params: { a: 1, b: 1, op: 'add' }, queue: 'console-idle' },
    { type: 'task', params: { a: 1, b: 2, op: 'add' }, queue: 'console-idle' },
  ]);
  const page = await open('#/queues');
  const row = page.locator('.queues-table tbody tr').filter({ hasText: 'console-idle' });
  await eventually(async () =>
    expect((await row.locator('td').allInnerTexts()).map((t) => t.trim())).toEqual([
      'console-idle',
      '2',
      '0',
      '0',
      'no',
      'none',
      '',
      'Pause',
    ]),
  );
  expect(await page.locator('.queues-table tbody td:first-child').allInnerTexts()).toEqual(
    expect.arrayContaining(['default', 'console-idle']),
  );
  // pause and resume (admin): the queue gives no work while paused
  await giveToken(page, ADMIN_TOKEN);
  await row.getByRole('button', { name: 'Pause queue console-idle' }).click();
  await eventually(async () =>
    expect(await textOf(page.locator('section p[role=status]'))).toBe(
      'Queue console-idle is paused: it gives no new work.',
    ),
  );
  await eventually(async () =>
    expect((await row.locator('td').allInnerTexts()).map((t) => t.trim()).slice(4)).toEqual([
      'yes',
      'none',
      '',
      'Resume',
    ]),
  );
  expect((await store.jobs.claim('console-idle', { consumer: 'console-test', max: 5, leaseMs: 30_000 })).jobs).toEqual(
    [],
  );
  await row.getByRole('button', { name: 'Resume queue console-idle' }).click();
  await eventually(async () =>
    expect((await row.locator('td').allInnerTexts()).map((t) => t.trim()).slice(4)).toEqual([
      'no',
      'none',
      '',
      'Pause',
    ]),
  );
  // its limits and busiest groups (docs/flow-control.md)
  await store.groups.setLimits('console-idle', { concurrency: 10, groupConcurrency: 2, rate: { max: 5, perMs: 1000 } });
  await store.jobs.enqueue([{ type: 'task', params: { a: 1, b: 3, op: 'add' }, queue: 'console-idle', group: 'acme' }]);
  await eventually(async () =>
    expect((await row.locator('td').allInnerTexts()).map((t) => t.trim()).slice(5, 7)).toEqual([
      'concurrency 10, per group 2, rate 5 per 1000 ms',
      'acme 1 waiting / 0 running',
    ]),
  );
  await store.groups.setLimits('console-idle', { concurrency: null, groupConcurrency: null, rate: null });
  expect(page.errors).toEqual([]);
  await page.close();
});

test("queues page: a queue's limits and its three busiest groups, waiting and running each; /metrics counts what each kind of limit held back", async () => {
  const queue = 'console-groups';
  await store.groups.setLimits(queue, {
    concurrency: 20,
    groupConcurrency: 3,
    groupRate: { max: 2, perMs: 600_000 },
  });
  const sizes = { acme: 5, globex: 3, initech: 2, umbrella: 1 };
  for (const [group, n] of Object.entries(sizes))
    await store.jobs.enqueue(
      Array.from({ length: n }, (_, a) => ({ type: 'task', params: { a, b: 1, op: 'add' }, queue, group })),
    );
  // no worker takes this queue: the test claims; each group's rate lets 2 of it start
  const claimed = await store.jobs.claim(queue, { consumer: 'console-test', max: 10, leaseMs: 120_000 });
  expect(claimed.jobs.length).toBe(7);
  expect((await store.jobs.claim(queue, { consumer: 'console-test', max: 10, leaseMs: 120_000 })).jobs).toEqual([]);
  const page = await open('#/queues');
  const row = page.locator('.queues-table tbody tr').filter({ hasText: queue });
  await eventually(async () =>
    expect((await row.locator('td').allInnerTexts()).map((t) => t.trim()).slice(0, 7)).toEqual([
      queue,
      '4',
      '7',
      '0',
      'no',
      'concurrency 20, per group 3, per group 2 per 600000 ms',
      'acme 3 waiting / 2 running, globex 1 waiting / 2 running, initech 0 waiting / 2 running',
    ]),
  );
  const heldBack = async () => {
    const text = String(
      (await http<string>('GET', `${api}/metrics`, undefined, { authorization: `Bearer ${ADMIN_TOKEN}` })).body,
    );
    const of = (limit: string) =>
      Number(
        new RegExp(`^wizard_jobs_held_back_total\\{queue="${queue}",limit="${limit}"\\} (\\d+)$`, 'm').exec(text)?.[1],
      );
    return { concurrency: of('concurrency'), rate: of('rate') };
  };
  // the group rate held the second claim back, and no concurrency limit did
  const byRate = await heldBack();
  expect(byRate.rate).toBeGreaterThan(0);
  expect(byRate.concurrency).toBe(0);
  // a group limit of 2 instead: every group with jobs waiting runs 2, so the next claim is held
  // back by concurrency; the page shows the new limits
  await store.groups.setLimits(queue, { groupConcurrency: 2, groupRate: null });
  expect((await store.jobs.claim(queue, { consumer: 'console-test', max: 10, leaseMs: 120_000 })).jobs).toEqual([]);
  const byConcurrency = await heldBack();
  expect(byConcurrency.concurrency).toBeGreaterThan(0);
  expect(byConcurrency.rate).toBe(byRate.rate);
  await eventually(async () =>
    expect((await row.locator('td').allInnerTexts()).map((t) => t.trim()).slice(5, 6)).toEqual([
      'concurrency 20, per group 2',
    ]),
  );
  for (const c of claimed.jobs) await store.jobs.complete(c.job.id, c.token, 2);
  expect(page.errors).toEqual([]);
  await page.close();
});

test("a job's page cancels a job that has not finished", async () => {
  const [job] = await store.jobs.enqueue([
    { type: 'task', params: { a: 1, b: 1, op: 'add' }, queue: 'console-cancel' },
  ]);
  const page = await open(`#/jobs/${job.id}`);
  await page.getByRole('button', { name: 'Cancel this job' }).click();
  await eventually(async () =>
    expect(await textOf(page.locator('.job-actions p[role=status]'))).toBe(`Cancelled: ${job.id} is CANCELLED.`),
  );
  expect((await store.reads.job(job.id))!.state).toBe('CANCELLED');
  await eventually(async () =>
    expect(await page.getByRole('button', { name: 'Cancel this job' }).isVisible()).toBe(false),
  );
  expect(page.errors).toEqual([]);
  await page.close();
});

test("the workers page lists the jobs running now and who runs each; a job's page lists each attempt", async () => {
  const queue = 'console-running';
  const [job] = await store.jobs.enqueue([{ type: 'task', params: { a: 1, b: 1, op: 'add' }, queue, maxAttempts: 3 }]);
  const first = (await store.jobs.claim(queue, { consumer: 'console-first', max: 1, leaseMs: 30_000 })).jobs[0];
  await store.jobs.fail(job.id, first.token, 'first try failed', { to: 'RETRY', delayMs: 0 });
  const held = (await store.jobs.claim(queue, { consumer: 'console-holder', max: 1, leaseMs: 30_000 })).jobs[0];
  await store.jobs.reportProgress(job.id, held.token, { completed: 1, total: 4 });

  const page = await open('#/workers');
  const row = page.locator('.running-table tbody tr').filter({ hasText: job.id.slice(0, 8) });
  await eventually(async () =>
    expect((await row.locator('td').allInnerTexts()).map((t) => t.trim())).toEqual([
      job.id.slice(0, 8),
      'task',
      'console-holder',
      'PROGRESS',
      '1/4',
      expect.stringMatching(/ s ago$/),
    ]),
  );
  expect(await textOf(page.locator('.running-summary'))).toMatch(/^\d+ jobs? runs? now/);

  await page.goto(`${api}/#/jobs/${job.id}`);
  const attempts = page.locator('figure.attempts tbody tr');
  await eventually(async () => expect(await attempts.count()).toBe(2));
  expect((await attempts.nth(0).locator('td').allInnerTexts()).map((t) => t.trim())).toEqual([
    '1',
    'RETRY',
    'console-first',
    expect.any(String),
    'first try failed',
  ]);
  expect((await attempts.nth(1).locator('td').allInnerTexts()).map((t) => t.trim()).slice(0, 3)).toEqual([
    '2',
    'PROGRESS',
    'console-holder',
  ]);
  await store.jobs.complete(job.id, held.token, 2);
  expect(page.errors).toEqual([]);
  await page.close();
});

/** a job that ended (DEAD: used its one attempt, in the dead-letter queue), on a queue of its own that no worker takes */
let queues = 0;
async function finishedJob(
  target: { to: 'DEAD' | 'FAILURE' },
  error: string,
  queue = `console-held-${++queues}`,
): Promise<string> {
  const [job] = await store.jobs.enqueue([{ type: 'task', params: { a: 1, b: 0, op: 'div' }, queue, maxAttempts: 1 }]);
  const { jobs } = await store.jobs.claim(queue, { consumer: 'console-test', max: 1, leaseMs: 30_000 });
  await store.jobs.fail(job.id, jobs[0].token, error, target);
  return job.id;
}
const deadJob = (error: string, queue?: string) => finishedJob({ to: 'DEAD' }, error, queue);

async function giveToken(page: Page, token: string) {
  await page.locator('.admin-token summary').click();
  await page.getByLabel('Token', { exact: true }).fill(token);
  await page.getByRole('button', { name: 'Save' }).click();
}

test('dead letters page: the dead jobs with their last error; retry puts one back on its queue, purge deletes the rest (admin)', async () => {
  const first = await deadJob('first failure');
  const second = await deadJob('second failure');
  const page = await open('#/dlq');
  await eventually(async () =>
    expect(await textOf(page.locator('section .notice'))).toContain('this needs the admin token'),
  );
  await giveToken(page, ADMIN_TOKEN);
  const row = page.locator('.dlq-table tbody tr').filter({ hasText: first.slice(0, 8) });
  await eventually(async () => expect(await textOf(row)).toContain('first failure'));
  await row.getByRole('button', { name: 'Retry' }).click();
  await eventually(async () =>
    expect(await textOf(page.locator('section p[role=status]'))).toContain(
      `Job ${first} is back on queue console-held-1`,
    ),
  );
  expect(await store.reads.job(first)).toMatchObject({ state: 'PENDING', attempts: 0 });
  expect((await store.dead.list()).jobs.map((j) => j.id)).toEqual([second]);

  await page.getByRole('button', { name: 'Purge all…' }).click();
  await page.getByRole('button', { name: 'Yes, delete every dead job' }).click();
  await eventually(async () =>
    expect(await textOf(page.locator('section p[role=status]'))).toBe('Purged 1 dead jobs.'),
  );
  expect((await store.dead.list()).total).toBe(0);
  expect(await store.reads.job(second)).toBeNull();

  // POST /jobs/:id/retry: admin only; a job neither dead nor failed is a 409, an unknown one a 404
  const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
  expect((await http('POST', `${api}/jobs/${first}/retry`)).status).toBe(401);
  expect(await http('POST', `${api}/jobs/${first}/retry`, undefined, admin)).toMatchObject({
    status: 409,
    body: { error: { code: 'conflict', message: expect.stringContaining('is PENDING') } },
  });
  expect((await http('POST', `${api}/jobs/no-such-job/retry`, undefined, admin)).status).toBe(404);
  expect(page.errors.filter((e) => !/status of 401/.test(e))).toEqual([]);
  await page.close();
});

test("a job's page: a dead job and a failed one retried from it (admin); a prime count's chunks as bars, its params and result as fields; find by id from the header", async () => {
  const id = await deadJob('the last error');
  const page = await open('#/');
  await page.getByLabel('Find a job by id').fill(id);
  await page.getByRole('button', { name: 'Find' }).click();
  await eventually(async () => expect(await textOf(page.locator('main h2'))).toBe(`Job ${id.slice(0, 8)}`));
  await eventually(async () => expect(await textOf(page.locator('.fields .state'))).toBe('DEAD'));
  await giveToken(page, ADMIN_TOKEN);
  await page.getByRole('button', { name: 'Retry this job' }).click();
  await eventually(async () => expect(await textOf(page.locator('.fields .state'))).toBe('PENDING'));
  expect(await store.reads.job(id)).toMatchObject({ state: 'PENDING', attempts: 0 });
  expect((await store.dead.list()).total).toBe(0);

  // a job that ended in FAILURE: retried from its page too; a prime count that succeeded offers no retry
  const failed = await finishedJob({ to: 'FAILURE' }, 'b must not be 0');
  await page.goto(`${api}/#/jobs/${failed}`);
  await eventually(async () => expect(await textOf(page.locator('.fields .state'))).toBe('FAILURE'));
  await page.getByRole('button', { name: 'Retry this job' }).click();
  await eventually(async () => expect(await textOf(page.locator('.fields .state'))).toBe('PENDING'));
  expect(await store.reads.job(failed)).toMatchObject({ state: 'PENDING', attempts: 0, error: null });

  await page.goto(`${api}/#/jobs/${primeId}`);
  await eventually(async () =>
    expect(await page.locator('.chunk-bars svg').getAttribute('data-bars', { timeout: 1000 })).toBe('4'),
  );
  expect(await page.locator('.chunk-bars .bar-done').getAttribute('d')).toMatch(
    /^(M[\d.]+ 132v-[\d.]+h[\d.]+v[\d.]+Z){4}$/,
  );
  const fields = async (dt: string) =>
    (
      await page
        .locator('.fields > dd')
        .nth(await dtIndex(page, dt))
        .locator('.subfields')
        .innerText()
    )
      .replace(/\s+/g, ' ')
      .trim();
  expect(await fields('Params')).toBe('n 100,000 chunks 4');
  expect(await page.getByRole('button', { name: 'Retry this job' }).isVisible()).toBe(false);
  expect(await fields('Result')).toMatch(/^prime_count 9,592 duration_sec [\d.]+$/);
  expect(await textOf(page.locator('.fields > dd').nth(await dtIndex(page, 'Attempts')))).toBe(
    'not run itself: its chunks are (below)',
  );
  expect(page.errors).toEqual([]);
  await page.close();
});

async function dtIndex(page: Page, name: string): Promise<number> {
  const names = (await page.locator('.fields > dt').allInnerTexts()).map((t) => t.trim());
  return names.indexOf(name);
}

test('jobs page: a count per state; filtered by queue and type; every dead job of the filter retried at once (admin), after a confirmation', async () => {
  const queue = 'console-bulk';
  const dead = [await deadJob('bulk one', queue), await deadJob('bulk two', queue)];
  const [sim] = await store.jobs.enqueue([{ type: 'sim', queue, params: { duration_ms: 10, failure_rate: 0 } }]);
  const page = await open('#/jobs');
  await eventually(async () => {
    const { body } = await http<{ jobs: { by_state: Record<string, number> } }>('GET', `${api}/metrics/summary`);
    expect(await textOf(page.locator('.state-counts [data-state="DEAD"] strong'))).toBe(
      String(body.jobs.by_state.DEAD),
    );
  });
  await eventually(async () => expect(await page.locator(`#jobs-queue option[value="${queue}"]`).count()).toBe(1));
  await page.getByLabel('Queue').selectOption(queue);
  const rows = page.locator('section table tbody tr');
  await eventually(async () => expect(await rows.count()).toBe(3));
  expect(new Set(await rows.locator('td:nth-child(3)').allInnerTexts())).toEqual(new Set([queue]));
  await page.getByLabel('Type', { exact: true }).fill('task');
  await page.getByLabel('Type', { exact: true }).press('Enter');
  await eventually(async () => expect(await rows.count()).toBe(2));
  expect((await rows.locator('td:nth-child(4)').allInnerTexts()).map((t) => t.trim())).toEqual(['DEAD', 'DEAD']);

  await giveToken(page, ADMIN_TOKEN);
  await page.getByRole('button', { name: 'Retry failed jobs…' }).click();
  expect(await textOf(page.locator('.bulk-confirm span'))).toBe(
    `Retry every DEAD and FAILURE job of type task in queue ${queue}?`,
  );
  expect(await store.reads.job(dead[0])).toMatchObject({ state: 'DEAD' }); // nothing done before the answer
  await page.getByRole('button', { name: 'Yes, do it' }).click();
  await eventually(async () =>
    expect(await textOf(page.locator('section p[role=status]'))).toBe(`Retried 2 jobs of type task in queue ${queue}.`),
  );
  for (const id of dead) expect(await store.reads.job(id)).toMatchObject({ state: 'PENDING', attempts: 0 });
  expect(await store.reads.job(sim.id)).toMatchObject({ state: 'PENDING' });
  await eventually(async () =>
    expect((await rows.locator('td:nth-child(4)').allInnerTexts()).map((t) => t.trim())).toEqual([
      'PENDING',
      'PENDING',
    ]),
  );
  expect(page.errors).toEqual([]);
  await page.close();
});

test('jobs page: every finished job of a state and queue deleted at once (admin), after a confirmation; only with a final state chosen', async () => {
  const queue = 'console-delete';
  const failed = [
    await finishedJob({ to: 'FAILURE' }, 'delete one', queue),
    await finishedJob({ to: 'FAILURE' }, 'delete two', queue),
  ];
  const dead = await deadJob('kept', queue);
  const page = await open('#/jobs');
  await giveToken(page, ADMIN_TOKEN);
  await eventually(async () => expect(await page.locator(`#jobs-queue option[value="${queue}"]`).count()).toBe(1));
  await page.getByLabel('Queue').selectOption(queue);
  const rows = page.locator('section table tbody tr');
  await eventually(async () => expect(await rows.count()).toBe(3));
  const button = page.getByRole('button', { name: 'Delete finished jobs…' });
  expect(await button.isDisabled()).toBe(true); // no state chosen
  await page.locator('#jobs-status').selectOption('PENDING');
  expect(await button.isDisabled()).toBe(true); // not a final state
  await page.locator('#jobs-status').selectOption('FAILURE');
  await eventually(async () => expect(await rows.count()).toBe(2));
  expect(await button.isDisabled()).toBe(false);
  await button.click();
  expect(await textOf(page.locator('.bulk-confirm span'))).toBe(
    `Delete every FAILURE job in queue ${queue}, with its log? This cannot be undone.`,
  );
  expect(await store.reads.job(failed[0])).toMatchObject({ state: 'FAILURE' }); // nothing done before the answer
  await page.getByRole('button', { name: 'Yes, do it' }).click();
  await eventually(async () =>
    expect(await textOf(page.locator('section p[role=status]'))).toBe(`Deleted 2 jobs in queue ${queue}.`),
  );
  for (const id of failed) expect(await store.reads.job(id)).toBeNull();
  expect(await store.reads.job(dead)).toMatchObject({ state: 'DEAD' });
  await eventually(async () => expect(await rows.count()).toBe(0));
  await page.locator('#jobs-status').selectOption('');
  await eventually(async () => expect(await rows.count()).toBe(1));
  expect(page.errors).toEqual([]);
  await page.close();
});

test("a job's page shows its handler's ctx.log lines, oldest first", async () => {
  const [job] = await store.jobs.enqueue([
    { type: 'task', queue: 'console-logged', params: { a: 1, b: 1, op: 'add' } },
  ]);
  const line = (level: string, msg: string, fields?: Record<string, unknown>) =>
    JSON.stringify({ at: new Date().toISOString(), level, msg, ...(fields ? { fields } : {}) });
  await store.jobs.appendLog(job.id, line('info', 'fetching', { url: 'http://x' }));
  await store.jobs.appendLog(job.id, line('warn', 'slow answer'));
  const page = await open(`#/jobs/${job.id}`);
  const items = page.locator('.job-log li');
  await eventually(async () => expect(await items.count()).toBe(2));
  expect(await textOf(items.nth(0).locator('.log-msg'))).toBe('fetching');
  expect(await textOf(items.nth(0).locator('code'))).toBe('{"url":"http://x"}');
  expect(await textOf(items.nth(1).locator('.log-level'))).toBe('WARN'); // shown in capitals
  expect(await textOf(items.nth(1).locator('.log-msg'))).toBe('slow answer');
  // a job that logged nothing shows no log
  const [quiet] = await store.jobs.enqueue([
    { type: 'task', queue: 'console-logged', params: { a: 1, b: 1, op: 'add' } },
  ]);
  await page.goto(`${api}/#/jobs/${quiet.id}`);
  await eventually(async () => expect(await textOf(page.locator('.fields .state'))).toBe('PENDING'));
  expect(await page.locator('.job-log').count()).toBe(0);
  expect((await http('GET', `${api}/jobs/no-such-job/log`)).status).toBe(404);
  expect(page.errors).toEqual([]);
  await page.close();
});

test('the primes page lists the recent counts, each with its result and duration, linked to its page', async () => {
  const page = await open('#/primes');
  const row = page.locator('.primes-history tbody tr').filter({ hasText: primeId.slice(0, 8) });
  await eventually(async () => expect(await row.count()).toBe(1));
  const cells = (await row.locator('td').allInnerTexts()).map((t) => t.trim());
  expect(cells.slice(1, 5)).toEqual(['100,000', '4', 'SUCCESS', '9,592']);
  expect(cells[5]).toMatch(/^[\d.]+ (ms|s)$/);
  expect(await row.locator('a').getAttribute('href')).toBe(`#/jobs/${primeId}`);
  // only prime counts: none of the tasks made before it
  const ns = await page.locator('.primes-history tbody tr td:nth-child(2)').allInnerTexts();
  expect(ns.every((n) => /^[\d,]+$/.test(n.trim()))).toBe(true);
  expect(page.errors).toEqual([]);
  await page.close();
});

test('375 px wide: the new pages and the charts fit, with no horizontal scroll', async () => {
  const page = await open('#/');
  await page.setViewportSize({ width: 375, height: 800 });
  for (const route of [
    '#/',
    '#/abacus',
    '#/workers',
    '#/queues',
    '#/schedules',
    '#/dlq',
    `#/jobs/${primeId}`,
    '#/nothere',
  ]) {
    await page.goto(`${api}/${route}`);
    await page.locator('main h2').first().waitFor();
    await page.waitForLoadState('networkidle');
    const [scrollWidth, width] = (await page.evaluate(
      '[document.documentElement.scrollWidth, window.innerWidth]',
    )) as number[];
    expect({ route, scrollWidth }).toEqual({ route, scrollWidth: width });
  }
  expect(page.errors.filter((e) => !/status of 401/.test(e))).toEqual([]);
  await page.close();
});

test('an unknown route says not found', async () => {
  const page = await open('#/nothere');
  expect(await textOf(page.locator('main h2'))).toBe('Not found');
  expect(await textOf(page.locator('main section p'))).toContain('#/nothere');
  expect(page.errors).toEqual([]);
  await page.close();
});

test("schedules page: the built-in batch listed; without the admin token the form says why; with it a schedule added, its jobs listed and linked, a bad cron refused with the API's message, the schedule removed", async () => {
  const page = await open('#/schedules');
  const seed = page.locator('article[data-schedule="seed-batch"]');
  await eventually(async () => expect(await textOf(seed.locator('h3'))).toBe('seed-batch built in'));
  expect(await textOf(seed.locator('.schedule-when'))).toBe('every 600.0 s');
  // times relative to now, as every other page shows them; the date itself in the title
  await eventually(async () => expect(await textOf(seed.locator('.schedule-next'))).toMatch(/^in (\d+ min )?\d+ s$/));
  expect(await seed.locator('.schedule-next').getAttribute('title')).toMatch(/\d{4}/);
  expect(await seed.getByRole('button', { name: 'Remove schedule seed-batch' }).isVisible()).toBe(false);
  expect(await textOf(page.locator('.schedule-form').locator('..').locator('.admin-off'))).toBe(
    'Adding and removing schedules need the admin token: set it at the top under "Token".',
  );
  expect(await page.getByRole('button', { name: 'Add schedule' }).isDisabled()).toBe(true);

  await giveToken(page, ADMIN_TOKEN);
  await eventually(async () =>
    expect(await page.getByRole('button', { name: 'Add schedule' }).isDisabled()).toBe(false),
  );
  await page.getByLabel('Name').fill('console-every');
  await page.getByLabel('Type', { exact: true }).fill('task');
  await page.getByLabel('Params (JSON)').fill('{"a": 1, "b": 2}');
  await page.getByLabel('Every (ms)').fill('1000');
  await page.getByRole('button', { name: 'Add schedule' }).click();
  await eventually(async () =>
    expect(await textOf(page.locator('section p[role=status]'))).toMatch(
      /^Schedule console-every added: its next occurrence at /,
    ),
  );
  expect((await store.schedules.list()).find((x) => x.name === 'console-every')).toMatchObject({
    type: 'task',
    everyMs: 1000,
    params: { a: 1, b: 2, op: 'add' },
    builtin: false,
  });
  const card = page.locator('article[data-schedule="console-every"]');
  expect(await textOf(card.locator('.schedule-when'))).toBe('every 1.00 s');

  // its jobs appear, each a link to its page, each made by the schedule for its slot
  await eventually(
    async () => expect(await card.locator('.schedule-jobs li').count()).toBeGreaterThanOrEqual(2),
    15_000,
  );
  const hrefs = await card.locator('.schedule-jobs a').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
  for (const href of hrefs) {
    const job = await store.reads.job(decodeURIComponent(href!.replace('#/jobs/', '')));
    expect(job).toMatchObject({ type: 'task', schedule: 'console-every', params: { a: 1, b: 2, op: 'add' } });
  }
  const newest = await store.reads.job(decodeURIComponent(hrefs[0]!.replace('#/jobs/', '')));
  await eventually(async () => expect(await textOf(card.locator('.schedule-last'))).not.toBe('—'));
  expect(Date.parse(newest!.slot!)).toBeGreaterThan(0);
  expect(await textOf(card.locator('.schedule-last'))).toMatch(/^\d+ s ago$/);
  for (const slot of await card.locator('.schedule-jobs .slot').allInnerTexts()) expect(slot).toMatch(/^\d+ s ago$/);
  expect(await textOf(card.locator('.schedule-next'))).toMatch(/^in \d+ s$/);
  expect(await page.locator('.schedule-list').innerText()).not.toMatch(/\d{1,2}\/\d{1,2}\/\d{4}/); // no locale date on the page

  // a bad cron: the API's 400 message in the page's one error box
  const refused = await http<{ error: { message: string } }>(
    'POST',
    `${api}/schedules`,
    { name: 'console-bad', type: 'sim', cron: 'not a cron' },
    { authorization: `Bearer ${ADMIN_TOKEN}` },
  );
  expect(refused.status).toBe(400);
  await page.getByLabel('Name').fill('console-bad');
  await page.getByLabel('Type', { exact: true }).fill('sim');
  await page.getByLabel('Params (JSON)').fill('');
  await page.getByLabel('cron', { exact: true }).check();
  await page.getByLabel('Cron', { exact: true }).fill('not a cron');
  await page.getByRole('button', { name: 'Add schedule' }).click();
  await eventually(async () =>
    expect(await textOf(page.locator('.schedules-error'))).toBe(
      `The server refused the input: ${refused.body.error.message}`,
    ),
  );
  expect(await page.locator('[role=alert]').count()).toBe(1);
  expect((await store.schedules.list()).map((x) => x.name)).not.toContain('console-bad');

  // removed: gone from the page and the store; the jobs it made are kept
  await card.getByRole('button', { name: 'Remove schedule console-every' }).click();
  await card.getByRole('button', { name: 'Yes, remove schedule console-every' }).click();
  await eventually(async () =>
    expect(await textOf(page.locator('section p[role=status]'))).toBe(
      'Schedule console-every removed; the jobs it made are kept.',
    ),
  );
  await eventually(async () => expect(await card.count()).toBe(0));
  expect((await store.schedules.list()).map((x) => x.name)).toEqual(['seed-batch']);
  expect(await store.reads.job(newest!.id)).toMatchObject({ schedule: 'console-every' });
  expect(page.errors.filter((e) => !/status of (400|401)/.test(e))).toEqual([]);
  await page.close();
}, 40_000);

test('one banner while Redis is away, no card repeating it; the cards come back when it returns', async () => {
  const redis: TestRedis = await startRedisServer();
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = spawnWizard(
    ['api', '--node-id', 'console-outage', '--port', String(port)],
    { ...env, REDIS_URL: redis.url, WIZARD_PREFIX: testPrefix('console-outage') },
    'api',
  );
  await server.waitForOutput(/api listening/);
  try {
    await redis.stop(true);
    const page = await open('#/', base);
    await eventually(
      async () =>
        expect(await textOf(page.locator('.banner'))).toMatch(
          /^The store is unavailable\. Redis at redis:\/\/127\.0\.0\.1:\d+ is unavailable/,
        ),
      15_000,
    );
    expect(await page.locator('.banner').count()).toBe(1);
    const main = await page.locator('main').innerText();
    expect(main).not.toContain('Redis is unavailable');
    expect(main.match(/is unavailable/g) ?? []).toEqual([]);
    // nothing read yet: the legend says so, over the window the charts open on
    expect(await textOf(page.locator('[data-chart="throughput"] .legend li').first())).toBe('done: — in the last 15m');
    // the schedules page too: its heading and form, the one banner, no error of its own
    await page.goto(`${base}/#/schedules`);
    await eventually(
      async () => expect(await textOf(page.locator('.banner'))).toMatch(/^The store is unavailable\./),
      15_000,
    );
    expect(await textOf(page.locator('main h2'))).toBe('Schedules');
    expect(await page.getByRole('button', { name: 'Add schedule' }).count()).toBe(1);
    expect((await page.locator('main').innerText()).match(/is unavailable/g) ?? []).toEqual([]);
    await page.goto(`${base}/#/`);
    await redis.start();
    await eventually(async () => expect(await page.locator('.banner-box').isVisible()).toBe(false), 20_000);
    const card = page
      .locator('.cards article')
      .filter({ has: page.locator('h3', { hasText: 'Store' }) })
      .locator('.figure');
    await eventually(async () => expect(await textOf(card)).toBe('up'));
    // an empty cluster's history, read: nothing done in the last 15 minutes
    await eventually(
      async () =>
        expect(await textOf(page.locator('[data-chart="throughput"] .legend li').first())).toBe(
          'done: 0 in the last 15m',
        ),
      15_000,
    );
    expect(page.errors.filter((e) => !/status of 503/.test(e))).toEqual([]);
    await page.close();
  } finally {
    await server.kill();
    await redis.destroy();
  }
});

test('with API tokens on and none given: one banner says so, not every card; the Store card does not wait forever', async () => {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = spawnWizard(
    ['api', '--node-id', 'console-tokens', '--port', String(port)],
    { ...env, WIZARD_API_TOKENS: 'viewer:client:console-client-token-0123' },
    'api',
  );
  await server.waitForOutput(/api listening/);
  const page = await open('#/', base);
  await eventually(async () => expect(await textOf(page.locator('.banner'))).toContain('This API needs a token.'));
  const main = await page.locator('main').innerText();
  expect(main).not.toContain('needs any token');
  const card = page
    .locator('.cards article')
    .filter({ has: page.locator('h3', { hasText: 'Store' }) })
    .locator('.figure');
  // the banner and the card are filled by separate requests: the card settles on "—", it does not stay "…"
  await eventually(async () => expect(await textOf(card)).toBe('—'));
  await giveToken(page, 'console-client-token-0123');
  await eventually(async () => expect(await textOf(card)).toBe('up'));
  await eventually(async () => expect(await page.locator('.banner-box').isVisible()).toBe(false));
  expect(page.errors.filter((e) => !/status of 401/.test(e))).toEqual([]);
  await page.close();
  await server.kill();
});
