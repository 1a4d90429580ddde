/**
 * The dashboard, served from the package itself with no build step: index.html (the shell: the
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
import express, { Router } from 'express';
import { assetPath, packageVersion } from '../../../util/package-root';
import type { ApiContext } from '../context';
import { reply, RESPONSES } from '../responses';

export const PUBLIC_DIR = assetPath('src', 'roles', 'api', 'public');

/** the vendored files the page links to, by their name under /vendor/ */
export const VENDOR_FILES = new Map<string, string>([
  ['alpine-csp.min.js', require.resolve('@alpinejs/csp/dist/cdn.min.js')],
  ['pico.min.css', require.resolve('@picocss/pico/css/pico.min.css')],
]);

export function dashboardRoutes(ctx: ApiContext): Router {
  const r = Router();
  const version = packageVersion();
  // the page changes with the package: a browser revalidates it (cheap, by Last-Modified)
  const statics = express.static(PUBLIC_DIR, { index: false, cacheControl: true, maxAge: 0, fallthrough: true });

  r.get('/', (req, res, next) => {
    if (!/\btext\/html\b/.test(req.get('accept') ?? '')) {
      reply(res, RESPONSES.root, { name: 'wizard', version, node_id: ctx.nodeId, dashboard: '/', health: '/health' });
      return;
    }
    res.set('cache-control', 'no-cache').sendFile('index.html', { root: PUBLIC_DIR }, (err) => err && next(err));
  });

  r.get('/vendor/:file', (req, res, next) => {
    const file = VENDOR_FILES.get(req.params.file);
    if (!file) return next();
    res.set('cache-control', 'public, max-age=86400').sendFile(file, (err) => err && next(err));
  });

  r.use(statics);
  return r;
}
