/** What both adapters do alike before a job reaches them: ids, defaults, the flow's links. */
import { randomUUID } from 'node:crypto';
import { ConflictError, UnknownBotError, ValidationError } from '../core/errors';
import { newJobId } from '../core/ids';
import { isCpuType, maxAttemptsFor } from '../core/handlers';
import {
  type DedupedJob,
  dedupeScope,
  DEFAULT_PRIORITY,
  DEFAULT_QUEUE,
  givenIdempotencyKey,
  Job,
  JobType,
  NewJob,
  scopedIdempotencyKey,
} from '../core/job';
import { JOB_LOG_LINE_BYTES, type BudgetSpend, type FlowSpec } from './types';
import { DEDUPE, OPTIONAL_FIELDS, PLAIN_ROW, pushRow, ROW, ROW_OPTIONS, wireJson, type WireArg } from './wire';

export interface JobRow {
  id: string;
  type: string;
  queue: string;
  /** JSON */
  params: string;
  /** the params as given (not written: what createdJob answers without parsing them back) */
  paramsValue: Record<string, unknown>;
  initiated_by: string;
  max_attempts: number;
  parent_id: string;
  chunk_index: string;
  total: string;
  /** '' for DEFAULT_PRIORITY (nothing written: the default path stays as it was) */
  priority: string;
  /** '' or a delay (ms) from the store's time of the enqueue */
  delay_ms: string;
  timeout_ms: string;
  /** the idempotency key scoped by the principal (scopedIdempotencyKey), as the store keeps it */
  idem_key: string;
  /** '1': a CPU job (its queue's CPU lists), else '' */
  cpu: string;
  principal: string;
  /** '' or the job's group */
  group: string;
  /** a prime count's (a job on no queue): the queue its chunks run on, which its view shows as its queue */
  runs_on: string;
  /** a flow's node: its flow (lib-flow.lua), else '' */
  flow_id: string;
  /** a flow's node with deps: how many have not finished ('' none: it is queued at once) */
  deps_left: string;
  /** the W3C trace context it continues (src/util/tracing.ts storedTrace), else '' */
  trace: string;
}

/**
 * an id a job's record can be kept under: not empty and no ':' (the keys beside a job's record are
 * `job:<id>:children` and `job:<id>:results`, so such an id would name one of them: lib.lua's
 * jobKeyFor refuses it in every script, and this in the adapters' own reads and writes)
 */
export const isStorableJobId = (id: string): boolean => id !== '' && !id.includes(':');

/**
 * the job with this id. Not `{ ...job, id }`: V8 made that copy an object whose many missing
 * options (jobRow reads twenty-odd) were each looked up slowly, 4 µs a job where the row took 0.4
 * (docs/benchmarks.md); Object.assign's copy reads as fast as the job itself
 */
export const withJobId = (job: NewJob, id: string): NewJob => Object.assign({}, job, { id });

/**
 * the row a new job is written from; `id` is the id it gets when it brings none (a Cluster's
 * shard's: placement.ts newId), given here so the hot path (store.jobs.enqueue) copies nothing
 */
export function jobRow(
  job: NewJob,
  link: { parentId?: string; index?: number; total?: number; queued?: boolean } = {},
  id?: string,
): JobRow {
  if (job.id !== undefined && !isStorableJobId(job.id))
    throw new Error(`a job id may not be empty or hold ':', got '${job.id}'`);
  return {
    id: job.id ?? id ?? newJobId(),
    type: job.type,
    queue: link.queued === false ? '' : (job.queue ?? DEFAULT_QUEUE),
    params: JSON.stringify(job.params ?? {}),
    paramsValue: job.params ?? {},
    initiated_by: job.initiatedBy ?? '',
    max_attempts: job.maxAttempts ?? maxAttemptsFor(job.type),
    parent_id: link.parentId ?? '',
    chunk_index: link.index === undefined ? '' : String(link.index),
    total: link.total === undefined ? '' : String(link.total),
    priority: job.priority === undefined || job.priority === DEFAULT_PRIORITY ? '' : String(job.priority),
    delay_ms: job.delayMs ? String(Math.max(0, Math.round(job.delayMs))) : '',
    timeout_ms: job.timeoutMs === undefined ? '' : String(job.timeoutMs),
    idem_key: job.idempotencyKey ? scopedIdempotencyKey(job.idempotencyKey, job.principal) : '',
    cpu: link.queued !== false && (job.cpu ?? isCpuType(job.type)) ? '1' : '',
    principal: job.principal ?? '',
    group: job.group ?? '',
    runs_on: link.queued === false ? (job.queue ?? DEFAULT_QUEUE) : '',
    flow_id: '',
    deps_left: '',
    trace: job.trace ?? '',
  };
}

/** what an idempotency key's first use is compared with: the type and the params (keys sorted) */
export function fingerprint(job: Pick<NewJob, 'type' | 'params'>): string {
  const sorted = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(sorted)
      : v && typeof v === 'object'
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((k) => [k, sorted((v as Record<string, unknown>)[k])]),
          )
        : v;
  return JSON.stringify([job.type, sorted(job.params ?? {})]);
}

/** a second create with an idempotency key in use for other params */
export const idempotencyConflict = (key: string, jobId: string) =>
  new ConflictError(`idempotency_key '${key}' was used for job ${jobId} with other params`, [
    { field: 'idempotency_key', message: `'${key}' is in use with other params (job ${jobId})` },
  ]);

/**
 * the job of a submit that has a window, or null; a window with an idempotency key or on a flow
 * (a prime count) is refused: the API says so first, naming the field
 */
export function dedupedOf(work: NewJob | FlowSpec): DedupedJob | null {
  const first = 'parent' in work ? work.parent : work;
  if (!first.dedupe) return null;
  if ('parent' in work || first.idempotencyKey)
    throw new ValidationError('dedupe cannot be given with an idempotency key, nor for a prime count', [
      { field: 'dedupe', message: 'not with an idempotency key, nor for a prime count' },
    ]);
  return first as DedupedJob;
}

/**
 * whether a window's job in this state answers a submission (enqueueDeduped.lua): a throttle
 * window's while it is kept and not CANCELLED, a debounce window's while it is PENDING
 */
export function windowAnswers(mode: string, state: string | null | undefined): boolean {
  if (!state) return false;
  return mode === 'throttle' ? state !== 'CANCELLED' : state === 'PENDING';
}

/** a windowed job's row: a debounced job waits the window (at most max_wait_ms) before it is due */
export function dedupedRow(job: DedupedJob): JobRow {
  const d = job.dedupe;
  return jobRow(d.mode === 'debounce' ? { ...job, delayMs: Math.min(d.ttlMs, d.maxWaitMs ?? d.ttlMs) } : job);
}

/** enqueueDeduped.lua's window arguments: the layout DEDUPE of wire.ts */
export function dedupeArgs(job: DedupedJob): string[] {
  const d = job.dedupe;
  const args: string[] = [];
  pushRow(args, DEDUPE, {
    scope: dedupeScope(job, d.key),
    mode: d.mode,
    ttl_ms: String(d.ttlMs),
    max_wait_ms: d.maxWaitMs === undefined ? '' : String(d.maxWaitMs),
    key: d.key,
  });
  return args;
}

/** a window that cannot take a submission: it is in the other mode, or its waiting job is of another type */
export function dedupeConflict(job: DedupedJob, jobId: string, why: string, held: string): ConflictError {
  const key = job.dedupe.key;
  if (why === 'mode')
    return new ConflictError(
      `dedupe key '${key}' holds a ${held} window (job ${jobId}): not one to ${job.dedupe.mode}`,
      [{ field: 'dedupe.mode', message: `the key's window is ${held}'s (job ${jobId})` }],
    );
  return new ConflictError(`dedupe key '${key}' holds job ${jobId} of type ${held}, waiting: not one of ${job.type}`, [
    { field: 'dedupe.key', message: `in use by a waiting job of type ${held} (job ${jobId})` },
  ]);
}

/** the most digits a chunk's result may have (lib-queue.lua's MAX_CHUNK_RESULT_DIGITS) */
const MAX_CHUNK_RESULT_DIGITS = 15;

/**
 * lib-queue.lua's chunkResultFits: a chunk's result (as JSON) is the count of primes in its range
 * [lo, hi] (its params, as JSON): digits only, at most hi - lo + 1
 */
export function chunkResultFits(result: string, params: string | undefined): boolean {
  if (result.length > MAX_CHUNK_RESULT_DIGITS || !/^\d+$/.test(result)) return false;
  let p: unknown;
  try {
    p = JSON.parse(params ?? '');
  } catch {
    return false;
  }
  const { lo, hi } = (p ?? {}) as { lo?: unknown; hi?: unknown };
  return typeof lo === 'number' && typeof hi === 'number' && Number(result) <= hi - lo + 1;
}

/** a chunk's result refused (BAD_RESULT): nothing was written */
export const badChunkResult = (jobId: string) =>
  new ValidationError(
    `the result of chunk ${jobId} must be the count of primes in its range [lo, hi]: an integer from 0 to hi - lo + 1`,
    [
      {
        field: 'result',
        message: "must be an integer from 0 to hi - lo + 1 (the chunk's lo and hi are in its params)",
      },
    ],
  );

/** how many of a principal's jobs one openJobs looks at, at most (those looked at longest ago first) */
export const OPEN_JOBS_SCAN = 200;

/** how long a principal's list of jobs is kept after its last job was added: longer than any job waits (a delay is at most 30 days) */
export const OWNED_TTL_MS = 31 * 86_400_000;

/** spendBudget.lua's arithmetic: a token bucket refilled to `now`, then `cost` taken when it holds that much */
export function spendFromBucket(
  b: { tokens: number; at: number } | undefined,
  now: number,
  cost: number,
  capacity: number,
  windowMs: number,
): BudgetSpend & { tokens: number } {
  let tokens = Math.min(capacity, (b?.tokens ?? capacity) + (Math.max(0, now - (b?.at ?? now)) * capacity) / windowMs);
  if (cost > 0 && tokens < cost)
    return {
      allowed: false,
      retryAfterMs: Math.ceil(((cost - tokens) * windowMs) / capacity),
      remaining: Math.floor(tokens),
      tokens,
    };
  tokens = Math.min(capacity, tokens - cost);
  return { allowed: true, retryAfterMs: 0, remaining: Math.floor(tokens), tokens };
}

/** a job a cancel cannot end: it has finished already */
export const cancelConflict = (jobId: string, state: string) =>
  new ConflictError(`job ${jobId} has finished (${state}): nothing to cancel`);

/** a parent (not queued, total = number of children) and its queued children, linked */
export function flowRows(flow: FlowSpec): JobRow[] {
  const parent = jobRow(flow.parent, { queued: false, total: flow.children.length });
  return [parent, ...flow.children.map((c, index) => jobRow(c, { parentId: parent.id, index }))];
}

/** a unique claim-token base for one claim call: "<consumer>:<random>" */
export function tokenBase(consumer: string): string {
  return `${consumer}:${randomUUID().slice(0, 13)}`;
}

/** the base of a claim token ("<base>.<i>"): the claim call it came from */
export function tokenBaseOf(token: string): string {
  const dot = token.lastIndexOf('.');
  return dot < 0 ? token : token.slice(0, dot);
}

/**
 * the record a new job starts as: the fields lib.lua's enqueueRows writes, and no other. Only
 * fields with a value are written, and not what a reader knows without them (codec.ts
 * decodeJob): not the id (it is in the key), attempts, updated_at or priority 5.
 */
export function newJobFields(j: JobRow, now: number): Record<string, string> {
  const rec: Record<string, string> = {
    state: 'PENDING',
    type: j.type,
    queue: j.queue,
    params: j.params,
    max_attempts: String(j.max_attempts),
    created_at: String(now),
  };
  for (const f of OPTIONAL_FIELDS) if (j[f] !== '') rec[f] = j[f];
  if (j.total !== '') rec.completed = '0';
  if (j.delay_ms !== '' && Number(j.delay_ms) > 0) rec.run_at = String(now + Number(j.delay_ms));
  return rec;
}

/** the job a row becomes when it is written: decodeJob(newJobFields(row, now), row.id), made directly */
export function createdJob(r: JobRow, now: number): Job {
  const total = r.total === '' ? null : Number(r.total);
  return {
    id: r.id,
    type: r.type as JobType,
    queue: r.queue || r.runs_on,
    state: 'PENDING',
    params: r.paramsValue,
    progress: total === null ? null : { completed: 0, total },
    result: null,
    error: null,
    attempts: 0,
    maxAttempts: r.max_attempts,
    initiatedBy: r.initiated_by === '' ? null : r.initiated_by,
    handledBy: null,
    checkedBy: null,
    parentId: r.parent_id === '' ? null : r.parent_id,
    createdAt: now,
    startedAt: null,
    finishedAt: null,
    updatedAt: now,
    runAt: r.delay_ms === '' ? null : now + Number(r.delay_ms),
    priority: r.priority === '' ? DEFAULT_PRIORITY : Number(r.priority),
    timeoutMs: r.timeout_ms === '' ? null : Number(r.timeout_ms),
    idempotencyKey: r.idem_key === '' ? null : givenIdempotencyKey(r.idem_key, r.principal),
    principal: r.principal === '' ? null : r.principal,
    ...(r.group === '' ? {} : { group: r.group }),
    attemptsLog: [],
  };
}

/**
 * enqueueJobs.lua's rows: their size, then each in the layout ROW (wire.ts), flat; when no job
 * has options, only PLAIN_ROW's fields of each (what they would send for the rest is empty).
 * Without format3 (a prefix below format 3: src/store/format.ts) no row is a CPU job: they wait
 * in the ordinary lists, where the previous release's workers look; and the size is sent
 * negated, which tells the script to write every record whole, as the previous release reads it
 * (with format3 it leaves out the fields that hold wire.ts's OMITTED values).
 */
export function rowArgs(given: readonly JobRow[], format3: boolean): WireArg[] {
  const rows = format3 ? given : given.map((r) => (r.cpu === '' ? r : { ...r, cpu: '' }));
  const layout = rows.every(isPlain) ? PLAIN_ROW : ROW;
  const args: WireArg[] = [format3 ? layout.length : -layout.length];
  const paramsAt = layout.indexOf('params');
  for (const r of rows) {
    const at = args.length + paramsAt;
    pushRow(args, layout, r);
    args[at] = wireJson(r.params);
  }
  return args;
}

const isPlain = (r: JobRow) => ROW_OPTIONS.every((f) => r[f] === '');

/** the errors of a bot's transitions, worded alike by both adapters */
/** retryFailed's refusal, in both adapters' words */
export const notRetryable = (jobId: string) =>
  new ConflictError(
    `job ${jobId} cannot be retried: only a job that ended in FAILURE on a queue can (not a prime count, which is not run itself, nor one of its chunks)`,
  );

export const botErrors = {
  unknown: (botId: string) => new UnknownBotError(`unknown bot ${botId}: register again`),
  busy: (botId: string, jobId: string) => new ConflictError(`bot ${botId} already holds job ${jobId}: finish it first`),
  notHolder: (botId: string, jobId: string) => new ConflictError(`job ${jobId} is not held by bot ${botId}`),
};

/** a log line as a job's log keeps it: at most JOB_LOG_LINE_BYTES of UTF-8, cut at a character */
export function logLine(line: string): string {
  if (Buffer.byteLength(line) <= JOB_LOG_LINE_BYTES) return line;
  return Buffer.from(line)
    .subarray(0, JOB_LOG_LINE_BYTES)
    .toString('utf8')
    .replace(/\uFFFD$/, '');
}
