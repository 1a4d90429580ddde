/**
 * The access gate: with API tokens configured, every request names its caller with
 * `Authorization: Bearer <token>` (or X-Admin-Token / X-Bot-Token, as before), and the route's
 * need (declared with the route, route.ts) decides: 401 without a known token, 403 with the wrong role.
 * A token is a configured one (constant-time lookup), ADMIN_TOKEN, or a registered bot's (the
 * store keeps its sha256). The dashboard's own files load without a token, so the page can ask
 * for one. res.locals.principal tells the routes who called (requireAdmin, requireBot read it).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { RequestHandler } from 'express';
import { ApiToken, TokenTable } from '../../core/tokens';
import { hashToken } from '../../core/bots';
import { UnauthorizedError, WizardError } from '../../core/errors';
import type { Store } from '../../store/types';
import { assetPath } from '../../util/package-root';
import { ADMIN_NOT_CONFIGURED, presentedToken } from './admin';
import { allows, describeNeed, type Need } from './route';

/** the dashboard's folder (the dashboard's static files are served from it) */
export const DASHBOARD_DIR = assetPath('src', 'roles', 'api', 'public');

/** the URL paths of the dashboard's files: GET / and every file shipped in the folder */
export function dashboardPaths(dir = DASHBOARD_DIR): Set<string> {
  const out = new Set<string>(['/']);
  const walk = (d: string, prefix: string) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return; // no dashboard here (yet)
    }
    for (const e of entries) {
      const url = `${prefix}/${e.name}`;
      if (e.isDirectory()) {
        out.add(url);
        out.add(`${url}/`);
        walk(path.join(d, e.name), url);
      } else if (e.isFile()) {
        out.add(url);
      }
    }
  };
  walk(dir, '');
  return out;
}

/** the configured tokens and ADMIN_TOKEN, as one table */
export function tokenTable(tokens: ApiToken[], adminToken?: string): TokenTable {
  const all = [...tokens];
  if (adminToken && !tokens.some((t) => t.token === adminToken))
    all.push({ name: 'ADMIN_TOKEN', role: 'admin', token: adminToken });
  return new TokenTable(all);
}

/**
 * The gate: tokens null means access control is off (every route open, admin routes still need
 * ADMIN_TOKEN). Bot tokens are looked up in the store only when no configured token matched.
 */
export function accessGate(
  store: Store,
  tokens: TokenTable | null,
  routeNeed: (method: string, path: string) => Need,
  dashboard = dashboardPaths(),
): RequestHandler {
  if (!tokens) return (_req, _res, next) => next();
  return async (req, res, next) => {
    const method = req.method === 'HEAD' ? 'GET' : req.method;
    // OPTIONS says only which methods a path has, as the public OpenAPI document does
    const need =
      req.method === 'OPTIONS' || (method === 'GET' && dashboard.has(req.path))
        ? 'public'
        : routeNeed(req.method, req.path);
    if (need === 'public') return next();
    const token = presentedToken(req) ?? req.get('x-bot-token') ?? null;
    let principal = token === null ? null : tokens.find(token);
    if (token !== null && !principal) {
      const botId = await store.bots.idForToken(hashToken(token));
      if (botId) principal = { name: botId, role: 'bot', botId };
    }
    if (!principal) {
      res.set('WWW-Authenticate', 'Bearer realm="wizard"');
      throw new UnauthorizedError(
        token === null
          ? `this needs ${describeNeed(need)}: send Authorization: Bearer <token>`
          : 'the token is not known to this API',
      );
    }
    if (need === 'admin' && !allows(principal, need) && !tokens.hasRole('admin'))
      throw new WizardError('admin_token_not_configured', ADMIN_NOT_CONFIGURED);
    if (!allows(principal, need))
      throw new WizardError(
        'forbidden',
        `${req.method} ${req.path} needs ${describeNeed(need)}; the token '${principal.name}' has the role ${principal.role}`,
      );
    res.locals.principal = principal;
    if (principal.botId) res.locals.botId = principal.botId;
    next();
  };
}
