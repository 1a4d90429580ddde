/**
 * The admin gate: routes that change or destroy shared state (resetting the sum, and later
 * populating jobs or removing bots) need ADMIN_TOKEN once one is configured, sent as
 * `Authorization: Bearer <token>` or `X-Admin-Token: <token>`. Tokens are compared in constant
 * time (timingSafeEqual over SHA-256 digests, which are of equal length whatever was sent).
 * With no token configured the gate is open: a later security issue decides that default.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import { UnauthorizedError } from '../../core/errors';

const digest = (s: string) => createHash('sha256').update(s).digest();

/** the token a request presents, or null */
export function presentedToken(req: Request): string | null {
  const auth = req.get('authorization');
  const bearer = auth && /^Bearer\s+(.+)$/i.exec(auth.trim());
  if (bearer) return bearer[1];
  return req.get('x-admin-token') ?? null;
}

export function requireAdmin(adminToken: string | undefined): RequestHandler {
  if (!adminToken) return (_req, _res, next) => next();
  const expected = digest(adminToken);
  return (req, res, next) => {
    const token = presentedToken(req);
    if (token !== null && timingSafeEqual(digest(token), expected)) return next();
    res.set('WWW-Authenticate', 'Bearer realm="wizard admin"');
    next(new UnauthorizedError(token === null
      ? 'this needs the admin token: send Authorization: Bearer <token> or X-Admin-Token: <token>'
      : 'the admin token is wrong'));
  };
}
