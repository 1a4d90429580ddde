/**
 * The bot batches: what the scheduler makes every interval and POST /jobs/populate makes
 * on demand. A batch is `size` jobs of one type with one set of params, on the bots' queue; the
 * default is simulated work that takes processingDurationMs and fails at failureRate.
 */
import { ValidationError } from './errors';
import { specFor, userTypes } from './handlers';
import { DEFAULT_QUEUE, NewJob } from './job';
import { checkUserParams } from './user-params';
import { BATCH_TYPES, parseInput, simParams, taskParams } from './schemas';
import { DEFAULTS } from './defaults';

export { BATCH_TYPES };
export type BatchType = (typeof BATCH_TYPES)[number];

export const DEFAULT_BOT_QUEUE = 'bots';

export interface BatchSpec {
  size: number;
  /** a BatchType, or (a schedule's) a type a --handlers module defines */
  type: string;
  params: Record<string, unknown>;
  queue: string;
  /**
   * a module's type: its attempts and an attempt's timeout (ms) as the type says where the spec
   * is made, set in each job so that a role without the module (a scheduler) makes the same jobs
   */
  maxAttempts?: number;
  timeoutMs?: number;
  /** a module's `cpu: true` type, likewise: its jobs wait in their queue's CPU lists (NewJob.cpu) */
  cpu?: boolean;
}

export interface BatchSettings {
  size: number;
  type: string;
  /** params as given (--job-params), merged over the sim defaults for type sim */
  params?: Record<string, unknown>;
  processingDurationMs: number;
  failureRate: number;
  queue: string;
}

/** a checked batch spec; the errors name `fields.type` / `fields.params` */
export function batchSpec(s: BatchSettings, fields = { type: 'job_type', params: 'job_params' }): BatchSpec {
  const spec = specFor(s.type);
  // a module's type: its params checked by its schema, its jobs on its queue (else the workers'), its attempts and timeout
  if (spec?.user) {
    const params = checkUserParams(s.type, s.params ?? {}, fields.params);
    return {
      size: s.size,
      type: s.type,
      params,
      queue: spec.user.queue ?? DEFAULT_QUEUE,
      maxAttempts: spec.policy.maxAttempts,
      timeoutMs: spec.timeoutMs(params),
      ...(spec.cpu ? { cpu: true } : {}),
    };
  }
  if (!(BATCH_TYPES as readonly string[]).includes(s.type)) {
    throw new ValidationError(`${fields.type} must be one of ${batchTypes().join(', ')}, got '${s.type}'`, [
      { field: fields.type, message: 'unknown type' },
    ]);
  }
  const type = s.type as BatchType;
  const given = s.params ?? {};
  const raw = type === 'sim' ? { duration_ms: s.processingDurationMs, failure_rate: s.failureRate, ...given } : given;
  try {
    const params = parseInput(type === 'sim' ? simParams : taskParams, raw) as Record<string, unknown>;
    return { size: s.size, type, params, queue: s.queue };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new ValidationError(`${fields.params} for type ${type}: ${message}`, [{ field: fields.params, message }]);
  }
}

/** the types a batch may make: the batch types and a --handlers module's */
export function batchTypes(): string[] {
  return [...BATCH_TYPES, ...userTypes().map(([name]) => name)];
}

/** the built-in types a schedule may make: the batch types, and a prime count (one per occurrence) */
export const SCHEDULE_TYPES = [...BATCH_TYPES, 'primes'] as const;

/** the types a schedule may make: the built-in ones and a --handlers module's */
export function scheduleTypes(): string[] {
  return [...SCHEDULE_TYPES, ...userTypes().map(([name]) => name)];
}

/**
 * a batch asked for by a request (POST /jobs/populate, POST /schedules): the node's batch settings,
 * with the request's count, type and params; params left out with the type left out are the node's own
 */
export function requestedSpec(
  defaults: BatchSettings,
  body: { count?: number; type?: string; params?: Record<string, unknown> },
): BatchSpec {
  return batchSpec(
    {
      ...defaults,
      size: body.count ?? defaults.size,
      type: body.type ?? defaults.type,
      params: body.params ?? (body.type === undefined ? defaults.params : undefined),
    },
    { type: 'type', params: 'params' },
  );
}

/** what a module's type sets in each job of a spec (or a schedule): only what it has */
export function typeSettings(
  spec: Pick<BatchSpec, 'maxAttempts' | 'timeoutMs' | 'cpu'>,
): Pick<BatchSpec, 'maxAttempts' | 'timeoutMs' | 'cpu'> {
  return {
    ...(spec.maxAttempts !== undefined ? { maxAttempts: spec.maxAttempts } : {}),
    ...(spec.timeoutMs !== undefined ? { timeoutMs: spec.timeoutMs } : {}),
    ...(spec.cpu ? { cpu: true } : {}),
  };
}

/** the batch's jobs; `batch` names it in every job's params (a slot time or "manual-…") */
export function batchJobs(spec: BatchSpec, batch: string, initiatedBy: string): NewJob[] {
  const policy = typeSettings(spec);
  return Array.from({ length: spec.size }, () => ({
    type: spec.type,
    queue: spec.queue,
    params: { ...spec.params, batch },
    initiatedBy,
    ...policy,
  }));
}

/** the bot batch's defaults: 5 jobs of 5 minutes every 10 minutes, 15% failing, bots down after 2 min */
export const BATCH_DEFAULTS: BatchSettings = {
  size: 5,
  type: 'sim',
  processingDurationMs: 300_000,
  failureRate: 0.15,
  queue: DEFAULT_BOT_QUEUE,
};
export const DEFAULT_BOT_DOWN_AFTER_MS = DEFAULTS.botDownAfterMs;
