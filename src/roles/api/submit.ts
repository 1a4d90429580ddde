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
import { type Dedupe, type DedupedJob, JobType, MAX_GROUPS_PER_QUEUE, scopedIdempotencyKey } from '../../core/job';
import { specFor, userTypes } from '../../core/handlers';
import {
  countPrimesParams,
  type DedupeOption,
  JobOptions,
  parseInput,
  simParams,
  SUBMIT_TYPES,
  taskParams,
} from '../../core/schemas';
import { checkUserParams } from '../../core/user-params';
import type { Submitted } from '../../store/types';
import { firstOf, type BulkItem } from '../../store/bulk';
import type { ApiContext } from './context';
import { queueFor } from './queues';
import { callerOf } from './caller';
import { admitWork, checkBounds, checkDelay, type Admission } from './quotas';
import { enqueueSpan, OpenSpan, storedTrace, traceFrom } from '../../util/tracing';

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
async function delayOf(m: Pick<Making, 'bounds' | 'now'>, options: JobOptions): Promise<number | undefined> {
  const bounds = m.bounds;
  if (options.delay_ms !== undefined && options.run_at !== undefined) {
    throw new ValidationError('give delay_ms or run_at, not both', [
      { field: 'run_at', message: 'cannot be given with delay_ms' },
    ]);
  }
  if (options.run_at === undefined) {
    checkDelay(bounds, options.delay_ms, 'delay_ms');
    return options.delay_ms;
  }
  const delay = Date.parse(options.run_at) - (await m.now());
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
  /** a debounce or throttle window (POST /jobs, POST /jobs/bulk) */
  dedupe?: DedupeOption;
}

/** a 400 naming the field */
const invalid = (field: string, message: string) => new ValidationError(`${field} ${message}`, [{ field, message }]);

/**
 * the job's debounce or throttle window, checked: not for a prime count (a flow of chunks), not
 * with an idempotency key; max_wait_ms only to debounce, and no shorter than ttl_ms; a debounced
 * job waits ttl_ms, so it takes no delay_ms or run_at of its own, and ttl_ms is a delay's bound
 */
export function windowOf(m: Pick<Making, 'bounds'>, w: Work, key: string | undefined): { dedupe?: Dedupe } {
  const d = w.dedupe;
  if (d === undefined) return {};
  if (w.type === 'primes') throw invalid('dedupe', 'is not for a prime count (a flow of chunks)');
  if (key !== undefined) throw invalid('dedupe', 'cannot be given with an idempotency key: give one');
  if (d.max_wait_ms !== undefined && d.mode !== 'debounce')
    throw invalid('dedupe.max_wait_ms', 'is for mode debounce only');
  if (d.max_wait_ms !== undefined && d.max_wait_ms < d.ttl_ms)
    throw invalid('dedupe.max_wait_ms', 'must be >= dedupe.ttl_ms');
  if (d.mode === 'debounce') {
    for (const field of ['delay_ms', 'run_at'] as const)
      if (w.options[field] !== undefined)
        throw invalid(field, 'cannot be given to a debounced job: it waits dedupe.ttl_ms after each submission');
    checkDelay(m.bounds, d.ttl_ms, 'dedupe.ttl_ms');
  }
  return {
    dedupe: {
      key: d.key,
      ttlMs: d.ttl_ms,
      mode: d.mode,
      ...(d.max_wait_ms === undefined ? {} : { maxWaitMs: d.max_wait_ms }),
    },
  };
}

/** what makes one job's record from its work: the store's clock (run_at), the queues looked up, who submits */
interface Making {
  bounds: Bounds;
  principal?: string;
  /** the store's time, asked once */
  now: () => Promise<number>;
  queue: (type: JobType, asked?: string) => Promise<string>;
  /** the group a job of the queue carries (groupFor), asked once per queue and group */
  group: (queue: string, asked?: string) => Promise<{ group?: string }>;
  /** the trace context the jobs keep (src/util/tracing.ts storedTrace): the enqueue's span's, or the request's */
  trace?: string;
}

/** a lookup made once per arguments within one request */
function cached<A extends unknown[], T>(look: (...a: A) => Promise<T>): (...a: A) => Promise<T> {
  const seen = new Map<string, Promise<T>>();
  return (...a) => {
    const k = JSON.stringify(a);
    let p = seen.get(k);
    if (!p) seen.set(k, (p = look(...a)));
    return p;
  };
}

function making(ctx: ApiContext, res: Response): Making {
  const caller = callerOf(res);
  return {
    bounds: (ctx.limits ?? LIMIT_DEFAULTS).bounds,
    principal: caller ? principalName(caller) : undefined,
    now: cached(() => ctx.store.server.time()),
    queue: cached((type: JobType, asked?: string) => queueFor(ctx, type, asked)),
    group: cached((queue: string, asked?: string) => groupFor(ctx, res, queue, asked)),
  };
}

/**
 * a job's record (a prime count: its parent and chunks), its options checked against the bounds,
 * on the queue its type may go to (queues.ts), recording who submitted it (its principal, which
 * scopes its idempotency key: two callers' same key are two jobs)
 */
async function itemOf(m: Making, w: Work, key: string | undefined): Promise<BulkItem> {
  const o = w.options;
  checkBounds(m.bounds, w.type, w.params, o);
  const window = windowOf(m, w, key);
  const queue = await m.queue(w.type, o.queue);
  const delayMs = await delayOf(m, o);
  const principal = m.principal;
  const group = await m.group(queue, o.group);
  const traced = m.trace ? { trace: m.trace } : {};
  const common = { queue, priority: o.priority, delayMs, timeoutMs: o.timeout_ms, principal, ...group, ...traced };
  if (w.type !== 'primes') {
    return {
      type: w.type,
      params: w.params,
      initiatedBy: w.initiatedBy,
      maxAttempts: o.attempts,
      idempotencyKey: key,
      ...common,
      ...window,
    };
  }
  const { n, chunks } = w.params as { n: number; chunks: number };
  return primeCountFlow(
    n,
    chunks,
    { initiatedBy: w.initiatedBy, idempotencyKey: key, priority: o.priority, delayMs, principal, ...group, ...traced },
    { maxAttempts: o.attempts, ...common },
  );
}

/** the quota's count of what was made: a store that fails to count it only undercounts, never fails the request */
async function settle(ctx: ApiContext, admission: Admission, made: Submitted[]): Promise<void> {
  const ids = made.filter((s) => !s.existing && !s.deduplicated).map((s) => s.job.id);
  await (ids.length === 0 ? admission.unmade() : admission.made(...ids)).catch((err: unknown) =>
    ctx.log.warn('quota not updated', { error: errorMessage(err) }),
  );
}

/**
 * make a job (a prime count: its parent and chunks) with its options (itemOf), within the
 * caller's quotas (quotas.ts)
 */
export async function submitWork(ctx: ApiContext, req: Request, res: Response, w: Work): Promise<Submitted> {
  const store = ctx.store;
  const key = idempotencyKey(req, w.options);
  const m = making(ctx, res);
  const span = traceEnqueue(req, m, w.type);
  const item = await itemOf(m, w, key).catch((err: unknown) => refused(span, err));
  const first = firstOf(item);
  span?.set({
    'wizard.job.queue': first.queue,
    'messaging.destination.name': first.queue,
    'wizard.job.group': first.group,
  });
  // a repeated key answers its first job, and a window its job, which its quotas counted then: not counted again
  const repeated = async () => {
    if (key !== undefined) return (await store.jobs.idempotentJob(scopedIdempotencyKey(key, m.principal))) !== null;
    return first.dedupe !== undefined && (await store.jobs.dedupedJob(first as DedupedJob)) !== null;
  };
  const admission = await admitWork(ctx, res, [w], repeated).catch((err: unknown) => refused(span, err));
  let submitted: Submitted;
  try {
    submitted = await store.jobs.submit(item);
  } catch (err) {
    await admission.unmade().catch(() => undefined);
    refused(span, err);
  }
  span?.set({ 'messaging.message.id': submitted.job.id, 'wizard.job.id': submitted.job.id });
  span?.end(submitted.existing ? 'EXISTING' : submitted.deduplicated ? 'DEDUPLICATED' : 'PENDING');
  await settle(ctx, admission, [submitted]);
  return submitted;
}

/**
 * the request's W3C trace context (traceparent, tracestate headers), continued by the enqueue's
 * PRODUCER span when tracing is on: the context the new jobs keep (m.trace)
 */
function traceEnqueue(req: Request, m: Making, type: string): OpenSpan | null {
  const { trace, span } = enqueueSpan(traceFrom(req.get('traceparent'), req.get('tracestate')), { type, queue: '' });
  if (trace) m.trace = storedTrace(trace);
  return span;
}

/** the enqueue's span ended with the error that refused it, which is thrown on */
function refused(span: OpenSpan | null, err: unknown): never {
  span?.end('REFUSED', errorMessage(err));
  throw err;
}

/** a ValidationError of the bulk's job i: its fields named jobs.<i>.<field> */
export function bulkJobError(err: unknown, i: number): unknown {
  if (!(err instanceof ValidationError)) return err;
  const field = (f: string) => (f === '(body)' ? `jobs.${i}` : `jobs.${i}.${f}`);
  return new ValidationError(
    `jobs.${i}: ${err.message}`,
    err.details.map((d) => ({ ...d, field: field(d.field) })),
  );
}

/**
 * make many jobs of any types (POST /jobs/bulk): every one checked first (a bad one is a 400
 * naming jobs.<index>.<field>, and nothing is made), the quotas met by the whole bulk, then the
 * jobs written atomically per shard (store.jobs.enqueueBulk). With an Idempotency-Key, the jobs'
 * ids follow from it and their index: a retry after a partial failure makes only the missing ones.
 * A job with its own idempotency_key or dedupe window is made as POST /jobs makes it, on its own.
 * Answers in order.
 */
export async function submitBulk(ctx: ApiContext, req: Request, res: Response, works: Work[]): Promise<Submitted[]> {
  const store = ctx.store;
  const header = idempotencyHeader(req);
  const m = making(ctx, res);
  const span = traceEnqueue(req, m, 'bulk');
  const items: BulkItem[] = [];
  for (const [i, w] of works.entries()) {
    try {
      items.push(await itemOf(m, w, w.options.idempotency_key));
    } catch (err) {
      refused(span, bulkJobError(err, i));
    }
  }
  const bulkKey = header === undefined ? undefined : scopedIdempotencyKey(header, m.principal);
  // a job with its own key or window is made on its own (its key's or its window's shard)
  const own = items.map((item) => firstOf(item).idempotencyKey !== undefined || firstOf(item).dedupe !== undefined);
  const admission = await admitWork(ctx, res, works, async () => false).catch((err: unknown) => refused(span, err));
  let made: Submitted[];
  try {
    const bulk = await store.jobs.enqueueBulk(
      items.filter((_, i) => !own[i]),
      bulkKey,
    );
    const keyed = await Promise.all(items.filter((_, i) => own[i]).map((item) => store.jobs.submit(item)));
    let b = 0;
    let k = 0;
    made = own.map((o) => (o ? keyed[k++] : bulk[b++]));
  } catch (err) {
    await admission.unmade().catch(() => undefined);
    refused(span, err);
  }
  span?.set({ 'wizard.bulk.jobs': made.length });
  span?.end('PENDING');
  await settle(ctx, admission, made);
  return made;
}
