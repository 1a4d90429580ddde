/**
 * The API's guards, in the order a request meets them:
 *
 * 1. security headers (helmet) and the dashboard's Content-Security-Policy, DASHBOARD_CSP;
 * 2. in open mode only (no API tokens: whoever reaches the node may do anything), the Host and
 *    Origin checks (openModeGuard): a Host that names none of the node's addresses is a 403 (a
 *    page of another site whose name was rebound to this address: DNS rebinding), and so is a
 *    request that changes state from a page of another origin (a cross-site POST). With tokens
 *    on, a browser page cannot act without the token, which it does not send by itself;
 * 3. CORS from an allowlist (CORS_ORIGINS): a preflight from an allowed origin is answered with
 *    the CORS headers, one from any other origin with a 403 and none;
 * 4. the rate limit, in the store so every API node shares it: per client IP (X-Forwarded-For only
 *    from --trust-proxy addresses, Express's trust proxy) and per token, 429 with Retry-After;
 * 5. the app's own checks that hold whoever asks (`beforeAccess`: a method a path is not served
 *    with is a 405, methods.ts), so a wrong method is never a 401 or 403 first;
 * 6. the access gate (access-gate.ts): tokens, roles and each route's need.
 *
 * JSON bodies are limited in size (BODY_LIMIT, 413) and depth (JSON_MAX_DEPTH, 400).
 */
import { createHash } from 'node:crypto';
import os from 'node:os';
import type { Express, RequestHandler } from 'express';
import helmet from 'helmet';
import { isLoopback, type TokenTable } from '../../core/tokens';
import { ValidationError, WizardError } from '../../core/errors';
import type { Store } from '../../store/types';
import type { Logger } from '../../util/log';
import { accessGate } from './access-gate';
import type { Need } from './route';
import { presentedToken } from './admin';

/**
 * The Content-Security-Policy of every answer, the dashboard's included: everything from this
 * origin only, nothing inline but styles, no eval (the dashboard uses Alpine's CSP build,
 * @alpinejs/csp). 'unsafe-inline' styles: Alpine's :style binding sets style attributes.
 */
export const DASHBOARD_CSP: Record<string, string[]> = {
  'default-src': ["'self'"],
  'script-src': ["'self'"],
  'style-src': ["'self'", "'unsafe-inline'"],
  'img-src': ["'self'", 'data:'],
  'font-src': ["'self'"],
  'connect-src': ["'self'"],
  'object-src': ["'none'"],
  'base-uri': ["'self'"],
  'form-action': ["'self'"],
  'frame-ancestors': ["'none'"],
};

/** a JSON body nested deeper than this is a 400 */
export const JSON_MAX_DEPTH = 32;

export const DEFAULT_RATE_LIMIT = { max: 600, windowMs: 10_000 };

/** --max-connections' default: far more than dashboards, CLIs and bots keep open, and below the usual limit of 1024 open files */
export const DEFAULT_MAX_CONNECTIONS = 1000;

/**
 * the origins an API node allows when CORS_ORIGINS does not say (`none`: no origin): the prime
 * counter's front end on port 3000 (seed 002's checklist: "CORS allows requests from
 * http://localhost:3000"). One list: CORS and every other origin check read ApiSecurity.corsOrigins.
 */
export const DEFAULT_CORS_ORIGINS: readonly string[] = ['http://localhost:3000'];

export interface ApiSecurity {
  /** the configured API tokens (and ADMIN_TOKEN); null: access control is off */
  tokens: TokenTable | null;
  /** requests per window per client IP and per token; null: no limit */
  rateLimit: { max: number; windowMs: number } | null;
  /** origins allowed to call the API from a browser (CORS) */
  corsOrigins: string[];
  /** Express's trust proxy: the proxies whose X-Forwarded-For names the client; false: none */
  trustProxy: string | false;
  /** served over HTTPS: answers carry Strict-Transport-Security */
  https: boolean;
  /**
   * open mode: more names a request's Host may carry than the node's own addresses and loopback
   * names (--allowed-hosts); ['*'] turns the Host check off
   */
  allowedHosts?: string[];
}

export const OPEN_SECURITY: ApiSecurity = {
  tokens: null,
  rateLimit: null,
  corsOrigins: [],
  trustProxy: false,
  https: false,
};

/** a Host header's name: lower case, without its port, brackets or a final dot ("[::1]:8000" → "::1") */
export function hostName(host: string): string {
  const h = host.trim().toLowerCase();
  const name = h.startsWith('[') ? h.slice(1, h.indexOf(']') < 0 ? undefined : h.indexOf(']')) : h.replace(/:\d*$/, '');
  return name.replace(/\.$/, '');
}

/** names only this machine answers to: the loopback addresses and localhost, and *.localhost (RFC 6761) */
const isLoopbackName = (name: string) => isLoopback(name) || name.endsWith('.localhost');

/** the addresses a node listening on `listen` is reached at: that address, or every interface's (and the machine's name) for a wildcard */
export function listenNames(listen: string): Set<string> {
  const l = hostName(listen);
  if (l !== '0.0.0.0' && l !== '::' && l !== '') return new Set([l]);
  const names = new Set([l, os.hostname().toLowerCase()]); // the wildcard itself: http://0.0.0.0:8000 reaches this machine
  for (const list of Object.values(os.networkInterfaces()))
    for (const a of list ?? []) names.add(a.address.toLowerCase().replace(/%.*$/, ''));
  return names;
}

/** the origin's host ("http://localhost:8000" → "localhost:8000"), with a port only when it is not its scheme's own */
const originHost = (origin: string): string | null => {
  try {
    return new URL(origin).host;
  } catch {
    return null;
  }
};

/** GET, HEAD and OPTIONS read; every other method may change state */
const changesState = (method: string) => method !== 'GET' && method !== 'HEAD' && method !== 'OPTIONS';

/**
 * Open mode's guard (mounted only when the node has no API tokens): the Host must name the node
 * (a loopback name, one of the addresses it listens on, or --allowed-hosts; /healthz is exempt,
 * for probes), and a request that may change state and carries an Origin must come from the
 * node's own origin (the Origin's host is the Host) or from one of the CORS origins. One Set
 * lookup per request: the names are worked out at start.
 */
export function openModeGuard(listen: string, allowedHosts: string[] = [], corsOrigins: string[] = []): RequestHandler {
  const anyHost = allowedHosts.includes('*');
  const names = new Set([...listenNames(listen), ...allowedHosts.map(hostName)]);
  const origins = new Set(corsOrigins);
  return (req, _res, next) => {
    const host = req.headers.host ?? '';
    if (!anyHost && req.path !== '/healthz') {
      const name = hostName(host);
      if (!names.has(name) && !isLoopbackName(name)) {
        return next(
          new WizardError(
            'forbidden',
            `the Host header '${host}' names no address of this node: add it to --allowed-hosts (WIZARD_ALLOWED_HOSTS) if it is one of its names`,
            [{ field: 'Host', message: `not an address this node listens on, a loopback name or an allowed host` }],
          ),
        );
      }
    }
    const origin = req.headers.origin;
    if (
      origin !== undefined &&
      changesState(req.method) &&
      originHost(origin) !== host.toLowerCase().replace(/:(80|443)$/, '') &&
      !origins.has(origin)
    ) {
      return next(
        new WizardError(
          'forbidden',
          `a ${req.method} from the page of another origin (${origin}) is refused: with no API tokens only this node's own pages and the CORS origins (--cors-origins, CORS_ORIGINS) may change state`,
          [{ field: 'Origin', message: "not this node's origin nor a CORS origin" }],
        ),
      );
    }
    next();
  };
}

/** body-parser's verify hook: refuse a body nested deeper than JSON_MAX_DEPTH before it is parsed */
export function checkJsonDepth(_req: unknown, _res: unknown, buf: Buffer): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i];
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > JSON_MAX_DEPTH) {
        throw new ValidationError(`the JSON body is nested deeper than ${JSON_MAX_DEPTH} levels`, [
          { field: '(body)', message: `nesting is limited to ${JSON_MAX_DEPTH}` },
        ]);
      }
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
}

const CORS_METHODS = 'GET, POST, PUT, DELETE, OPTIONS';
const CORS_HEADERS = 'authorization, content-type, x-admin-token, x-bot-token';

/** CORS from an allowlist; a refused preflight is a 403 without CORS headers */
export function corsAllowlist(origins: string[]): RequestHandler {
  const allowed = new Set(origins);
  return (req, res, next) => {
    const origin = req.get('origin');
    const preflight =
      req.method === 'OPTIONS' && origin !== undefined && req.get('access-control-request-method') !== undefined;
    if (origin === undefined) return next();
    res.vary('Origin');
    if (!allowed.has(origin)) {
      if (preflight)
        return next(
          new WizardError('forbidden', `the origin ${origin} is not allowed to call this API (CORS_ORIGINS)`),
        );
      return next(); // a same-origin page sends Origin too; a foreign page gets no CORS headers, so its browser hides the answer
    }
    res.set('Access-Control-Allow-Origin', origin);
    if (!preflight) {
      res.set('Access-Control-Expose-Headers', 'Retry-After, RateLimit-Limit, RateLimit-Remaining, Location');
      return next();
    }
    res.set({
      'Access-Control-Allow-Methods': CORS_METHODS,
      'Access-Control-Allow-Headers': CORS_HEADERS,
      'Access-Control-Max-Age': '600',
    });
    res.status(204).end();
  };
}

const tokenBucket = (token: string) => `token:${createHash('sha256').update(token).digest('hex').slice(0, 32)}`;

/**
 * The rate limit: one store call per request, counted against the client's IP and the token it
 * presents (hashed). /healthz is exempt. While the store is unavailable requests pass: the routes
 * that need it answer 503 themselves.
 */
export function rateLimit(store: Store, limit: ApiSecurity['rateLimit'], log: Logger): RequestHandler {
  if (!limit || limit.max <= 0) return (_req, _res, next) => next();
  const { max, windowMs } = limit;
  let warned = false;
  return async (req, res, next) => {
    if (req.path === '/healthz') return next();
    const token = presentedToken(req) ?? req.get('x-bot-token');
    const buckets = [`ip:${req.ip ?? 'unknown'}`, ...(token ? [tokenBucket(token)] : [])];
    let hit;
    try {
      hit = await store.limits.hit(buckets, max, windowMs);
      warned = false;
    } catch (err) {
      if (!(err instanceof WizardError && err.code === 'store_unavailable')) throw err;
      if (!warned) log.warn('rate limit not applied: the store is unavailable', { error: err.message });
      warned = true;
      return next();
    }
    res.set({ 'RateLimit-Limit': String(max), 'RateLimit-Remaining': String(hit.remaining) });
    if (hit.allowed) return next();
    const seconds = Math.max(1, Math.ceil(hit.retryAfterMs / 1000));
    res.set('Retry-After', String(seconds));
    throw new WizardError(
      'rate_limited',
      `too many requests: at most ${max} per ${windowMs / 1000} s; try again in ${seconds} s`,
    );
  };
}

/**
 * every guard, mounted before the body parser and the routes; `listen` is the address the node
 * listens on (open mode's Host check names it)
 */
export function applySecurity(
  app: Express,
  ctx: { store: Store; log: Logger; security?: ApiSecurity; listen?: string },
  beforeAccess: RequestHandler[],
  routeNeed: (method: string, path: string) => Need,
): void {
  const s = ctx.security ?? OPEN_SECURITY;
  app.set('trust proxy', s.trustProxy);
  app.use(
    helmet({
      contentSecurityPolicy: { useDefaults: false, directives: DASHBOARD_CSP },
      // HSTS pins the host to HTTPS for a year: only when this node serves HTTPS itself
      strictTransportSecurity: s.https ? { maxAge: 15_552_000 } : false,
    }),
  );
  if (!s.tokens) app.use(openModeGuard(ctx.listen ?? '127.0.0.1', s.allowedHosts, s.corsOrigins));
  app.use(corsAllowlist(s.corsOrigins));
  app.use(rateLimit(ctx.store, s.rateLimit, ctx.log));
  for (const h of beforeAccess) app.use(h);
  app.use(accessGate(ctx.store, s.tokens, routeNeed));
}
