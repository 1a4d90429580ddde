/**
 * Making work, the one way every route that creates jobs does it (POST /jobs, /task,
 * /api/count-primes): the options (queue, delay_ms or run_at, priority, attempts, timeout_ms) and
 * the idempotency key (the body's idempotency_key, or the Idempotency-Key header) become the new
 * job's fields, and Store.submit makes it in one step: a second create with the same key, while
 * the first job is kept, makes nothing and answers that job (existing).
 */
import type { Request } from 'express';
import { primeCountFlow } from '../../core/chunks';
import { ValidationError } from '../../core/errors';
import { DEFAULT_QUEUE, JobType, MAX_DELAY_MS, NewJob } from '../../core/job';
import { specFor, userTypes } from '../../core/handlers';
import { countPrimesParams, JobOptions, parseInput, simParams, SUBMIT_TYPES, taskParams } from '../../core/schemas';
import { checkUserParams } from '../../core/user-params';
import type { Store, Submitted } from '../../store/types';

export const IDEMPOTENCY_HEADER = 'idempotency-key';

/** the Idempotency-Key header, checked (1-200 characters) */
export function idempotencyHeader(req: Request): string | undefined {
  const header = req.get(IDEMPOTENCY_HEADER);
  if (header !== undefined && (header.length < 1 || header.length > 200)) {
    throw new ValidationError('the Idempotency-Key header must be 1-200 characters', [{ field: 'Idempotency-Key', message: 'must be 1-200 characters' }]);
  }
  return header;
}

/** the key of a request: the body's idempotency_key or the Idempotency-Key header (the same, when both are given) */
function idempotencyKey(req: Request, options: JobOptions): string | undefined {
  const header = idempotencyHeader(req);
  if (header !== undefined && options.idempotency_key !== undefined && header !== options.idempotency_key) {
    throw new ValidationError('idempotency_key and the Idempotency-Key header differ: give one', [{ field: 'idempotency_key', message: 'differs from the Idempotency-Key header' }]);
  }
  return options.idempotency_key ?? header;
}

/** delay_ms, or run_at made a delay by the store's clock (the one every due time is compared with) */
async function delayOf(store: Store, options: JobOptions): Promise<number | undefined> {
  if (options.delay_ms !== undefined && options.run_at !== undefined) {
    throw new ValidationError('give delay_ms or run_at, not both', [{ field: 'run_at', message: 'cannot be given with delay_ms' }]);
  }
  if (options.run_at === undefined) return options.delay_ms;
  const delay = Date.parse(options.run_at) - (await store.time());
  if (delay > MAX_DELAY_MS) throw new ValidationError('run_at must be at most 30 days from now', [{ field: 'run_at', message: 'must be at most 30 days from now' }]);
  return Math.max(0, delay);
}

/** the types POST /jobs and POST /schedules make: the built-ins and a --handlers module's */
export function submitTypes(): string[] {
  return [...SUBMIT_TYPES, ...userTypes().map(([name]) => name)];
}

/** a type a job may be made of, or a 400 listing the known ones */
export function checkType(type: string, field = 'type'): void {
  const known = submitTypes();
  if (!known.includes(type)) throw new ValidationError(`${field} must be one of ${known.join(', ')}, got '${type}'`, [{ field, message: `unknown type: must be one of ${known.join(', ')}` }]);
}

/**
 * the queue a type's jobs go to when the request names none (sim: the bots'; a module's type: its
 * own). A module's type with no run goes to its own queue only, where bots with --exec claim it: a
 * request naming another is a 400 (on the bot queue, a built-in bot would claim what it cannot run)
 */
export function typeQueue(type: string, botQueue: string, requested?: string): string | undefined {
  const user = specFor(type)?.user;
  if (user && user.run === undefined && requested !== undefined && requested !== user.queue) {
    throw new ValidationError(`queue: type ${type} has no run: its jobs go to its queue '${user.queue}', where bots with --exec claim them, not '${requested}'`, [{ field: 'queue', message: `must be '${user.queue}' (the type's)` }]);
  }
  return type === 'sim' ? botQueue : user?.queue;
}

/** the params of a type, checked by its schema; a failure names params.<field> */
export function checkParams(type: JobType, params: unknown): Record<string, unknown> {
  checkType(type);
  if (specFor(type)?.user) return checkUserParams(type, params);
  const schema = type === 'task' ? taskParams : type === 'primes' ? countPrimesParams : simParams;
  try {
    return parseInput(schema, params) as Record<string, unknown>;
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    const details = err.details.map((d) => ({ field: d.field === '(body)' ? 'params' : `params.${d.field}`, message: d.message }));
    throw new ValidationError(err.message.replace(/^body must be/, 'params must be'), details);
  }
}

export interface Work {
  type: JobType;
  params: Record<string, unknown>;
  options: JobOptions;
  initiatedBy: string;
  /** the queue when the options name none */
  queue?: string;
}

/** make a job (a prime count: its parent and chunks) with its options, under its idempotency key */
export async function submitWork(store: Store, req: Request, w: Work): Promise<Submitted> {
  const o = w.options;
  const key = idempotencyKey(req, o);
  const delayMs = await delayOf(store, o);
  const queue = o.queue ?? w.queue ?? DEFAULT_QUEUE;
  const common = { queue, priority: o.priority, delayMs, timeoutMs: o.timeout_ms };
  if (w.type !== 'primes') {
    const job: NewJob = { type: w.type, params: w.params, initiatedBy: w.initiatedBy, maxAttempts: o.attempts, idempotencyKey: key, ...common };
    return store.submit(job);
  }
  const { n, chunks } = w.params as { n: number; chunks: number };
  return store.submit(primeCountFlow(n, chunks, { initiatedBy: w.initiatedBy, idempotencyKey: key, priority: o.priority, delayMs }, { maxAttempts: o.attempts, ...common }));
}
