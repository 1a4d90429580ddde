/**
 * The admin gate: every route that changes or destroys shared state for everyone
 * (DELETE /abacus/sum, POST /jobs/populate, DELETE /bots/:id, everything under /dlq, POST /schedules,
 * DELETE /schedules/:name) uses
 * `requireAdmin(ctx)`. The admin token is ADMIN_TOKEN, sent as `Authorization: Bearer <token>`
 * or `X-Admin-Token: <token>`, compared in constant time (timingSafeEqual over SHA-256 digests,
 * which are of equal length whatever was sent), or an admin-role API token (the access gate,
 * access-gate.ts, has then named the caller an admin). A missing or wrong token is a 401. With no
 * admin token configured at all the gate is shut, not open: every admin route answers 403
 * `admin_token_not_configured`, whatever is sent.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import type { TokenTable } from '../../core/tokens';
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

/** what the gate reads of the API's context (ApiContext): ADMIN_TOKEN and the API tokens */
type AdminSettings = { adminToken?: string; security?: { tokens: TokenTable | null } };

/** does this node have an admin token at all (ADMIN_TOKEN, or an admin-role API token)? */
export function adminConfigured(ctx: AdminSettings): boolean {
  return Boolean(ctx.adminToken) || (ctx.security?.tokens?.hasRole('admin') ?? false);
}

export const ADMIN_NOT_CONFIGURED =
  'admin routes are refused: no admin token (ADMIN_TOKEN) is configured on this API node';

export function requireAdmin(ctx: AdminSettings): RequestHandler {
  if (!adminConfigured(ctx))
    return (_req, _res, next) => next(new WizardError('admin_token_not_configured', ADMIN_NOT_CONFIGURED));
  const expected = ctx.adminToken ? digest(ctx.adminToken) : null;
  return (req, res, next) => {
    if (namedAdmin(res)) return next();
    const token = presentedToken(req);
    if (token !== null && expected && timingSafeEqual(digest(token), expected)) return next();
    res.set('WWW-Authenticate', 'Bearer realm="wizard admin"');
    next(
      new UnauthorizedError(
        token === null
          ? 'this needs the admin token: send Authorization: Bearer <token> or X-Admin-Token: <token>'
          : 'the admin token is wrong',
      ),
    );
  };
}
