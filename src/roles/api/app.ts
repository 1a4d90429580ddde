/** The Express app: every route module mounted on one app, errors as JSON. */
import express, { Express, RequestHandler } from 'express';
import { WizardError } from '../../core/errors';
import type { ApiContext } from './context';
import { errorHandler, notFoundRoute } from './errors';
import { botRoutes } from './routes/bots';
import { consoleRoutes } from './routes/console';
import { datalakeRoutes } from './routes/datalake';
import { dlqRoutes } from './routes/dlq';
import { scheduleRoutes } from './routes/schedules';
import { abacusRoutes } from './routes/abacus';
import { dashboardRoutes } from './routes/dashboard';
import { flowRoutes } from './routes/flow';
import { jobRoutes } from './routes/jobs';
import { mathRoutes } from './routes/math';
import { opsRoutes } from './routes/ops';
import { metricsRoutes, metricsTimer } from './routes/metrics';
import { DOCS_ASSETS, docsRoutes } from './openapi';
import { primeRoutes } from './routes/primes';
import { applySecurity, checkJsonDepth } from './security';
import { dashboardPaths } from './access';
import { methodGate } from './methods';

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

export function createApp(ctx: ApiContext): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false); // answers are live state: hashing each one for an ETag is work no client uses
  app.set('query parser', 'simple');
  app.use(metricsTimer(ctx)); // first, so that it times every request (the HTTP histograms)
  // headers, CORS, rate limit; then 405 with Allow and OPTIONS, from the route table (before any
  // body is read, and before the tokens: a method is wrong whoever asks); then tokens
  applySecurity(app, ctx, [methodGate(app, [...dashboardPaths(), DOCS_ASSETS])]);
  app.use(metricsRoutes(ctx)); // GET /metrics
  app.use(requireJsonBody);
  const json = express.json({ limit: BODY_LIMIT, strict: false, verify: checkJsonDepth });
  app.use((req, res, next) => (readsBody(req.method) ? json(req, res, next) : next()));
  app.use(opsRoutes(ctx));
  app.use(docsRoutes(ctx.limits));
  app.use(mathRoutes(ctx));
  app.use(primeRoutes(ctx));
  app.use(jobRoutes(ctx));
  app.use(flowRoutes(ctx));
  app.use(botRoutes(ctx));
  app.use(datalakeRoutes(ctx));
  app.use(abacusRoutes(ctx));
  app.use(dlqRoutes(ctx));
  app.use(consoleRoutes(ctx));
  app.use(scheduleRoutes(ctx));
  app.use(dashboardRoutes(ctx));
  app.use(notFoundRoute);
  app.use(errorHandler(ctx.log));
  return app;
}
