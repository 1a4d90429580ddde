/**
 * The dashboard in a real browser (headless Chromium) against real processes: an api, a
 * worker, the test Redis (and a bot, once `wizard bot` exists). Every request the page makes
 * is seen: anything not addressed to the api is refused and recorded, and none may happen.
 * The tests run in order on one cluster and build on each other's work: the jobs, datalake
 * and overview tests look at what the prime count, the task and the populated batch left.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { PUBLIC_DIR } from '../../src/roles/api/routes/console';
import { Browser, eventually, launchBrowser, STRICT_CSP, textOf } from '../helpers/browser';
import { testPrefix, testRedisUrl } from '../helpers/env';
import { http, killAll, spawnWizard, WIZARD_BIN } from '../helpers/procs';
import { freePort } from '../helpers/redis-server';

const ADMIN_TOKEN = 'dash-admin-token';
const env = { REDIS_URL: testRedisUrl(), WIZARD_PREFIX: testPrefix('dashboard'), ADMIN_TOKEN };
/** `wizard bot` arrives with seed 004: its test turns on by itself once --help lists the command */
const hasBotCommand = /^ {2}bot\b/m.test(
  spawnSync(process.execPath, [WIZARD_BIN, '--help'], { encoding: 'utf8' }).stdout,
);

let api: string;
let browser: Browser;
const elsewhere: string[] = [];
const requested: string[] = [];
/** the api's origin, and the token-guarded api's of the last test */
const origins = new Set<string>();

beforeAll(async () => {
  const port = await freePort();
  api = `http://127.0.0.1:${port}`;
  origins.add(api);
  const server = spawnWizard(['api', '--node-id', 'dash-api', '--port', String(port)], env, 'api');
  spawnWizard(['worker', '--node-id', 'dash-worker', '--threads', '2', '--concurrency', '8'], env, 'worker');
  [browser] = await Promise.all([launchBrowser(), server.waitForOutput(/api listening/)]);
  // no network but this machine: whatever else the page asks for is refused and remembered
  await browser.context.route('**/*', (route) => {
    const url = route.request().url();
    requested.push(url);
    if (origins.has(new URL(url).origin)) return route.continue();
    elsewhere.push(url);
    return route.abort('internetdisconnected');
  });
}, 30_000);

afterAll(async () => {
  await browser?.close();
  await killAll();
});

async function open(path: string, width = 1280, base = api): Promise<Page> {
  const page = await browser.context.newPage();
  await page.setViewportSize({ width, height: 900 });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    // a route this server lacks answers 404 by design; anything else the page logs is a fault
    if (m.type() === 'error' && !/status of 404/.test(m.text())) errors.push(m.text());
    if (m.type() === 'warning' && /Alpine/.test(m.text())) errors.push(m.text());
  });
  (page as Page & { errors?: string[] }).errors = errors;
  await page.goto(`${base}/${path}`);
  await page.locator('main h2').first().waitFor();
  return page;
}
const errorsOf = (page: Page) => (page as Page & { errors?: string[] }).errors ?? [];

test('GET / is the page for a browser and a JSON description for anything else; the libraries come from the package', async () => {
  const page = await fetch(`${api}/`, { headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
  expect(page.headers.get('content-type')).toMatch(/^text\/html/);
  expect(await page.text()).toContain('<script defer src="vendor/alpine-csp.min.js"></script>');
  const root = await http<{ name: string; dashboard: string }>('GET', `${api}/`);
  expect(root.body).toMatchObject({ name: 'wizard', node_id: 'dash-api', dashboard: '/' });
  for (const [file, type] of [
    ['vendor/alpine-csp.min.js', /javascript/],
    ['vendor/pico.min.css', /text\/css/],
    ['states.js', /javascript/],
    ['lib.js', /javascript/],
    ['app.js', /javascript/],
    ['app.css', /text\/css/],
  ] as const) {
    const res = await fetch(`${api}/${file}`);
    expect({ file, status: res.status, type: res.headers.get('content-type') }).toEqual({
      file,
      status: 200,
      type: expect.stringMatching(type),
    });
  }
  expect(await http('GET', `${api}/vendor/nothing.js`)).toMatchObject({
    status: 404,
    body: { error: { code: 'not_found' } },
  });
});

test('the console is split by page: index.html loads a script per page, each fetches its markup from beside it; every file is served revalidated, under the CSP, and under 500 lines', async () => {
  const html = await (await fetch(`${api}/`, { headers: { accept: 'text/html' } })).text();
  const scripts = [...html.matchAll(/<script defer src="([^"]+)"><\/script>/g)].map((m) => m[1]);
  const pageFiles = fs.readdirSync(path.join(PUBLIC_DIR, 'pages')).sort();
  const pages = [
    'abacus',
    'bots',
    'datalake',
    'dlq',
    'flows',
    'jobs',
    'math',
    'overview',
    'primes',
    'queues',
    'schedules',
    'workers',
  ];
  expect(pageFiles).toEqual(pages.flatMap((p) => [`${p}.html`, `${p}.js`]));
  expect(scripts).toEqual([
    'states.js',
    'lib.js',
    'app.js',
    'charts.js',
    ...scripts.filter((f) => f.startsWith('pages/')),
    'vendor/alpine-csp.min.js',
  ]);
  expect(scripts.filter((f) => f.startsWith('pages/')).sort()).toEqual(pages.map((p) => `pages/${p}.js`));

  const markup: string[] = [];
  for (const file of scripts.filter((f) => !f.startsWith('vendor/'))) {
    const res = await fetch(`${api}/${file}`);
    expect({
      file,
      status: res.status,
      type: res.headers.get('content-type'),
      cache: res.headers.get('cache-control'),
    }).toEqual({ file, status: 200, type: expect.stringMatching(/javascript/), cache: 'public, max-age=0' });
    markup.push(...[...(await res.text()).matchAll(/window\.wizardConsole\.add\('([^']+)'/g)].map((m) => m[1]));
  }
  // each page's script adds its own markup; charts.js the charts the overview and the abacus share
  expect(markup.sort()).toEqual(['charts.html', ...pages.map((p) => `pages/${p}.html`)].sort());
  for (const file of markup) {
    const res = await fetch(`${api}/${file}`);
    expect({
      file,
      status: res.status,
      type: res.headers.get('content-type'),
      cache: res.headers.get('cache-control'),
      etag: Boolean(res.headers.get('etag')),
    }).toEqual({
      file,
      status: 200,
      type: expect.stringMatching(/^text\/html/),
      cache: 'public, max-age=0',
      etag: true,
    });
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
  }
  const long: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, e.name);
      if (e.isDirectory()) walk(file);
      else if (fs.readFileSync(file, 'utf8').split('\n').length > 500) long.push(path.relative(PUBLIC_DIR, file));
    }
  };
  walk(PUBLIC_DIR);
  expect(long).toEqual([]);
});

test("a page's markup that does not load is said at the top, and the other pages work", async () => {
  const page = await browser.context.newPage();
  await page.route(`${api}/pages/math.html`, (route) =>
    route.fulfill({ status: 500, contentType: 'text/plain', body: 'broken' }),
  );
  await page.goto(`${api}/#/`);
  await eventually(async () =>
    expect(await textOf(page.locator('main .markup-missing'))).toBe(
      'Part of the dashboard did not load (pages/math.html: HTTP 500). Reload the page to try again.',
    ),
  );
  expect(await textOf(page.locator('main h2'))).toBe('Overview');
  await page.goto(`${api}/#/primes`);
  await eventually(async () => expect(await textOf(page.locator('main h2'))).toBe('Count primes'));
  await page.close();
});

test('a prime count through the form: the bar fills to 100% over SSE and shows 78,498 and the duration', async () => {
  const page = await open('#/primes');
  await page.getByLabel('n (count up to)').fill('1000000');
  await page.getByLabel('chunks').fill('8');
  await page.getByRole('button', { name: 'Count primes' }).click();

  await eventually(async () => expect(await textOf(page.locator('.prime-count'))).toBe('78,498'), 30_000);
  expect(
    await page.locator('#primes-progress').evaluate((el: { value: number; max: number }) => [el.value, el.max]),
  ).toEqual([8, 8]);
  expect(await textOf(page.locator('label[for="primes-progress"]'))).toMatch(/^8 of 8 chunks\s*·\s*100%$/);
  expect(await textOf(page.locator('.prime-job .duration'))).toMatch(/^\d+(\.\d+)? s$/);
  expect(await textOf(page.locator('.prime-job .state'))).toBe('SUCCESS');
  const id = /#\/primes\/([0-9a-z]{16})$/.exec(page.url())?.[1];
  expect(id).toBeDefined();
  expect(requested).toContain(`${api}/api/jobs/${id}/events`); // the bar was driven by the event stream

  // the job's page lists its eight chunks, each finished
  await page.getByRole('link', { name: 'The job and its chunks' }).click();
  await eventually(async () => expect(await textOf(page.locator('main h2'))).toBe(`Job ${id!.slice(0, 8)}`));
  await eventually(async () => expect(await page.locator('tbody .state-success').count()).toBe(8));
  expect(await page.locator('tbody tr').count()).toBeGreaterThanOrEqual(5); // the count, the task, the batch
  expect(errorsOf(page)).toEqual([]);
  await page.close();
});

test("a bad n: the server's message appears as it is, and the field is marked invalid", async () => {
  const page = await open('#/primes');
  await page.getByLabel('n (count up to)').fill('5');
  await page.getByRole('button', { name: 'Count primes' }).click();
  await eventually(async () =>
    expect(await textOf(page.getByRole('alert'))).toContain('n must be an integer >= 10000'),
  );
  expect(await page.getByLabel('n (count up to)').getAttribute('aria-invalid')).toBe('true');
  expect(await page.locator('.prime-job').count()).toBe(0);
  await page.close();
});

test('error states: Redis down (503) and a FAILURE with its reason', async () => {
  const page = await open('#/primes');
  // the server's answers as they are when Redis is away, and a job that failed
  await page.route('**/api/count-primes', (route) =>
    route.fulfill({
      status: 503,
      contentType: 'application/json',
      headers: { 'retry-after': '1' },
      body: JSON.stringify({
        error: { code: 'store_unavailable', message: 'Redis at redis://10.9.9.9:6379 is unavailable', details: [] },
      }),
    }),
  );
  await page.getByRole('button', { name: 'Count primes' }).click();
  await eventually(async () =>
    expect(await textOf(page.getByRole('alert'))).toContain(
      'Redis is unavailable: Redis at redis://10.9.9.9:6379 is unavailable',
    ),
  );

  const failed = {
    job_id: '00000000-0000-4000-8000-000000000001',
    state: 'FAILURE',
    progress: { completed: 3, total: 8 },
    result: null,
    error: 'chunk 4 failed for good: out of memory',
    params: { n: 1e6, chunks: 8 },
  };
  await page.route('**/api/jobs/*/events', (route) =>
    route.fulfill({
      status: 200,
      contentType: 'text/event-stream',
      body: `event: state\ndata: ${JSON.stringify(failed)}\n\n`,
    }),
  );
  await page.goto(`${api}/#/primes/${failed.job_id}`);
  await eventually(async () =>
    expect(await textOf(page.locator('.prime-job .failure'))).toBe(
      'The job failed: chunk 4 failed for good: out of memory',
    ),
  );
  expect(await textOf(page.locator('.prime-job .state'))).toBe('FAILURE');
  await page.close();
});

test("under a strict Content-Security-Policy (no eval, nothing inline) the page works: Alpine's CSP build", async () => {
  const page = await browser.context.newPage();
  const errors: string[] = [];
  page.on('console', (m) => m.type() === 'error' && !/status of 400/.test(m.text()) && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(e.message));
  await page.route(`${api}/`, async (route) => {
    const res = await route.fetch();
    await route.fulfill({ response: res, headers: { ...res.headers(), 'content-security-policy': STRICT_CSP } });
  });
  await page.goto(`${api}/#/primes`);
  await page.getByLabel('n (count up to)').fill('5');
  await page.getByRole('button', { name: 'Count primes' }).click();
  await eventually(async () =>
    expect(await textOf(page.getByRole('alert'))).toContain('n must be an integer >= 10000'),
  );
  expect(errors).toEqual([]);
  await page.close();
});

test('math: a task shows who initiated, checked and handled it', async () => {
  const page = await open('#/math');
  await page.getByLabel('a', { exact: true }).fill('20');
  await page.getByLabel('b', { exact: true }).fill('22');
  await page.getByRole('button', { name: 'Queue task' }).click();
  const steps = page.locator('.lifecycle li');
  await eventually(async () => expect(await textOf(steps.nth(2))).toContain('dash-worker'), 15_000);
  expect(await textOf(steps.nth(0))).toContain('dash-api');
  expect(await textOf(steps.nth(1))).toContain('dash-api');
  await eventually(async () => expect(await textOf(page.locator('.lifecycle + [role=status]'))).toBe('Result: 42'));
  await page.close();
});

test('abacus: an add moves the live sum; a reset needs the admin token', async () => {
  const page = await open('#/abacus');
  const sum = page.locator('.sum .figure');
  await page.getByLabel('Number to add (negative subtracts)').fill('42');
  await page.getByRole('button', { name: 'Add', exact: true }).click();
  await eventually(async () => expect(await textOf(sum)).toBe('42'));

  await page.getByRole('button', { name: 'Reset the sum…' }).click();
  await page.getByRole('button', { name: 'Yes, reset it to 0' }).click();
  await eventually(async () => expect(await textOf(page.getByRole('alert'))).toContain('admin token'));
  expect(await textOf(sum)).toBe('42');

  await giveToken(page);
  await page.getByRole('button', { name: 'Reset the sum…' }).click();
  await page.getByRole('button', { name: 'Yes, reset it to 0' }).click();
  await eventually(async () =>
    expect(await textOf(page.locator('.notice[role=status]'))).toBe('Sum successfully reset to 0'),
  );
  await eventually(async () => expect(await textOf(sum)).toBe('0'));
  await page.close();
});

(hasBotCommand ? test : test.skip)(
  'the bots page lists a running bot, up, with its last heartbeat, and its own page',
  async () => {
    const bot = spawnWizard(['bot', '--api', api, '--name', 'dash-bot', '--heartbeat-interval-ms', '500'], env, 'bot');
    const page = await open('#/bots');
    const row = page.locator('tbody tr').filter({ hasText: 'dash-bot' });
    await eventually(async () => expect(await textOf(row.locator('.bot'))).toBe('up'), 15_000);
    expect(await textOf(row)).toMatch(/\d+ s ago/);
    await row.getByRole('link', { name: 'dash-bot' }).click();
    await eventually(async () => expect(await textOf(page.locator('main h2'))).toBe('Bot'));
    expect(await textOf(page.locator('.fields'))).toContain('dash-bot');
    expect(await textOf(page.locator('.fields .bot'))).toBe('up');
    expect(errorsOf(page)).toEqual([]);
    await page.close();
    await bot.kill();
  },
);

/** the form fields on the page without a label */
const UNLABELLED = `[...document.querySelectorAll('input, select, textarea')].filter((el) => el.labels.length === 0 && !el.getAttribute('aria-label')).map((el) => el.outerHTML)`;

/** a token (the admin token by default) in this page's sessionStorage, as a person types it into the header */
async function giveToken(page: Page, token = ADMIN_TOKEN): Promise<void> {
  await page.locator('summary').filter({ hasText: 'Token' }).click();
  await page.getByLabel('Token', { exact: true }).fill(token);
  await page.getByRole('button', { name: 'Save' }).click();
}

test('bots admin: with the token, "Add bot" registers one, "Populate" makes jobs, "Delete" removes the bot', async () => {
  const page = await open('#/bots');
  await giveToken(page);
  await page.getByLabel("New bot's name (optional)").fill('dash-added');
  await page.getByRole('button', { name: 'Add bot' }).click();
  await eventually(async () =>
    expect(await textOf(page.locator('.notice[role=status]'))).toMatch(
      /^Registered dash-added \(bot-[0-9a-f-]{36}\)\. Its token, shown only now: \S{20,}$/,
    ),
  );
  const row = page.locator('tbody tr').filter({ hasText: 'dash-added' });
  await eventually(async () => expect(await row.count()).toBe(1));

  await page.getByLabel('Jobs to create').fill('3');
  await page.getByRole('button', { name: 'Populate' }).click();
  await eventually(async () =>
    expect(await textOf(page.locator('.notice[role=status]'))).toMatch(/^Created 3 sim jobs in batch manual-\w+\.$/),
  );

  await row.getByRole('button', { name: 'Delete bot dash-added' }).click();
  await row.getByRole('button', { name: 'Yes, delete bot dash-added' }).click();
  await eventually(async () => expect(await textOf(page.locator('.notice[role=status]'))).toMatch(/^Deleted bot bot-/));
  await eventually(async () => expect(await row.count()).toBe(0));
  expect(errorsOf(page)).toEqual([]);
  await page.close();
});

test("jobs: the list filtered by state, and a job's record", async () => {
  const page = await open('#/jobs');
  await page.getByLabel('State').selectOption('SUCCESS');
  await eventually(async () =>
    expect(new Set(await page.locator('tbody .state').allInnerTexts())).toEqual(new Set(['SUCCESS'])),
  );
  const types = new Set(await page.locator('tbody tr td:nth-child(2)').allInnerTexts());
  expect([...types]).toEqual(expect.arrayContaining(['primes', 'task'])); // the list is of top-level jobs

  await page.getByLabel('State').selectOption('PENDING'); // the populated batch: no bot runs now
  await eventually(async () =>
    expect(await page.locator('tbody .state').allInnerTexts()).toEqual(['PENDING', 'PENDING', 'PENDING']),
  );
  expect(await textOf(page.locator('.pager'))).toContain('1–3 of 3');
  await page.locator('tbody a').first().click();
  await eventually(async () => expect(await textOf(page.locator('.fields'))).toMatch(/Type\s+sim\s+State\s+PENDING/));
  expect(errorsOf(page)).toEqual([]);
  await page.close();
});

test('datalake: per-day stats and an NDJSON export link per day; the overview counts it all', async () => {
  const page = await open('#/datalake');
  const today = new Date().toISOString().slice(0, 10);
  const row = page.locator('tbody tr').filter({ hasText: today });
  await eventually(async () => expect(await textOf(row)).toContain('NDJSON'));
  const href = await row.getByRole('link').getAttribute('href');
  expect(href).toBe(`datalake/export/${today}`);
  const exported = await fetch(`${api}/${href}`);
  expect(exported.status).toBe(200);
  const records = (await exported.text())
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  expect(records.some((r) => r.type === 'primes' && r.status === 'SUCCESS')).toBe(true);

  await page.goto(`${api}/#/`);
  const card = (title: string) =>
    page
      .locator('.cards article')
      .filter({ has: page.locator('h3', { hasText: title }) })
      .locator('.figure');
  await eventually(async () => expect(await textOf(card('Workers up'))).toBe('1'));
  expect(await textOf(card('Queued jobs'))).toBe('3');
  expect(Number(await textOf(card('Throughput')))).toBeGreaterThan(0);
  expect(await page.locator('tbody tr').count()).toBeGreaterThanOrEqual(5); // the count, the task, the batch
  expect(errorsOf(page)).toEqual([]);
  await page.close();
});

test('375 px wide: every page fits, with no horizontal scroll, and every field has a label', async () => {
  const page = await open('#/', 375);
  for (const route of ['#/', '#/math', '#/primes', '#/jobs', '#/bots', '#/datalake', '#/abacus']) {
    await page.goto(`${api}/${route}`);
    await page.locator('main h2').first().waitFor();
    await page.waitForLoadState('networkidle');
    const [scrollWidth, width] = (await page.evaluate(
      '[document.documentElement.scrollWidth, window.innerWidth]',
    )) as number[];
    expect({ route, scrollWidth }).toEqual({ route, scrollWidth: width });
    expect({ route, unlabelled: await page.evaluate(UNLABELLED) }).toEqual({ route, unlabelled: [] });
  }
  expect(errorsOf(page)).toEqual([]);
  await page.close();
});

test('keyboard: the first Tab reaches the skip link, which moves focus to the heading; focus is visible', async () => {
  const page = await open('#/primes');
  await page.keyboard.press('Tab');
  expect(await page.evaluate('document.activeElement.textContent')).toBe('Skip to content');
  await page.keyboard.press('Enter');
  expect(await page.evaluate('document.activeElement.id')).toBe('primes-title');
  // onwards from the heading: the form's fields, then its button, each with a visible ring
  await page.keyboard.press('Tab');
  expect(await page.evaluate('document.activeElement.id')).toBe('primes-n');
  await page.keyboard.press('Tab');
  await page.keyboard.press('Tab');
  expect(await page.evaluate('document.activeElement.textContent')).toBe('Count primes');
  const ring = (await page.evaluate(
    '[getComputedStyle(document.activeElement).outlineStyle, getComputedStyle(document.activeElement).boxShadow]',
  )) as string[];
  expect(ring[0] !== 'none' || ring[1] !== 'none').toBe(true);
  await page.keyboard.press('Enter'); // submits: the count runs from the keyboard alone
  await eventually(async () => expect(await textOf(page.locator('.prime-job .state'))).toBe('SUCCESS'), 30_000);
  await page.close();
});

test('the page asked nothing of any host but the api (it works with no network)', () => {
  expect(requested.length).toBeGreaterThan(10);
  expect(requested).toEqual(expect.arrayContaining([`${api}/vendor/pico.min.css`, `${api}/vendor/alpine-csp.min.js`]));
  expect(elsewhere).toEqual([]);
});

test('with API tokens on, the page asks for one; with a client token it submits a count and follows it live over the stream', async () => {
  const port = await freePort();
  const secured = `http://127.0.0.1:${port}`;
  origins.add(secured);
  const token = 'dash-client-token-0123456789';
  const securedEnv = {
    ...env,
    WIZARD_PREFIX: testPrefix('dashboard-tokens'),
    WIZARD_API_TOKENS: `viewer:client:${token}`,
  };
  const server = spawnWizard(['api', '--node-id', 'dash-secured', '--port', String(port)], securedEnv, 'api');
  spawnWizard(
    ['worker', '--node-id', 'dash-secured-worker', '--threads', '2', '--concurrency', '8'],
    securedEnv,
    'worker',
  );
  await server.waitForOutput(/api listening/);

  const page = await open('#/primes', 1280, secured);
  await page.getByLabel('n (count up to)').fill('1000000');
  await page.getByLabel('chunks').fill('8');
  await page.getByRole('button', { name: 'Count primes' }).click();
  await eventually(async () =>
    expect(await textOf(page.getByRole('alert'))).toContain('Enter it under "Token" at the top'),
  );

  await giveToken(page, token);
  await page.getByRole('button', { name: 'Count primes' }).click();
  await eventually(async () => expect(await textOf(page.locator('.prime-count'))).toBe('78,498'), 30_000);
  expect(
    await page.locator('#primes-progress').evaluate((el: { value: number; max: number }) => [el.value, el.max]),
  ).toEqual([8, 8]);
  const id = /#\/primes\/([0-9a-z]{16})$/.exec(page.url())?.[1];
  expect(requested).toContain(`${secured}/api/jobs/${id}/events`); // the stream, opened with the token
  expect(errorsOf(page).filter((e) => !/status of 401/.test(e))).toEqual([]);
  await page.close();
});

test('on a node with no admin token the admin actions show as unavailable; registering a bot still works', async () => {
  const port = await freePort();
  const bare = `http://127.0.0.1:${port}`;
  origins.add(bare);
  const server = spawnWizard(
    ['api', '--node-id', 'dash-bare', '--port', String(port)],
    { ...env, WIZARD_PREFIX: testPrefix('dashboard-bare'), ADMIN_TOKEN: '' },
    'api',
  );
  await server.waitForOutput(/api listening/);

  const page = await open('#/bots', 1280, bare);
  await eventually(async () =>
    expect(await textOf(page.locator('.admin .admin-off'))).toMatch(
      /^Unavailable: this node has no admin token configured/,
    ),
  );
  expect(await page.getByRole('button', { name: 'Populate' }).isDisabled()).toBe(true);
  await page.getByLabel("New bot's name (optional)").fill('bare-added');
  await page.getByRole('button', { name: 'Add bot' }).click();
  await eventually(async () =>
    expect(await textOf(page.locator('.notice[role=status]'))).toMatch(/^Registered bare-added/),
  );
  const row = page.locator('tbody tr').filter({ hasText: 'bare-added' });
  await eventually(async () => expect(await row.count()).toBe(1));
  expect(await row.getByRole('button', { name: 'Delete bot bare-added' }).isDisabled()).toBe(true);

  await page.goto(`${bare}/#/abacus`);
  await page.locator('main h2').first().waitFor();
  await eventually(async () =>
    expect(await page.getByRole('button', { name: 'Reset the sum…' }).isDisabled()).toBe(true),
  );
  expect(await textOf(page.locator('.actions .admin-off'))).toMatch(/none configured/);
  expect(errorsOf(page)).toEqual([]);
  await page.close();
});
