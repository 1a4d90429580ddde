/**
 * Request schemas: one definition validates input and documents it in OpenAPI (src/roles/api/openapi/).
 * Each message names the field and its bound, as the prime counter always asked ("n must be an integer >= 10000").
 * A query parameter arrives as a string; its schema carries how its value is documented
 * (QUERY_VALUE: an integer in bounds, a number), made from the same bounds that check it.
 */
import { MAX_RATE_LIMITED_HOLD_MS, RATE_LIMITED_HOLD_MS } from './defaults';
import { HISTORY_WINDOWS, HistoryWindow } from './history';
import { z } from 'zod';
import { ValidationError } from './errors';
import {
  DEDUPE_MODES,
  JOB_STATES,
  JobState,
  JobType,
  MAX_DEDUPE_KEY_LENGTH,
  MAX_DELAY_MS,
  MAX_GROUP_LENGTH,
  MAX_PRIORITY,
  MIN_PRIORITY,
} from './job';
import { DEP_POLICIES, MAX_FLOW_NODES } from './flows';
import { jobIdParam, safeName } from './ids';
import { MATH_OPS } from './math';

import { PRIMES_MAX_CHUNKS, PRIMES_MAX_N, PRIMES_MIN_N } from './limits';

export { PRIMES_MAX_CHUNKS, PRIMES_MAX_N, PRIMES_MIN_N };

/** an integer field in [min, max] whose every failure says so */
export function boundedInt(field: string, min: number, max: number, minLabel = String(min), maxLabel = String(max)) {
  const msg = `${field} must be an integer from ${minLabel} to ${maxLabel}`;
  return z
    .number({ error: msg })
    .int({ error: msg })
    .min(min, { error: `${field} must be an integer >= ${minLabel}` })
    .max(max, { error: `${field} must be an integer <= ${maxLabel}` });
}

function finiteNumber(field: string) {
  return z.number({ error: `${field} must be a finite number` });
}

/** the job types a batch may hold: work a bot (or a worker) runs on its own (batch.ts) */
export const BATCH_TYPES = ['sim', 'task'] as const satisfies readonly JobType[];

/** the metadata key under which a query parameter's schema says how its value is documented */
export const QUERY_VALUE = 'x-query-value';

/** a query-string schema documented as the value it parses to, not as the raw string */
function documentedAs<T extends z.ZodType>(schema: T, value: Record<string, unknown>): T {
  return schema.meta({ [QUERY_VALUE]: value });
}

/** a JSON object body with exactly these fields; an unknown field or a non-object is named as such */
export function jsonBody<S extends z.ZodRawShape>(shape: S, shown: string[] = Object.keys(shape)) {
  const expected = `body must be a JSON object {${shown.join(', ')}}`;
  return z.strictObject(shape, {
    error: (iss) => (iss.code === 'unrecognized_keys' ? `unknown field: ${iss.keys.join(', ')}` : expected),
  });
}

/** a string of min..max characters whose every failure says so */
export function boundedString(field: string, min: number, max: number) {
  const msg = `${field} must be a string of ${min}-${max} characters`;
  return z.string({ error: msg }).min(min, { error: msg }).max(max, { error: msg });
}

/** a queue's name: 1-64 of the safe alphabet (core/ids.ts) */
export const queueName = safeName('queue', 1, 64);

/** the options every route that creates work takes (POST /jobs, /task, /api/count-primes) */
export const jobOptionsShape = {
  queue: queueName.optional(),
  delay_ms: boundedInt('delay_ms', 0, MAX_DELAY_MS, '0', `${MAX_DELAY_MS} (30 days)`).optional(),
  run_at: z.iso
    .datetime({ offset: true, error: 'run_at must be an ISO 8601 time, e.g. 2030-01-01T12:00:00Z' })
    .describe("when the job may start (by the store's clock), at most 30 days ahead; not with delay_ms")
    .optional(),
  priority: boundedInt('priority', MIN_PRIORITY, MAX_PRIORITY).optional(),
  idempotency_key: safeName('idempotency_key', 1, 200).optional(),
  group: safeName('group', 1, MAX_GROUP_LENGTH)
    .describe("its group (a tenant, a user): claims take from a queue's groups in turn (docs/flow-control.md)")
    .optional(),
  attempts: boundedInt('attempts', 1, 100).optional(),
  timeout_ms: boundedInt('timeout_ms', 1, 86_400_000).optional(),
};
export type JobOptions = { [K in keyof typeof jobOptionsShape]?: z.infer<(typeof jobOptionsShape)[K]> };

const countPrimesShape = {
  n: boundedInt('n', PRIMES_MIN_N, PRIMES_MAX_N, '10000', '10^12'),
  chunks: boundedInt('chunks', 1, PRIMES_MAX_CHUNKS),
};
/** a prime count's params (POST /jobs with type primes) */
export const countPrimesParams = jsonBody(countPrimesShape);
export const countPrimesBody = jsonBody({ ...countPrimesShape, ...jobOptionsShape }, Object.keys(countPrimesShape));
export type CountPrimesBody = z.infer<typeof countPrimesBody>;

export const mathOp = z.enum(MATH_OPS, { error: `op must be one of ${MATH_OPS.join(', ')}` });

const taskShape = {
  a: finiteNumber('a'),
  b: finiteNumber('b'),
  op: mathOp.default('add'),
};
/** a math task's params (POST /jobs with type task, a batch of tasks) */
export const taskParams = jsonBody(taskShape);
export const taskBody = jsonBody({ ...taskShape, ...jobOptionsShape }, Object.keys(taskShape));
export type TaskBody = z.infer<typeof taskBody>;

/** the job types POST /jobs makes */
export const SUBMIT_TYPES = ['task', 'primes', 'sim'] as const satisfies readonly JobType[];

const windowMs = (field: string) => boundedInt(field, 1, MAX_DELAY_MS, '1', `${MAX_DELAY_MS} (30 days)`);

/** a debounce or throttle window (POST /jobs, docs/flow-control.md "Debounce and throttle") */
export const dedupeOption = z
  .strictObject(
    {
      key: safeName('dedupe.key', 1, MAX_DEDUPE_KEY_LENGTH).describe(
        "the window's key: per queue, group and submitter",
      ),
      ttl_ms: windowMs('dedupe.ttl_ms').describe(
        'throttle: how long the first job answers for the key; debounce: how long the job waits after each submission',
      ),
      mode: z.enum(DEDUPE_MODES, { error: `dedupe.mode must be one of ${DEDUPE_MODES.join(', ')}` }),
      max_wait_ms: windowMs('dedupe.max_wait_ms')
        .describe('debounce: the job is due at most this long after the first submission (>= ttl_ms)')
        .optional(),
    },
    {
      error: (iss) =>
        iss.code === 'unrecognized_keys'
          ? `unknown field: ${iss.keys.map((k) => `dedupe.${k}`).join(', ')}`
          : 'dedupe must be a JSON object {key, ttl_ms, mode, max_wait_ms?}',
    },
  )
  .describe(
    'throttle: the first job of the window wins, later ones are answered with it (200, deduplicated); debounce: the job waits ttl_ms, and a later one replaces its params and restarts the wait',
  );
export type DedupeOption = z.infer<typeof dedupeOption>;

/** POST /jobs: any job type (a built-in one, or a --handlers module's), its params checked by that type's schema (checkParams) */
export const submitBody = jsonBody({
  type: z.string({
    error: `type must be a string: one of ${SUBMIT_TYPES.join(', ')} or a type a --handlers module defines`,
  }),
  params: z.record(z.string(), z.unknown(), { error: 'params must be a JSON object' }),
  ...jobOptionsShape,
  dedupe: dedupeOption.optional(),
});

/** the most jobs one POST /jobs/bulk makes */
export const MAX_BULK_JOBS = 10_000;

/** POST /jobs/bulk: jobs of any types, each as POST /jobs takes it */
export const bulkBody = jsonBody({
  jobs: z
    .array(submitBody, { error: 'jobs must be an array of jobs, each {type, params, ...options} as POST /jobs takes' })
    .min(1, { error: 'jobs must hold at least 1 job' })
    .max(MAX_BULK_JOBS, { error: `jobs must hold at most ${MAX_BULK_JOBS} jobs` }),
});

/** the options of a body that creates work, apart from its params */
export function splitOptions<T extends JobOptions>(body: T): { options: JobOptions; rest: Omit<T, keyof JobOptions> } {
  const options: JobOptions = {};
  const rest: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(body)) {
    if (k in jobOptionsShape) (options as Record<string, unknown>)[k] = v;
    else rest[k] = v;
  }
  return { options, rest: rest as Omit<T, keyof JobOptions> };
}

/** the abacus: a JSON integer that is exact as a double (|number| <= 2^53-1) */
export const abacusBody = jsonBody({
  number: boundedInt('number', -Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER),
});
export type AbacusBody = z.infer<typeof abacusBody>;

const NUMERIC = /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/;

/** a query-string number: present, numeric and finite */
export function queryNumber(field: string) {
  const checked = z
    .string({ error: `${field} is required and must be a number` })
    .refine((s) => NUMERIC.test(s) && Number.isFinite(Number(s)), { error: `${field} must be a finite number` })
    .transform(Number);
  return documentedAs(checked, {
    type: 'number',
    minimum: -Number.MAX_VALUE,
    maximum: Number.MAX_VALUE,
    description: `${field}: a finite number`,
  });
}

export const addQuery = z.object({ a: queryNumber('a'), b: queryNumber('b'), op: mathOp.default('add') });

/**
 * parse or throw a ValidationError whose message is the first issue's and whose details list one
 * issue per field, its first (1e20 for an integer in bounds fails both "an integer" and "<= max":
 * one entry says it)
 */
export function parseInput<T extends z.ZodType>(schema: T, input: unknown): z.infer<T> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const details = r.error.issues
    .map((iss) => ({ field: iss.path.join('.') || '(body)', message: iss.message }))
    .filter((d, i, all) => all.findIndex((o) => o.field === d.field) === i);
  throw new ValidationError(details[0].message, details);
}

// ---- the bot batches: batches, bots, the job listing, the datalake ----

/** params of the bot batch's simulated work */
export const simParams = z.object({
  duration_ms: boundedInt('duration_ms', 0, 86_400_000),
  failure_rate: z
    .number({ error: 'failure_rate must be a number from 0 to 1' })
    .min(0, { error: 'failure_rate must be >= 0' })
    .max(1, { error: 'failure_rate must be <= 1' }),
});

/** a query-string integer in [min, max], or the default when absent */
function queryInt(field: string, min: number, max: number, dflt: number) {
  const msg = `${field} must be an integer from ${min} to ${max}`;
  const checked = z
    .string({ error: msg })
    .refine((s) => /^\d+$/.test(s) && Number(s) >= min && Number(s) <= max, { error: msg })
    .transform(Number)
    .optional()
    .transform((n) => n ?? dflt);
  return documentedAs(checked, { type: 'integer', minimum: min, maximum: max, default: dflt });
}

/** the bot batch's original names (pending, claimed, processing, completed, failed) for our states */
const STATUS_ALIASES: Record<string, JobState> = {
  CLAIMED: 'STARTED',
  PROCESSING: 'PROGRESS',
  RUNNING: 'PROGRESS',
  COMPLETED: 'SUCCESS',
  FAILED: 'FAILURE',
};
/** what ?status= accepts: our states and the bot batch's original names, each in upper or lower case */
export const STATUS_NAMES = [...JOB_STATES, ...Object.keys(STATUS_ALIASES)].flatMap((s) => [s, s.toLowerCase()]);
const statusMsg = `status must be one of ${JOB_STATES.join(', ')} (or pending, claimed, processing, completed, failed; upper or lower case)`;

/** a state named as ?status= takes it (upper or lower case, or the bot batch's names) */
const statusName = z
  .enum(STATUS_NAMES as [string, ...string[]], { error: statusMsg })
  .transform((s) => STATUS_ALIASES[s.toUpperCase()] ?? (s.toUpperCase() as JobState));

export const listJobsQuery = z.object({
  status: statusName.optional(),
  type: safeName('type', 1, 64).describe('only jobs of this type').optional(),
  queue: queueName.describe('only jobs of this queue').optional(),
  offset: queryInt('offset', 0, 1_000_000, 0),
  limit: queryInt('limit', 1, 500, 50),
});

/** POST /jobs/retry and /jobs/cancel: the jobs acted on, by state, type and queue (the route says which states it takes) */
export const bulkJobsBody = jsonBody({
  status: statusName.optional(),
  type: safeName('type', 1, 64).optional(),
  queue: queueName.optional(),
});

/** DELETE /jobs: the finished jobs deleted, by state, type and queue, and where an earlier call stopped */
export const cleanJobsQuery = z.object({
  status: statusName.optional(),
  type: safeName('type', 1, 64).optional(),
  queue: queueName.optional(),
  cursor: z.string().max(64).describe('the cursor the previous call answered: go on from there').optional(),
});

export const dlqQuery = z.object({
  offset: queryInt('offset', 0, 1_000_000, 0),
  limit: queryInt('limit', 1, 500, 50),
});

const objectError = (shape: string) => (iss: { code: string; keys?: string[] }) =>
  iss.code === 'unrecognized_keys'
    ? `unknown field: ${(iss.keys ?? []).join(', ')}`
    : `body must be a JSON object ${shape}`;

export const registerBotBody = z.strictObject(
  { name: boundedString('name', 1, 128).optional() },
  { error: objectError('{name?}') },
);

export const claimBody = z.strictObject({ queue: queueName.optional() }, { error: objectError('{queue?}') });

export const completeBody = z.strictObject({ result: z.unknown().optional() }, { error: objectError('{result?}') });

export const failBody = z.strictObject(
  {
    error: boundedString('error', 1, 2000),
    permanent: z.boolean({ error: 'permanent must be true or false' }).optional(),
    code: z
      .literal('rate_limited', { error: "code must be 'rate_limited'" })
      .optional()
      .describe('rate_limited: the job goes back to waiting, its attempt not counted, its group (or queue) held'),
    retry_after_ms: boundedInt('retry_after_ms', 0, MAX_RATE_LIMITED_HOLD_MS)
      .optional()
      .describe(`with code rate_limited: how long its group (or queue) waits (default ${RATE_LIMITED_HOLD_MS})`),
  },
  { error: objectError('{error, permanent?, code?, retry_after_ms?}') },
);

export const populateBody = z.strictObject(
  {
    count: boundedInt('count', 1, 1000).optional(),
    // sim, task or a --handlers module's type: checked with its params by batchSpec (core/batch.ts)
    type: z
      .string({ error: `type must be one of ${BATCH_TYPES.join(', ')} or a type a --handlers module defines` })
      .optional(),
    params: z.record(z.string(), z.unknown(), { error: 'params must be a JSON object' }).optional(),
  },
  { error: objectError('{count?, type?, params?}') },
);

/** GET /datalake/export/:date: a real day, written YYYY-MM-DD (leap years known) */
export const datalakeDayParams = z.object({
  date: z.iso.date({ error: (iss) => `date must be a day written YYYY-MM-DD, got '${String(iss.input)}'` }),
});

/** a path parameter that names a job: an id of the shape wizard makes (any other is a 404: core/ids.ts) */
export const idParam = jobIdParam;

/** POST /queues/:name/pause and /resume, DELETE /queues/:name: a queue's name */
export const queueParams = z.object({ name: queueName });

/** a queue's group in a path: /queues/:name/groups/:group/... */
export const groupParams = z.object({ name: queueName, group: safeName('group', 1, MAX_GROUP_LENGTH) });

/** a limit: how many may run at once, or null to remove it */
const limitValue = (field: string) => boundedInt(field, 0, 1_000_000).nullable().optional();

/** the largest window a rate may have (ms): a day */
export const MAX_RATE_WINDOW_MS = 86_400_000;

/** a rate limit: at most max starts in any window of per_ms, or null to remove it */
const rateValue = (field: string) =>
  z
    .strictObject(
      {
        max: boundedInt(`${field}.max`, 1, 1_000_000),
        per_ms: boundedInt(`${field}.per_ms`, 1, MAX_RATE_WINDOW_MS),
      },
      { error: `${field} must be an object {max, per_ms} or null` },
    )
    .nullable()
    .optional();

/** PUT /queues/:name/limits (docs/flow-control.md): a field left out stays as it is */
export const queueLimitsBody = jsonBody({
  concurrency: limitValue('concurrency').describe("at most this many of the queue's jobs run at once; null: no limit"),
  group_concurrency: limitValue('group_concurrency').describe(
    "at most this many of each group's jobs run at once (a group's own limit overrides it); null: no limit",
  ),
  rate: rateValue('rate').describe("at most max of the queue's jobs start in any window of per_ms; null: no limit"),
  group_rate: rateValue('group_rate').describe(
    "at most max of each group's jobs start in any window of per_ms (a group's own rate overrides it); null: no limit",
  ),
});

/** PUT /queues/:name/groups/:group/limits */
export const groupLimitsBody = jsonBody({
  concurrency: limitValue('concurrency').describe(
    "at most this many of the group's jobs run at once; null: the queue's group_concurrency holds",
  ),
  rate: rateValue('rate').describe(
    "at most max of the group's jobs start in any window of per_ms; null: the queue's group_rate holds",
  ),
});

/** POST /queues: declare a queue */
export const declareQueueBody = jsonBody({ name: safeName('name', 1, 64) });

// ---- the dashboard's history ----

const windowMsg = `window must be one of ${Object.keys(HISTORY_WINDOWS).join(', ')}`;

/** GET /metrics/history's query: how far back (default 1h) */
export const historyQuery = z.object({
  window: z
    .string({ error: windowMsg })
    .refine((w): w is HistoryWindow => Object.hasOwn(HISTORY_WINDOWS, w), { error: windowMsg })
    .optional()
    .transform((w) => (w ?? '1h') as HistoryWindow),
});

/** one node of POST /flows: a job of any type with its deps and what a dep's failure does to it */
export const flowNode = z.object({
  id: safeName('id', 1, 200),
  type: z.string({ error: 'type must be a string: a job type' }),
  params: z.record(z.string(), z.unknown(), { error: 'params must be a JSON object' }).optional(),
  deps: z
    .array(z.string({ error: 'deps must be node ids' }), { error: 'deps must be an array of node ids' })
    .optional(),
  on_dep_failure: z
    .enum(DEP_POLICIES, { error: `on_dep_failure must be one of ${DEP_POLICIES.join(', ')}` })
    .optional(),
  queue: jobOptionsShape.queue,
  priority: jobOptionsShape.priority,
  timeout_ms: jobOptionsShape.timeout_ms,
  attempts: jobOptionsShape.attempts,
});

/** POST /flows: a graph of jobs (docs/flows.md) */
export const flowBody = jsonBody({
  name: z.string().max(200, 'name must be at most 200 characters').optional(),
  nodes: z
    .array(flowNode, { error: 'nodes must be an array of nodes' })
    .min(1, 'nodes must hold at least one node')
    .max(MAX_FLOW_NODES, `nodes must hold at most ${MAX_FLOW_NODES} nodes`),
});
