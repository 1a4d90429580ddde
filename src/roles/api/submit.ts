/**
 * Making work, the one way every route that creates jobs does it (POST /jobs, /task,
 * /api/count-primes): the queue its type may go to (queues.ts), the options (delay_ms or run_at,
 * priority, attempts, timeout_ms) and
 * the idempotency key (the body's idempotency_key, or the Idempotency-Key header) become the new
 * job's fields, and store.jobs.submit makes it in one step: a second create with the same key, while
 * the first job is kept, makes nothing and answers that job (existing).
 */
import type { Request, Response } from 'express';
import { principalName } from '../../core/tokens';
import { Bounds, LIMIT_DEFAULTS } from '../../core/quotas';
import { primeCountFlow } from '../../core/chunks';
import { ConflictError, errorMessage, ValidationError, WizardError } from '../../core/errors';
import { isSafeName, SAFE_ALPHABET } from '../../core/ids';
import { JobType, MAX_GROUPS_PER_QUEUE, scopedIdempotencyKey } from '../../core/job';
import { specFor, userTypes } from '../../core/handlers';
import { countPrimesParams, JobOptions, parseInput, simParams, SUBMIT_TYPES, taskParams } from '../../core/schemas';
import { checkUserParams } from '../../core/user-params';
import type { Store, Submitted } from '../../store/types';
import type { ApiContext } from './context';
import { queueFor } from './queues';
import { callerOf } from './caller';
import { admitWork, checkBounds, checkDelay } from './quotas';
import { enqueueSpan, storedTrace, traceFrom } from '../../util/tracing';

export const IDEMPOTENCY_HEADER = 'idempotency-key';

/** the Idempotency-Key header, checked (1-200 of the safe alphabet, as the body's idempotency_key) */
export function idempotencyHeader(req: Request): string | undefined {
  const header = req.get(IDEMPOTENCY_HEADER);
  if (header !== undefined && !isSafeName(header, 1, 200)) {
    const must = `must be 1-200 of ${SAFE_ALPHABET}`;
    throw new ValidationError(`the Idempotency-Key header ${must}`, [{ field: 'Idempotency-Key', message: must }]);
  }
  return header;
}

/** the key of a request: the body's idempotency_key or the Idempotency-Key header (the same, when both are given) */
function idempotencyKey(req: Request, options: JobOptions): string | undefined {
  const header = idempotencyHeader(req);
  if (header !== undefined && options.idempotency_key !== undefined && header !== options.idempotency_key) {
    throw new ValidationError('idempotency_key and the Idempotency-Key header differ: give one', [
      { field: 'idempotency_key', message: 'differs from the Idempotency-Key header' },
    ]);
  }
  return options.idempotency_key ?? header;
}

/** delay_ms, or run_at made a delay by the store's clock (the one every due time is compared with), within the bound */
async function delayOf(store: Store, options: JobOptions, bounds: Bounds): Promise<number | undefined> {
  if (options.delay_ms !== undefined && options.run_at !== undefined) {
    throw new ValidationError('give delay_ms or run_at, not both', [
      { field: 'run_at', message: 'cannot be given with delay_ms' },
    ]);
  }
  if (options.run_at === undefined) {
    checkDelay(bounds, options.delay_ms, 'delay_ms');
    return options.delay_ms;
  }
  const delay = Date.parse(options.run_at) - (await store.server.time());
  checkDelay(bounds, delay, 'run_at');
  return Math.max(0, delay);
}

/** the types POST /jobs and POST /schedules make: the built-ins and a --handlers module's */
export function submitTypes(): string[] {
  return [...SUBMIT_TYPES, ...userTypes().map(([name]) => name)];
}

/** a type a job may be made of, or a 400 listing the known ones */
export function checkType(type: string, field = 'type'): void {
  const known = submitTypes();
  if (!known.includes(type))
    throw new ValidationError(`${field} must be one of ${known.join(', ')}, got '${type}'`, [
      { field, message: `unknown type: must be one of ${known.join(', ')}` },
    ]);
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
    const details = err.details.map((d) => ({
      field: d.field === '(body)' ? 'params' : `params.${d.field}`,
      message: d.message,
    }));
    throw new ValidationError(err.message.replace(/^body must be/, 'params must be'), details);
  }
}

/**
 * the group a new job carries: the one its caller's token is bound to (a tenant cannot take
 * another's slots: a different group given is a 403), else the one asked for; a group new to the
 * queue is refused while the queue holds MAX_GROUPS_PER_QUEUE groups with waiting jobs
 */
async function groupFor(ctx: ApiContext, res: Response, queue: string, asked?: string): Promise<{ group?: string }> {
  const bound = callerOf(res)?.group;
  if (bound !== undefined && asked !== undefined && asked !== bound)
    throw new WizardError(
      'forbidden',
      `this token's jobs are in the group '${bound}': it may not submit to '${asked}'`,
    );
  const group = bound ?? asked;
  if (group === undefined) return {};
  if ((await ctx.store.groups.groupCount(queue)) >= MAX_GROUPS_PER_QUEUE) {
    const info = await ctx.store.groups.group(queue, group);
    if (info.waiting === 0)
      throw new ConflictError(
        `queue ${queue} holds ${MAX_GROUPS_PER_QUEUE} groups with waiting jobs: no new group until one is done`,
      );
  }
  return { group };
}

export interface Work {
  type: JobType;
  params: Record<string, unknown>;
  options: JobOptions;
  initiatedBy: string;
}

/**
 * make a job (a prime count: its parent and chunks) with its options, on the queue its type may go
 * to (queues.ts), within the bounds and the caller's quotas (quotas.ts), recording who submitted it
 * (its principal, which scopes its idempotency key: two callers' same key are two jobs)
 */
export async function submitWork(ctx: ApiContext, req: Request, res: Response, w: Work): Promise<Submitted> {
  const store = ctx.store;
  const o = w.options;
  const bounds = (ctx.limits ?? LIMIT_DEFAULTS).bounds;
  checkBounds(bounds, w.type, w.params, o);
  const key = idempotencyKey(req, o);
  const queue = await queueFor(ctx, w.type, o.queue);
  const delayMs = await delayOf(store, o, bounds);
  const caller = callerOf(res);
  const principal = caller ? principalName(caller) : undefined;
  // a repeated key answers its first job, which its quotas counted then: not counted again
  const repeated = async () =>
    key !== undefined && (await store.jobs.idempotentJob(scopedIdempotencyKey(key, principal))) !== null;
  const admission = await admitWork(ctx, res, w.type, w.params, o, repeated);
  const group = await groupFor(ctx, res, queue, o.group);
  // the request's W3C trace context, continued by the enqueue's span (tracing on) and kept with the job
  const { trace, span } = enqueueSpan(traceFrom(req.get('traceparent'), req.get('tracestate')), {
    type: w.type,
    queue,
    group: group.group,
  });
  const traced = trace ? { trace: storedTrace(trace) } : {};
  const common = { queue, priority: o.priority, delayMs, timeoutMs: o.timeout_ms, principal, ...group, ...traced };
  let submitted: Submitted;
  try {
    if (w.type !== 'primes') {
      submitted = await store.jobs.submit({
        type: w.type,
        params: w.params,
        initiatedBy: w.initiatedBy,
        maxAttempts: o.attempts,
        idempotencyKey: key,
        ...common,
      });
    } else {
      const { n, chunks } = w.params as { n: number; chunks: number };
      submitted = await store.jobs.submit(
        primeCountFlow(
          n,
          chunks,
          {
            initiatedBy: w.initiatedBy,
            idempotencyKey: key,
            priority: o.priority,
            delayMs,
            principal,
            ...group,
            ...traced,
          },
          { maxAttempts: o.attempts, ...common },
        ),
      );
    }
  } catch (err) {
    span?.end('REFUSED', errorMessage(err));
    await admission.unmade().catch(() => undefined);
    throw err;
  }
  span?.set({ 'messaging.message.id': submitted.job.id, 'wizard.job.id': submitted.job.id });
  span?.end(submitted.existing ? 'EXISTING' : 'PENDING');
  // made: a store that fails to count it now only undercounts the quota, never fails the request
  await (submitted.existing ? admission.unmade() : admission.made(submitted.job.id)).catch((err: unknown) =>
    ctx.log.warn('quota not updated', { error: errorMessage(err) }),
  );
  return submitted;
}
