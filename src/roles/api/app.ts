/** The Express app: the route table (routes/index.ts) mounted on one app, errors as JSON. */
import express, { Express, RequestHandler, Router } from 'express';
import { WizardError } from '../../core/errors';
import type { ApiContext } from './context';
import { errorHandler, notFoundRoute } from './error-responses';
import { requireAdmin } from './admin';
import { requireBot } from './bot-auth';
import { ROUTES } from './routes';
import { consoleFiles } from './routes/console';
import { DOCS_ASSETS, docsFiles } from './routes/docs';
import { metricsTimer } from './routes/metrics';
import { applySecurity, checkJsonDepth } from './security';
import { dashboardPaths } from './access-gate';
import { methodGate } from './methods';
import { compile, needOf, type Route } from './route';

export const BODY_LIMIT = '64kb';

/** GET and HEAD take no body: whatever one carries is not read (so it cannot make them a 400, 413 or 415) */
const readsBody = (method: string) => method !== 'GET' && method !== 'HEAD';

/** a request that carries a body must say it is JSON: anything else is a 415, never ignored */
const requireJsonBody: RequestHandler = (req, _res, next) => {
  if (!readsBody(req.method)) return next();
  const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
  if (hasBody && !req.is('application/json')) {
    return next(
      new WizardError(
        'unsupported_media_type',
        `the body must be application/json, not ${req.headers['content-type'] ?? 'untyped'}`,
      ),
    );
  }
  next();
};

/**
 * the table as one router: each route behind the guard its need asks for (the admin gate for an
 * admin route, the bot's token for a bot route), then its handler
 */
function mount(ctx: ApiContext, table: readonly Route[]): Router {
  const r = Router();
  const guards: Partial<Record<Route['need'], RequestHandler>> = {
    admin: requireAdmin(ctx),
    bot: requireBot(ctx.store),
  };
  for (const route of table) {
    const guard = guards[route.need];
    const method = route.method.toLowerCase() as Lowercase<typeof route.method>;
    r[method](route.path, ...(guard ? [guard] : []), route.handler(ctx, table));
  }
  return r;
}

export function createApp(ctx: ApiContext, table: readonly Route[] = ROUTES): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false); // answers are live state: hashing each one for an ETag is work no client uses
  app.set('query parser', 'simple');
  app.use(metricsTimer(ctx)); // first, so that it times every request (the HTTP histograms)
  // headers, CORS, rate limit; then 405 with Allow and OPTIONS, from the route table (before any
  // body is read, and before the tokens: a method is wrong whoever asks); then tokens, each
  // route's need read from the table
  applySecurity(app, ctx, [methodGate(table, [...dashboardPaths(), DOCS_ASSETS])], (method, path) =>
    needOf(table, method, path),
  );
  app.use(requireJsonBody);
  const json = express.json({ limit: BODY_LIMIT, strict: false, verify: checkJsonDepth });
  // a route that declares its own body limit (POST /jobs/bulk) reads its body with it; every other route with BODY_LIMIT
  const own = table
    .filter((r) => r.bodyLimit !== undefined)
    .map((r) => ({
      method: r.method,
      path: compile(r.path),
      json: express.json({ limit: r.bodyLimit, strict: false, verify: checkJsonDepth }),
    }));
  app.use((req, res, next) => {
    if (!readsBody(req.method)) return next();
    const route = own.find((r) => r.method === req.method && r.path.test(req.path));
    return (route?.json ?? json)(req, res, next);
  });
  app.use(mount(ctx, table));
  app.use(...docsFiles());
  app.use(consoleFiles());
  app.use(notFoundRoute);
  app.use(errorHandler(ctx.log));
  return app;
}
