/**
 * Admin endpoints: `router.post(path, requireAdmin(ctx.adminToken), handler)`. The token is
 * ADMIN_TOKEN, sent as `Authorization: Bearer <token>` (or `X-Admin-Token: <token>`) and compared
 * in constant time (timingSafeEqual over sha256 digests, so not even its length leaks). With no
 * token configured, admin endpoints are refused (403), never open.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import { WizardError } from '../../core/errors';

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** the bearer token a request presents (Authorization: Bearer <t>, else the fallback header) */
export function presentedToken(req: Request, fallbackHeader = 'x-admin-token'): string | null {
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(req.get('authorization') ?? '');
  return bearer?.[1] ?? (req.get(fallbackHeader)?.trim() || null);
}

export function requireAdmin(adminToken: string | undefined): RequestHandler {
  const expected = adminToken ? digest(adminToken) : null;
  return (req, _res, next) => {
    if (!expected) return next(new WizardError('forbidden', 'admin endpoints are refused: ADMIN_TOKEN is not configured on this API node'));
    const given = presentedToken(req);
    if (!given) return next(new WizardError('unauthorized', 'admin token required: send Authorization: Bearer <ADMIN_TOKEN>'));
    if (!timingSafeEqual(digest(given), expected)) return next(new WizardError('forbidden', 'admin token is not valid'));
    next();
  };
}
