/**
 * Headless Chromium for the dashboard's tests and screenshots: Debian's /usr/bin/chromium
 * driven by playwright-core, which never downloads a browser. A fresh profile per launch,
 * removed on close. When Chromium is missing this throws, loudly: CI installs it (.ci/run).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, BrowserContext, Locator } from 'playwright-core';

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
