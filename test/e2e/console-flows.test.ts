/**
 * The console's flows (issue 28, item 5), in headless Chromium against the built wizard (an api,
 * then a worker, on the test Redis): a diamond drawn as its graph, its nodes' states following
 * the flow live and each node a link to its job; the recent flows listed; a node's job page
 * linked to its flow; a fan-out of 200 wrapped and scrolled in its own box, not widening the
 * page. Under the strict Content-Security-Policy, with no console error.
 */
import type { Page } from 'playwright-core';
import { Browser, eventually, launchBrowser, openConsole, textOf } from '../helpers/browser';
import { testPrefix, testRedisUrl } from '../helpers/env';
import { http, killAll, spawnWizard } from '../helpers/procs';
import { freePort } from '../helpers/redis-server';

const env = { REDIS_URL: testRedisUrl(), WIZARD_PREFIX: testPrefix('console-flows'), BATCH_SIZE: '1' };

let api: string;
let browser: Browser;

beforeAll(async () => {
  const port = await freePort();
  api = `http://127.0.0.1:${port}`;
  const server = spawnWizard(['api', '--node-id', 'flows-api', '--port', String(port)], env, 'api');
  [browser] = await Promise.all([launchBrowser(), server.waitForOutput(/api listening/)]);
  await browser.context.route('**/*', (route) =>
    new URL(route.request().url()).hostname === '127.0.0.1' ? route.continue() : route.abort('internetdisconnected'),
  );
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await killAll();
});

const open = (path: string) => openConsole(browser, api, path);

const task = (a: number) => ({ type: 'task', params: { a, b: 1, op: 'add' } });
/** each drawn node: its id, its state class, its link */
const drawnNodes = (page: Page) =>
  page.locator('svg.flow-svg a.flow-node').evaluateAll((els) =>
    els
      .map((a) => ({
        node: a.getAttribute('data-node'),
        state: [...a.classList].filter((c) => c.startsWith('state-')).join(' '),
        href: a.getAttribute('href'),
      }))
      .sort((x, y) => String(x.node).localeCompare(String(y.node))),
  );
const drawnEdges = (page: Page) =>
  page
    .locator('svg.flow-svg path.flow-edge')
    .evaluateAll((els) => els.map((e) => `${e.getAttribute('data-from')}->${e.getAttribute('data-to')}`).sort());

let diamond: { flow_id: string; jobs: Record<string, string> };

test("a diamond's page draws 4 nodes linked to their jobs and 4 edges; the states follow the flow live, to SUCCESS", async () => {
  // no worker yet: the nodes wait
  const made = await http<typeof diamond>('POST', `${api}/flows`, {
    name: 'console-diamond',
    nodes: [
      { id: 'a', ...task(1) },
      { id: 'b', ...task(2), deps: ['a'] },
      { id: 'c', ...task(3), deps: ['a'] },
      { id: 'd', ...task(4), deps: ['b', 'c'] },
    ],
  });
  expect(made.status).toBe(202);
  diamond = made.body;
  const page = await open(`#/flows/${diamond.flow_id}`);
  const href = (n: string) => `#/jobs/${diamond.jobs[n]}`;
  await eventually(async () =>
    expect(await drawnNodes(page)).toEqual(
      ['a', 'b', 'c', 'd'].map((n) => ({ node: n, state: 'state-pending', href: href(n) })),
    ),
  );
  expect(await drawnEdges(page)).toEqual(['a->b', 'a->c', 'b->d', 'c->d']);
  const svg = page.locator('svg.flow-svg');
  expect([await svg.getAttribute('data-nodes'), await svg.getAttribute('data-edges')]).toEqual(['4', '4']);
  expect(await textOf(page.locator('.flow-state'))).toBe('RUNNING');
  // laid out by depth: a above b and c (one row), d below them
  const ys = Object.fromEntries(
    await page
      .locator('svg.flow-svg a.flow-node')
      .evaluateAll((els) =>
        els.map((a) => [a.getAttribute('data-node'), Number(a.querySelector('rect')!.getAttribute('y'))]),
      ),
  );
  expect(ys.a).toBeLessThan(ys.b);
  expect(ys.b).toBe(ys.c);
  expect(ys.c).toBeLessThan(ys.d);

  // a worker runs it: the page follows without a reload
  spawnWizard(['worker', '--node-id', 'flows-worker', '--concurrency', '4'], env, 'worker');
  await eventually(async () => {
    expect(await drawnNodes(page)).toEqual(
      ['a', 'b', 'c', 'd'].map((n) => ({ node: n, state: 'state-success', href: href(n) })),
    );
    expect(await textOf(page.locator('.flow-state'))).toBe('SUCCESS');
  }, 45_000);
  expect(await textOf(page.locator('.flow-progress'))).toContain('4 of 4 nodes finished');

  // a node is a link to its job's page, which links back to the flow
  await page.locator('svg.flow-svg a.flow-node[data-node="d"]').click();
  await eventually(async () => expect(await textOf(page.locator('main h2'))).toBe(`Job ${diamond.jobs.d.slice(0, 8)}`));
  await eventually(async () =>
    expect(await page.locator('.job-flow a').getAttribute('href', { timeout: 1000 })).toBe(
      `#/flows/${diamond.flow_id}`,
    ),
  );
  expect(await textOf(page.locator('.job-flow'))).toBe(`node d of ${diamond.flow_id}`);
  expect(page.errors).toEqual([]);
  await page.close();
}, 90_000);

test('the flows page, from the nav, lists the diamond with its state, progress and name, linked to its page', async () => {
  const page = await open('#/');
  await page.locator('nav a[href="#/flows"]').click();
  await eventually(async () => expect(await textOf(page.locator('main h2'))).toBe('Flows'));
  const row = page.locator(`tr[data-flow="${diamond.flow_id}"]`);
  await eventually(async () =>
    expect((await row.locator('td').allInnerTexts()).map((t) => t.trim()).slice(1, 4)).toEqual([
      'console-diamond',
      'SUCCESS',
      '4/4',
    ]),
  );
  expect(await textOf(row.locator('td').nth(4))).toMatch(/ago$/);
  await row.locator('a').click();
  await eventually(async () => expect(await drawnEdges(page)).toEqual(['a->b', 'a->c', 'b->d', 'c->d']));
  expect(page.errors).toEqual([]);
  await page.close();
}, 60_000);

test('a fan-out of 200 into one node: every node and edge drawn, the wide layer wrapped, the graph scrolled in its own box', async () => {
  const leaves = Array.from({ length: 200 }, (_, i) => ({ id: `leaf-${i}`, ...task(i), deps: ['root'] }));
  const made = await http<{ flow_id: string }>('POST', `${api}/flows`, {
    name: 'fan',
    nodes: [{ id: 'root', ...task(0) }, ...leaves, { id: 'sum', ...task(0), deps: leaves.map((l) => l.id) }],
  });
  expect(made.status).toBe(202);
  const page = await open(`#/flows/${made.body.flow_id}`);
  const svg = page.locator('svg.flow-svg');
  await eventually(async () => {
    expect(await svg.getAttribute('data-nodes', { timeout: 1000 })).toBe('202');
    expect(await svg.getAttribute('data-edges')).toBe('400');
  }, 30_000);
  // 200 leaves on 25 rows of 8: the picture is 8 boxes wide, not 200
  expect(Number(await svg.getAttribute('width'))).toBeLessThan(1300);
  const placed = await page
    .locator('svg.flow-svg a.flow-node[data-node^="leaf-"] rect')
    .evaluateAll((els) => els.map((r) => [r.getAttribute('x'), r.getAttribute('y')]));
  expect([new Set(placed.map(([x]) => x)).size, new Set(placed.map(([, y]) => y)).size]).toEqual([8, 25]);
  // the page itself does not scroll sideways, on a wide screen nor on a phone: the graph's box does
  for (const width of [1280, 375]) {
    await page.setViewportSize({ width, height: 900 });
    const [pageScroll, pageWidth, boxScroll, boxWidth] = (await page.evaluate(
      "[document.documentElement.scrollWidth, window.innerWidth, document.querySelector('.flow-box').scrollWidth, document.querySelector('.flow-box').clientWidth]",
    )) as number[];
    expect(pageScroll).toBeLessThanOrEqual(pageWidth);
    if (width === 375) expect(boxScroll).toBeGreaterThan(boxWidth);
  }
  await eventually(async () => expect(await textOf(page.locator('.flow-state'))).toBe('SUCCESS'), 60_000);
  expect(page.errors).toEqual([]);
  await page.close();
}, 120_000);
