/**
 * The admin gate: routes that change or destroy shared state (DELETE /abacus/sum,
 * POST /jobs/populate, DELETE /bots/:id) use `requireAdmin(ctx.adminToken)`. The token is
 * ADMIN_TOKEN, sent as `Authorization: Bearer <token>` or `X-Admin-Token: <token>`, compared in
 * constant time (timingSafeEqual over SHA-256 digests, which are of equal length whatever was
 * sent). A missing or wrong token is a 401. With no token configured the gate is shut, not
 * open: every admin route answers 403 saying ADMIN_TOKEN is not configured (but the abacus reset,
 * see whenUnset). With API tokens on, the access gate (access.ts) has already let only admin
 * tokens through: a request it names an admin passes.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import { UnauthorizedError, WizardError } from '../../core/errors';

const digest = (s: string) => createHash('sha256').update(s).digest();

/** the token a request presents (Authorization: Bearer <t>, else the fallback header), or null */
export function presentedToken(req: Request, fallbackHeader = 'x-admin-token'): string | null {
  const auth = req.get('authorization');
  const bearer = auth && /^Bearer\s+(.+)$/i.exec(auth.trim());
  if (bearer) return bearer[1];
  return req.get(fallbackHeader) ?? null;
}

const namedAdmin = (res: Response) => (res.locals.principal as { role?: string } | undefined)?.role === 'admin';

/**
 * `whenUnset`: what the gate does on a node with no ADMIN_TOKEN. Seed 004's admin routes and the
 * dead-letter queue refuse (the default); resetting the abacus stays open until a token is
 * configured, as seed 003's DELETE /abacus/sum is.
 */
export function requireAdmin(adminToken: string | undefined, whenUnset: 'refuse' | 'open' = 'refuse'): RequestHandler {
  if (!adminToken) {
    if (whenUnset === 'open') return (_req, _res, next) => next();
    return (_req, res, next) => next(namedAdmin(res) ? undefined : new WizardError('forbidden', 'admin routes are refused: ADMIN_TOKEN is not configured on this API node'));
  }
  const expected = digest(adminToken);
  return (req, res, next) => {
    if (namedAdmin(res)) return next();
    const token = presentedToken(req);
    if (token !== null && timingSafeEqual(digest(token), expected)) return next();
    res.set('WWW-Authenticate', 'Bearer realm="wizard admin"');
    next(new UnauthorizedError(token === null
      ? 'this needs the admin token: send Authorization: Bearer <token> or X-Admin-Token: <token>'
      : 'the admin token is wrong'));
  };
}
