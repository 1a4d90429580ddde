/**
 * Typed errors of the domain. Each has a stable `code`; the API maps it to an HTTP status
 * (src/roles/api/error-responses.ts) and the CLI to an exit code (src/commands/exit-codes.ts). Nothing deep inside calls process.exit or writes a response itself.
 */
export type ErrorCode =
  | 'validation_failed'
  | 'unauthorized'
  | 'forbidden'
  | 'admin_token_not_configured'
  | 'not_found'
  | 'conflict'
  | 'lease_lost'
  | 'job_cancelled'
  | 'method_not_allowed'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'rate_limited'
  | 'quota_exceeded'
  | 'store_unavailable'
  | 'unprocessable'
  | 'usage'
  | 'unreachable'
  | 'job_failed'
  | 'internal';

export interface ErrorDetail {
  field: string;
  message: string;
}

export class WizardError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetail[];
  constructor(code: ErrorCode, message: string, details: ErrorDetail[] = []) {
    super(message);
    this.name = 'WizardError';
    this.code = code;
    this.details = details;
  }
}

export class ValidationError extends WizardError {
  constructor(message: string, details: ErrorDetail[] = []) {
    super('validation_failed', message, details);
    this.name = 'ValidationError';
  }
}

export class NotFoundError extends WizardError {
  constructor(message: string) {
    super('not_found', message);
    this.name = 'NotFoundError';
  }
}

/** missing or wrong credentials: 401 */
export class UnauthorizedError extends WizardError {
  constructor(message: string) {
    super('unauthorized', message);
    this.name = 'UnauthorizedError';
  }
}

/** well-formed input that cannot be applied (e.g. it would take a bound past its limit): 422 */
export class UnprocessableError extends WizardError {
  constructor(message: string) {
    super('unprocessable', message);
    this.name = 'UnprocessableError';
  }
}

export class ConflictError extends WizardError {
  constructor(message: string, details: ErrorDetail[] = []) {
    super('conflict', message, details);
    this.name = 'ConflictError';
  }
}

/** the claim token does not match: the lease expired and the job was taken over, or it is finished */
export class LeaseLostError extends WizardError {
  constructor(jobId: string) {
    super('lease_lost', `job ${jobId} is no longer held by this consumer (its lease expired or it was finished)`);
    this.name = 'LeaseLostError';
  }
}

/** the job was cancelled (POST /jobs/:id/cancel): its holder's renewal, result or failure is refused (409) */
export class JobCancelledError extends WizardError {
  constructor(jobId: string) {
    super('job_cancelled', `job ${jobId} was cancelled: its result is refused`);
    this.name = 'JobCancelledError';
  }
}

/**
 * what keeps the store from serving: unreachable or answering too late; refusing writes at its
 * maxmemory; with --durability replica, no replica connected to confirm writes (they answer 503);
 * and what makes it unsafe while it serves: a maxmemory-policy that can evict keys (eviction)
 */
export const STORE_CONDITIONS = ['unavailable', 'out of memory', 'no replica', 'eviction'] as const;
export type StoreCondition = (typeof STORE_CONDITIONS)[number];

/**
 * the store (Redis) cannot serve the call; the message names the URL. maybeApplied: the call was
 * sent and no answer came (a deadline, a connection lost), so it may still have run.
 */
export class StoreUnavailableError extends WizardError {
  readonly reason: StoreCondition = 'unavailable';
  constructor(
    message: string,
    readonly maybeApplied = false,
  ) {
    super('store_unavailable', message, []);
    this.name = 'StoreUnavailableError';
  }
}

/** Redis is at its maxmemory with noeviction: it refuses writes (and scripts) until memory is freed; reads go on */
export class StoreOutOfMemoryError extends StoreUnavailableError {
  override readonly reason: StoreCondition = 'out of memory';
  constructor(message: string) {
    super(message);
    this.name = 'StoreOutOfMemoryError';
  }
}

/** a bad flag or value on the command line: exit code 2 */
export class UsageError extends WizardError {
  constructor(message: string) {
    super('usage', message);
    this.name = 'UsageError';
  }
}

/** the API (or Redis) cannot be reached from the CLI: exit code 3. store: the API answered 503 for this store condition */
export class UnreachableError extends WizardError {
  constructor(
    message: string,
    readonly store: StoreCondition | null = null,
  ) {
    super('unreachable', message);
    this.name = 'UnreachableError';
  }
}

/** the job the CLI waited for ended in FAILURE or DEAD: exit code 1 */
export class JobFailedError extends WizardError {
  constructor(message: string) {
    super('job_failed', message);
    this.name = 'JobFailedError';
  }
}

/** a failure the CLI has printed already: cli.ts exits with its code and prints nothing more */
export class ReportedError extends WizardError {
  constructor(readonly reported: WizardError) {
    super(reported.code, reported.message, reported.details);
    this.name = 'ReportedError';
  }
}

/** a token's quota is used up (src/core/quotas.ts): 429, naming the quota; retryAfterMs when waiting helps */
export class QuotaExceededError extends WizardError {
  constructor(
    readonly quota: 'jobs' | 'cpu' | 'streams',
    message: string,
    readonly retryAfterMs: number | null = null,
  ) {
    super('quota_exceeded', message, [{ field: 'quota', message: quota }]);
    this.name = 'QuotaExceededError';
  }
}

/** a bot token or id the store does not know (never registered, deleted): the bot registers again */
export class UnknownBotError extends WizardError {
  constructor(message = 'unknown bot: register again (POST /bots/register)') {
    super('unauthorized', message);
    this.name = 'UnknownBotError';
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
