/**
 * The errors a program using wizard from code catches (src/sdk/client.ts): one class per thing a
 * caller does something different about. Every one is a WizardApiError with the API's status,
 * code and details (`{field, message}`), so `err instanceof WizardApiError` catches them all.
 */
import type { FinalState } from '../core/states';

export interface ApiErrorDetail {
  field: string;
  message: string;
}

export class WizardApiError extends Error {
  constructor(
    message: string,
    /** the HTTP status (0: no answer came) */
    readonly status: number,
    /** the API's error code (validation_failed, not_found, store_unavailable, ...) */
    readonly code: string,
    readonly details: ApiErrorDetail[] = [],
  ) {
    super(message);
    this.name = 'WizardApiError';
  }
}

/** a 400: the request named a bad field; `field` is the first one named (params.width, priority) */
export class ValidationError extends WizardApiError {
  readonly field: string | null;
  constructor(message: string, details: ApiErrorDetail[] = [], code = 'validation_failed') {
    super(message, 400, code, details);
    this.name = 'ValidationError';
    this.field = details[0]?.field ?? null;
  }
}

/** a 404: no such job (never made, or its record expired) */
export class NotFound extends WizardApiError {
  constructor(message: string) {
    super(message, 404, 'not_found');
    this.name = 'NotFound';
  }
}

/**
 * the API cannot serve now: a 503 (its store is away or full), or no answer at all (status 0).
 * retryAfterMs: what the API's Retry-After said, or null. The client has retried already where
 * that is safe (an idempotent call, or one with an idempotency key).
 */
export class Unavailable extends WizardApiError {
  constructor(
    message: string,
    readonly retryAfterMs: number | null,
    status = 503,
    code = 'store_unavailable',
  ) {
    super(message, status, code);
    this.name = 'Unavailable';
  }
}

/** waitUntilFinished: the job ended in FAILURE, DEAD, CANCELLED or SKIPPED (a flow's node); `job` is its record */
export class JobFailed extends WizardApiError {
  constructor(
    message: string,
    readonly state: Exclude<FinalState, 'SUCCESS'>,
    readonly job: unknown,
  ) {
    super(message, 200, 'job_failed');
    this.name = 'JobFailed';
  }
}

/** waitUntilFinished (waitUntilFlowFinished): the job (the flow) had not finished within timeoutMs */
export class WaitTimeout extends WizardApiError {
  constructor(
    /** the job's id (the flow's) */
    readonly jobId: string,
    readonly timeoutMs: number,
    what: 'job' | 'flow' = 'job',
  ) {
    super(`${what} ${jobId} did not finish within ${timeoutMs} ms`, 0, 'timeout');
    this.name = 'WaitTimeout';
  }
}
