/**
 * Headless Chromium for the dashboard's tests and screenshots: Debian's /usr/bin/chromium
 * driven by playwright-core, which never downloads a browser. A fresh profile per launch,
 * removed on close. When Chromium is missing this throws, loudly: CI installs it (.ci/run).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, BrowserContext, Locator, Page } from 'playwright-core';

export const CHROMIUM = process.env.WIZARD_CHROMIUM ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
];

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

export async function launchBrowser(options: { width?: number; height?: number } = {}): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is not at ${CHROMIUM}: install it (apt-get install chromium; .ci/run does) or point WIZARD_CHROMIUM at one. The dashboard's browser tests cannot run without it.`,
    );
  }
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'wizard-chromium-'));
  try {
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      locale: 'en-US',
      timezoneId: 'UTC',
      viewport: { width: options.width ?? 1280, height: options.height ?? 900 },
    });
    return {
      context,
      async close() {
        await context.close().catch(() => {});
        fs.rmSync(profile, { recursive: true, force: true });
      },
    };
  } catch (err) {
    fs.rmSync(profile, { recursive: true, force: true });
    throw err;
  }
}

/**
 * Retries a check (jest assertions on what the page shows) until it passes; after timeoutMs
 * the last failure is thrown as it is, so the message says what the page showed instead.
 */
export async function eventually(check: () => Promise<void>, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > until) throw err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** the rendered text of the first element a locator finds, waiting a moment for it to be there */
export const textOf = (locator: Locator) => locator.first().innerText({ timeout: 1000 });

/** what the console needs and no more: Pico's icons are data: images, everything else is this origin */
export const STRICT_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'";

/** a console page that records every console error and page error the page had */
export type ConsolePage = Page & { errors: string[] };

/** the console at `${base}/${path}` under the strict CSP, once its first heading is there */
export async function openConsole(browser: Browser, base: string, path: string): Promise<ConsolePage> {
  const page = (await browser.context.newPage()) as ConsolePage;
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  page.on('console', (m) => m.type() === 'error' && page.errors.push(m.text()));
  await page.route(`${base}/`, async (route) => {
    const res = await route.fetch();
    await route.fulfill({ response: res, headers: { ...res.headers(), 'content-security-policy': STRICT_CSP } });
  });
  await page.goto(`${base}/${path}`);
  await page.locator('main h2').first().waitFor();
  return page;
}
