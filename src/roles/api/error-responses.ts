/**
 * Errors as JSON, never an HTML page or a stack trace:
 * {"error": {"code": "validation_failed", "message": "n must be an integer >= 10000", "details": [...]}}
 */
import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { z } from 'zod';
import { ErrorCode, ErrorDetail, NotFoundError, StoreUnavailableError, WizardError } from '../../core/errors';
import type { Logger } from '../../util/log';
import type { errorResponse } from './responses';

/** the HTTP status of each error code */
export const HTTP_STATUS: Record<ErrorCode, number> = {
  validation_failed: 400,
  usage: 400,
  unauthorized: 401,
  forbidden: 403,
  admin_token_not_configured: 403,
  not_found: 404,
  conflict: 409,
  lease_lost: 409,
  job_cancelled: 409,
  method_not_allowed: 405,
  payload_too_large: 413,
  unsupported_media_type: 415,
  unprocessable: 422,
  rate_limited: 429,
  quota_exceeded: 429,
  job_failed: 500,
  internal: 500,
  store_unavailable: 503,
  unreachable: 503,
};

export function errorBody(code: string, message: string, details: ErrorDetail[] = []): z.input<typeof errorResponse> {
  return { error: { code, message, details } };
}

export const notFoundRoute: RequestHandler = (req, _res, next) => {
  next(new NotFoundError(`no route for ${req.method} ${req.path}`));
};

/** body-parser's own errors (bad JSON, too large, wrong charset) as ours */
function fromHttpError(err: { status?: number; type?: string; message?: string }): WizardError | null {
  if (err.type === 'entity.parse.failed') {
    return new WizardError('validation_failed', 'body must be valid JSON', [
      { field: '(body)', message: err.message ?? 'not JSON' },
    ]);
  }
  if (err.type === 'entity.too.large') return new WizardError('payload_too_large', 'body is too large');
  if (typeof err.status === 'number' && err.status >= 400 && err.status < 500) {
    return new WizardError(
      err.status === 415 ? 'unsupported_media_type' : err.status === 413 ? 'payload_too_large' : 'validation_failed',
      err.message ?? 'bad request',
    );
  }
  return null;
}

export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const known = err instanceof WizardError ? err : fromHttpError(err);
    if (!known) {
      log.error('unhandled error', { path: req.path, error: err instanceof Error ? err.message : String(err) });
      res.status(500).json(errorBody('internal', 'internal error'));
      return;
    }
    const status = HTTP_STATUS[known.code];
    if (known.code === 'store_unavailable') res.set('Retry-After', '1');
    // a store condition names itself: {"field": "store", "message": "out of memory"}
    const details =
      known instanceof StoreUnavailableError ? [{ field: 'store', message: known.reason }] : known.details;
    res.status(status).json(errorBody(known.code, known.message, details));
  };
}

/** a route whose body fields are all optional: no body at all reads as {} (a JSON null stays null, and is refused) */
export function optionalBody(req: { body?: unknown }): unknown {
  return req.body === undefined ? {} : req.body;
}
