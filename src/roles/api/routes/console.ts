/**
 * The console (the dashboard), served from the package itself with no build step: index.html (the shell: the
 * header, the banner, an empty <main>), app.css, and its scripts: lib.js (the plumbing), app.js
 * (the root component and the loader), charts.js with charts.html (the history charts), and one
 * script per page, pages/<page>.js, that fetches its markup, pages/<page>.html, from beside it.
 * The two libraries it uses are served from their npm packages by path, so it works offline,
 * from a clone after `npm ci` and from the built dist alike. Nothing is copied at build time.
 *
 * Every file is revalidated on each load (index.html: no-cache; the rest: max-age=0 with
 * Last-Modified and ETag), so a new version of the package shows at once; the CSP (security.ts)
 * allows scripts and fetches from this origin only, which is all the page asks.
 *
 * GET / answers a browser (Accept: text/html) with the page and anything else (curl, a
 * script) with a short JSON description of the service, as the prime counter's root endpoint always did.
 */
import fs from 'node:fs';
import express, { type RequestHandler } from 'express';
import { z } from 'zod';
import { assetPath } from '../../../util/package-root';
import { reply, RESPONSES } from '../responses';
import type { Route } from '../route';

export const PUBLIC_DIR = assetPath('src', 'roles', 'api', 'public');

/** the vendored files the page links to, by their name under /vendor/ */
export const VENDOR_FILES = new Map<string, string>([
  ['alpine-csp.min.js', require.resolve('@alpinejs/csp/dist/cdn.min.js')],
  ['pico.min.css', require.resolve('@picocss/pico/css/pico.min.css')],
]);

const version = () => (JSON.parse(fs.readFileSync(assetPath('package.json'), 'utf8')) as { version: string }).version;

export const consoleRoutes: Route[] = [
  {
    method: 'GET',
    path: '/',
    need: 'public',
    tag: 'operations',
    summary: 'the dashboard for a browser (Accept: text/html); {name, version, node_id, dashboard, health} otherwise',
    store: false,
    ok: {
      200: {
        description: 'the dashboard page, or the JSON summary',
        content: { 'text/html': null, 'application/json': 'root' },
      },
    },
    handler: (ctx) => {
      const v = version();
      return (req, res, next) => {
        if (!/\btext\/html\b/.test(req.get('accept') ?? '')) {
          reply(res, RESPONSES.root, {
            name: 'wizard',
            version: v,
            node_id: ctx.nodeId,
            dashboard: '/',
            health: '/health',
          });
          return;
        }
        res.set('cache-control', 'no-cache').sendFile('index.html', { root: PUBLIC_DIR }, (err) => err && next(err));
      };
    },
  },
  {
    method: 'GET',
    path: '/vendor/:file',
    need: 'public',
    tag: 'operations',
    summary: "the dashboard's libraries (Alpine.js, Pico.css), served from the package",
    store: false,
    params: { file: z.enum([...VENDOR_FILES.keys()] as [string, ...string[]]) },
    ok: { 200: { description: 'the file', content: { 'text/javascript': null, 'text/css': null } } },
    errors: { 404: 'no such file' },
    handler: () => (req, res, next) => {
      const file = VENDOR_FILES.get(req.params.file as string);
      if (!file) return next();
      res.set('cache-control', 'public, max-age=86400').sendFile(file, (err) => err && next(err));
    },
  },
];

/** the console's other files (scripts, pages, styles): mounted after every route */
export function consoleFiles(): RequestHandler {
  // the page changes with the package: a browser revalidates it (cheap, by Last-Modified)
  return express.static(PUBLIC_DIR, { index: false, cacheControl: true, maxAge: 0, fallthrough: true });
}
