/**
 * `npm run screenshots`: the dashboard's pictures in docs/, taken in headless Chromium from a
 * `wizard up` (in memory, on a free port) given a little work first, so the pages have
 * something to show: tasks, a prime count, abacus adds and, where this version has them, bots
 * working through a batch, and two schedules (a prime count every 5 s, a nightly task); the
 * overview's charts once they have points, the workers page, a prime count's page with its chunk
 * bars, a flow drawn as its graph and the schedules page with the jobs they made. Nothing is left running.
 */
import path from 'node:path';
import { launchBrowser } from '../test/helpers/browser';
import { http, killAll, spawnWizard, waitUntil } from '../test/helpers/procs';
import { freePort } from '../test/helpers/redis-server';
import { assetPath } from '../src/util/package-root';

const OUT = assetPath('docs');
const TOKEN = 'screenshots-admin-token';

async function main(): Promise<void> {
  const port = await freePort();
  const api = `http://127.0.0.1:${port}`;
  const up = spawnWizard(
    ['up', '--port', String(port), '--node-id', 'laptop', '--threads', '2', '--bots', '3'],
    {
      ADMIN_TOKEN: TOKEN,
      LOG_LEVEL: 'warn',
      PROCESSING_DURATION_MS: '1500',
      HEARTBEAT_INTERVAL_MS: '1000',
    },
    'up',
  );
  await up.waitForOutput(/dashboard at/);

  // some work for the pages to show
  for (const [a, b] of [
    [2, 3],
    [40, 2],
    [7, 6],
  ])
    await http('POST', `${api}/task`, { a, b });
  for (const n of [17, 25, -5]) await http('POST', `${api}/abacus/number`, { number: n });
  const populate = await fetch(`${api}/jobs/populate`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ count: 6 }),
  });
  const hasBots = populate.status !== 404;
  const admin = { authorization: `Bearer ${TOKEN}` };
  await http(
    'POST',
    `${api}/schedules`,
    { name: 'counts', type: 'primes', params: { n: 1_000_000, chunks: 4 }, every_ms: 5000 },
    admin,
  );
  await http(
    'POST',
    `${api}/schedules`,
    { name: 'nightly', type: 'task', params: { a: 2, b: 3 }, cron: '0 3 * * *', tz: 'Europe/Paris' },
    admin,
  );

  const browser = await launchBrowser({ width: 1200, height: 860 });
  try {
    const page = await browser.context.newPage();
    const shot = async (name: string, fullPage = false) => {
      await page.waitForTimeout(700); // let the bar's transition and the first polls settle
      await page.screenshot({ path: path.join(OUT, name), fullPage });
      process.stdout.write(`docs/${name}\n`);
    };

    await page.goto(`${api}/#/primes`);
    await page.getByLabel('n (count up to)').fill('10000000');
    await page.getByLabel('chunks').fill('16');
    await page.getByRole('button', { name: 'Count primes' }).click();
    await page.locator('.prime-count').waitFor({ timeout: 60_000 });
    await shot('dashboard-primes.png');
    const primeId = decodeURIComponent(new URL(page.url()).hash.replace('#/primes/', ''));

    // the bots at work: a few of their jobs finished, so throughput and the datalake show
    if (hasBots)
      await waitUntil(
        async () =>
          (await http<{ throughput_per_minute: number }>('GET', `${api}/metrics/summary`)).body.throughput_per_minute >=
          6,
        30_000,
        'bots finishing jobs',
        250,
      );
    await page.goto(`${api}/#/`);
    await page.locator('.cards').waitFor();
    // the history's charts (they open on the last 15 minutes), with the bars of what was just done in view
    const points = async (chart: string) =>
      Number(await page.locator(`[data-chart="${chart}"] svg`).getAttribute('data-points'));
    await waitUntil(
      async () => (await points('throughput')) > 0 && (await points('depth')) > 1,
      15_000,
      'the charts having points',
      250,
    );
    await shot('dashboard-overview.png', true);

    await page.goto(`${api}/#/workers`);
    await page.locator('.workers-table tbody tr').first().waitFor();
    await shot('dashboard-workers.png');

    await page.goto(`${api}/#/jobs/${encodeURIComponent(primeId)}`);
    await page.locator('.chunk-bars').waitFor();
    await shot('dashboard-job.png');

    // a flow: a diamond of tasks whose last node waits for both middle ones
    const flow = await http<{ flow_id: string }>('POST', `${api}/flows`, {
      name: 'diamond',
      nodes: [
        { id: 'fetch', type: 'task', params: { a: 1, b: 2 } },
        { id: 'left', type: 'task', params: { a: 3, b: 4 }, deps: ['fetch'] },
        { id: 'right', type: 'task', params: { a: 5, b: 6 }, deps: ['fetch'] },
        { id: 'sum', type: 'task', params: { a: 7, b: 8 }, deps: ['left', 'right'] },
      ],
    });
    await page.goto(`${api}/#/flows/${encodeURIComponent(flow.body.flow_id)}`);
    await page.locator('.flow-state', { hasText: 'SUCCESS' }).waitFor({ timeout: 30_000 });
    await shot('dashboard-flow.png', true);

    await page.goto(`${api}/#/bots`);
    await page.locator('main h2').waitFor();
    await shot('dashboard-bots.png');

    // the schedules with the token given, so the form is on; after a few counts of `counts`
    await waitUntil(
      async () =>
        (
          await http<{ jobs: { schedule: string | null; state: string }[] }>('GET', `${api}/jobs?limit=100`)
        ).body.jobs.filter((j) => j.schedule === 'counts' && j.state === 'SUCCESS').length >= 3,
      30_000,
      'three scheduled counts',
      250,
    );
    await page.goto(`${api}/#/schedules`);
    await page.locator('.admin-token summary').click();
    await page.getByLabel('Token', { exact: true }).fill(TOKEN);
    await page.getByRole('button', { name: 'Save' }).click();
    await page.locator('article[data-schedule="counts"] .schedule-jobs li').first().waitFor();
    await shot('dashboard-schedules.png', true);
  } finally {
    await browser.close();
    await killAll();
  }
}

main().catch(async (err) => {
  process.stderr.write(`screenshots: ${err instanceof Error ? err.message : String(err)}\n`);
  await killAll();
  process.exitCode = 1;
});
