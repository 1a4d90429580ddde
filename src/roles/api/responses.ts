/**
 * Response schemas: every JSON answer the API sends, as zod schemas. They are one source for two
 * things: the routes build their answers through `reply(res, schema, body)`, which type-checks the
 * body against the schema, and the OpenAPI document (openapi/build.ts) converts the same schemas into
 * its response schemas (z.toJSONSchema). test/e2e/api-contract.test.ts validates real answers
 * against the document. Objects are closed (additionalProperties: false), so a field a route
 * adds without saying so here fails that test.
 */
import type { Response } from 'express';
import { z } from 'zod';
import { ABACUS_STRATEGIES } from '../../core/abacus';
import { STORE_CONDITIONS } from '../../core/errors';
import { HISTORY_WINDOWS, type HistoryWindow } from '../../core/history';
import { BOT_STATUSES } from '../../core/bots';
import { DEDUPE_MODES, JOB_STATES, JOB_TYPES, MAX_PRIORITY, MIN_PRIORITY } from '../../core/job';
import { FLOW_STATES } from '../../core/states';
import { MATH_OPS } from '../../core/math';
import { BATCH_TYPES } from '../../core/schemas';

const count = () => z.number().int().min(0);
/** a built-in type (task, primes, primes_chunk, sim) or one a --handlers module defines */
const jobType = z.string().describe(`${JOB_TYPES.join(', ')}, or a type a --handlers module defines`);
const time = () => z.iso.datetime();
const rate = () => z.number().min(0).max(1).nullable();
const state = z.enum(JOB_STATES);

/** the error every 4xx and 5xx carries (error-responses.ts errorBody) */
export const errorResponse = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    details: z.array(z.object({ field: z.string(), message: z.string() })),
  }),
});

/** a 64-bit sum: a JSON number while it is a safe integer, an exact decimal string beyond (sumToJson) */
const sum = z.union([
  z.number().int().min(-Number.MAX_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER),
  z.string().regex(/^-?\d{16,19}$/),
]);

/** a job's debounce or throttle window (docs/flow-control.md) */
const dedupeShown = z
  .object({ key: z.string(), mode: z.enum(DEDUPE_MODES) })
  .optional()
  .describe('its debounce or throttle window: its key and mode; absent: none');

/** the whole job record (core/job.ts jobView) */
export const jobResponse = z.object({
  job_id: z.string(),
  type: jobType,
  queue: z.string(),
  state,
  status: state,
  params: z.record(z.string(), z.unknown()),
  progress: z
    .object({ completed: z.number().min(0), total: z.number().min(0) })
    .describe(
      'a prime count: chunks done of all; a handler: what it reported ({completed, total}, or a fraction as {completed: f, total: 1})',
    )
    .nullable(),
  result: z.unknown(),
  error: z.string().nullable(),
  attempts: count(),
  max_attempts: count(),
  initiated_by: z.string().nullable(),
  handled_by: z.string().nullable(),
  checked_by: z.string().nullable(),
  parent_id: z.string().nullable(),
  created_at: time(),
  started_at: time().nullable(),
  finished_at: time().nullable(),
  updated_at: time(),
  run_at: time().nullable(),
  priority: z.number().int().min(MIN_PRIORITY).max(MAX_PRIORITY),
  timeout_ms: z.number().int().min(1).nullable(),
  idempotency_key: z.string().nullable(),
  principal: z
    .string()
    .nullable()
    .describe(
      'who submitted it: <role>:<token name> (client:alice), or null (no token named the caller: an open API, the scheduler)',
    ),
  duration_ms: z.number().int().nullable(),
  /** the schedule that made the job and its occurrence (ISO 8601), or null */
  schedule: z.string().nullable(),
  slot: time().nullable(),
  group: z.string().optional().describe('its group (docs/flow-control.md); absent: none'),
  dedupe: dedupeShown,
  flow_id: z.string().optional(),
  flow_node: z.string().nullable().optional(),
  deps: z
    .record(z.string(), z.object({ state, result: z.unknown().optional(), error: z.string().optional() }))
    .optional(),
  attempts_log: z
    .array(
      z.object({
        attempt: z.number().int().min(0),
        state: z.enum(JOB_STATES),
        error: z.string().nullable(),
        handled_by: z.string().nullable(),
        at: time().nullable(),
      }),
    )
    .describe(
      "each attempt, oldest first: how it ended (RETRY: it failed and was retried; the last one is the job's own state, STARTED or PROGRESS while it runs), its error, who ran it, when",
    ),
});

/** a schedule (views.ts scheduleView) */
const scheduleResponse = z.object({
  name: z.string(),
  type: z.string().describe(`${BATCH_TYPES.join(', ')}, or a type a --handlers module defines`),
  params: z.record(z.string(), z.unknown()),
  every_ms: z.number().int().min(1).nullable(),
  cron: z.string().nullable(),
  tz: z.string().nullable(),
  size: z.number().int().min(1),
  queue: z.string(),
  builtin: z.boolean(),
  attempts: z
    .number()
    .int()
    .min(1)
    .nullable()
    .describe(
      "a module's type: the attempts its jobs get, as the type said when the schedule was saved; null: the type's as the scheduler knows it",
    ),
  timeout_ms: z
    .number()
    .int()
    .min(1)
    .nullable()
    .describe(
      "a module's type: an attempt's timeout (ms) its jobs get, as the type said when the schedule was saved; null: the type's as the worker knows it",
    ),
  created_at: time(),
  next_at: time().nullable(),
});

const queueInfo = z.object({
  name: z.string(),
  waiting: count(),
  active: count(),
  delayed: count(),
  paused: z.boolean(),
});

const jobPage = z.object({ total: count(), offset: count(), limit: count(), jobs: z.array(jobResponse) });

/** a bot as GET /bots lists it (views.ts botView) */
export const botResponse = z.object({
  bot_id: z.string(),
  name: z.string(),
  status: z.enum(BOT_STATUSES),
  registered_at: time(),
  last_heartbeat: time(),
  down_at: time().nullable(),
  current_job: z.string().nullable(),
  jobs_done: count(),
  jobs_failed: count(),
});

const store = { kind: z.enum(['redis', 'memory']), url: z.string() };
/** a live node from its heartbeat: its id, when it was seen, and what it says of itself */
const liveNode = z.looseObject({ node_id: z.string(), last_seen: time() });
const storeCondition = z.object({ reason: z.enum(STORE_CONDITIONS), message: z.string() });
const serverInfo = { latency_ms: z.number().min(0), version: z.string(), role: z.string(), mode: z.string() };

/** a group of a queue: its own limit (null: the queue's group_concurrency holds), its waiting and running jobs */
const rateView = z.object({ max: count(), per_ms: count() });
const groupInfo = z.object({
  group: z.string(),
  concurrency: count().nullable(),
  rate: rateView.nullable().describe("its own rate (null: the queue's group_rate holds)"),
  waiting: count(),
  running: count(),
});
const flowView = z.object({
  flow_id: z.string(),
  name: z.string().nullable(),
  state: z.enum(FLOW_STATES),
  progress: z.object({ completed: count(), total: count() }),
  created_at: time(),
  finished_at: time().nullable(),
  nodes: z.record(
    z.string(),
    z.object({
      job_id: z.string(),
      state,
      deps: z.array(z.string()).describe('the node ids it depends on (the edges of the graph)'),
      result: z.unknown().optional(),
      error: z.string().optional(),
    }),
  ),
});

export const RESPONSES = {
  /** POST /flows: the flow's id and each node's job id; existing: a repeated Idempotency-Key */
  flowCreated: z.object({ flow_id: z.string(), jobs: z.record(z.string(), z.string()), existing: z.boolean() }),
  flow: flowView,
  flows: z.object({ flows: z.array(flowView) }),
  healthz: z.object({ status: z.literal('ok'), node_id: z.string(), uptime_sec: count() }),
  /** healthy; degraded, with its condition, while Redis refuses writes (reads are served) or can evict keys */
  health: z.object({
    status: z.enum(['healthy', 'degraded']),
    node_id: z.string(),
    redis_connected: z.literal(true),
    condition: storeCondition.optional(),
    current_sum: sum,
    store: z.object({ ...store, ...serverInfo }),
    stats: z.object({
      connected_clients: count().nullable(),
      total_commands_processed: count().nullable(),
      used_memory_human: z.string().nullable(),
    }),
    abacus: z.object({
      strategy: z.enum(ABACUS_STRATEGIES),
      adds: count(),
      conflicts: count(),
      retries_exhausted: count(),
      out_of_range: count(),
    }),
    workers: z.object({ live: count(), nodes: z.array(liveNode) }),
    /** the datalake's records waiting in the store for the drainer; past `bound`, `note` says so and status is degraded */
    datalake: z.object({ buffer_entries: count(), bound: count(), note: z.string().optional() }),
  }),
  /** GET /health's 503: what is wrong, with the error every other 503 carries */
  unhealthy: z.object({
    status: z.literal('unhealthy'),
    node_id: z.string(),
    redis_connected: z.literal(false),
    condition: storeCondition,
    store: z.object(store),
    error: errorResponse.shape.error,
  }),
  whoami: z.object({
    node_id: z.string(),
    container_id: z.string(),
    hostname: z.string(),
    pid: z.number().int().min(1),
    role: z.literal('api'),
    /** whether this node has an admin token at all (never the token) */
    admin: z.enum(['configured', 'not configured']),
  }),
  add: z.object({ a: z.number(), b: z.number(), op: z.enum(MATH_OPS), result: z.number(), handled_by: z.string() }),
  taskAccepted: z.object({ task_id: z.string(), status: state, initiated_by: z.string() }),
  taskStatus: z.object({
    task_id: z.string(),
    status: state,
    result: z.unknown(),
    error: z.string().nullable(),
    initiated_by: z.string().nullable(),
    checked_by: z.string().nullable(),
    handled_by: z.string().nullable(),
  }),
  valkeyTest: z.object({
    status: z.literal('ok'),
    node_id: z.string(),
    store: store.kind,
    url: z.string(),
    ...serverInfo,
  }),
  primesAccepted: z.object({ job_id: z.string(), status: state }),
  primeJob: z.object({
    job_id: z.string(),
    state,
    progress: z.object({ completed: count(), total: count() }),
    result: z.object({ prime_count: count(), duration_sec: z.number().min(0) }).nullable(),
    error: z.string().nullable(),
    params: z.record(z.string(), z.unknown()),
    created_at: time(),
    finished_at: time().nullable(),
  }),
  chunks: z.object({ job_id: z.string(), chunks: z.array(jobResponse) }),
  /** POST /jobs: 202 made, or 200 with the first job of a repeated idempotency key (existing) */
  submitted: z.object({
    job_id: z.string(),
    status: state,
    type: jobType,
    queue: z.string(),
    priority: z.number().int().min(MIN_PRIORITY).max(MAX_PRIORITY),
    run_at: time().nullable(),
    idempotency_key: z.string().nullable(),
    existing: z.boolean(),
    deduplicated: z
      .boolean()
      .describe("true: the dedupe window's job (throttle: as it is; debounce: with these params), nothing made"),
    group: z.string().optional().describe('its group (docs/flow-control.md); absent: none'),
    dedupe: dedupeShown,
  }),
  /** POST /jobs/bulk: each job, in the order asked (existing: made before, under the same key) */
  bulkSubmitted: z.object({
    jobs: z.array(z.object({ job_id: z.string(), state, existing: z.boolean(), deduplicated: z.boolean() })),
  }),
  queues: z.object({ queues: z.array(queueInfo) }),
  queue: queueInfo,
  /** a queue's limits (docs/flow-control.md) and its busiest groups */
  queueLimits: z.object({
    queue: z.string(),
    concurrency: count().nullable(),
    group_concurrency: count().nullable(),
    rate: rateView.nullable(),
    group_rate: rateView.nullable(),
    held_back: count().describe('how many times a claim was held back by a concurrency limit (a counter)'),
    held_back_rate: count().describe(
      "how many times a claim was held back by a rate, or a handler's rate_limited hold (a counter)",
    ),
    groups: z.array(groupInfo).describe('the busiest groups (most waiting and running), at most 10'),
  }),
  groupLimits: groupInfo.extend({ queue: z.string() }),
  job: jobResponse,
  jobs: jobPage.extend({
    status: state.nullable(),
    type: z.string().nullable(),
    queue: z.string().nullable(),
    /** filtered by type or queue, and an index held more jobs than were looked at */
    partial: z.boolean(),
  }),
  /** GET /jobs/:id/log: its handler's ctx.log lines, oldest first */
  jobLog: z.object({
    job_id: z.string(),
    lines: z.array(
      z.object({
        at: z.string(),
        level: z.enum(['debug', 'info', 'warn', 'error']),
        msg: z.string(),
        fields: z.record(z.string(), z.unknown()).optional(),
      }),
    ),
  }),
  /** POST /jobs/retry, /jobs/cancel: what one call did (at most BULK_MAX jobs) */
  bulk: z.object({
    matched: count(),
    acted: count(),
    skipped: count(),
    more: z.boolean(),
    job_ids: z.array(z.string()),
  }),
  /** DELETE /jobs: what one call deleted (at most BULK_MAX jobs), and where to go on */
  cleaned: z.object({
    deleted: count(),
    skipped: count(),
    more: z.boolean(),
    cursor: z.string().nullable(),
    job_ids: z.array(z.string()),
  }),
  populated: z.object({
    batch: z.string(),
    created: count(),
    type: z.string(),
    queue: z.string(),
    job_ids: z.array(z.string()),
  }),
  claimed: z.object({ job: jobResponse, lease_ms: count() }),
  registered: botResponse.extend({ token: z.string(), lease_ms: count() }),
  bot: botResponse,
  bots: z.object({ total: count(), up: count(), down: count(), bots: z.array(botResponse) }),
  summary: z.object({
    jobs: z.object({
      total: count(),
      by_state: z.object(
        Object.fromEntries(JOB_STATES.map((s) => [s, count()])) as Record<
          (typeof JOB_STATES)[number],
          ReturnType<typeof count>
        >,
      ),
    }),
    bots: z.object({ total: count(), up: count(), down: count() }),
    queue: z.object({ name: z.string(), waiting: count(), active: count(), delayed: count() }),
    throughput_per_minute: count(),
    success_rate: rate(),
    generated_at: time(),
  }),
  lakeStats: z.object({
    records: z.string(),
    retention_days: count(),
    total: count(),
    success: count(),
    failure: count(),
    success_rate: rate(),
    mean_duration_ms: count().nullable(),
    days: z.array(
      z.object({
        date: z.iso.date(),
        total: count(),
        success: count(),
        failure: count(),
        success_rate: rate(),
        mean_duration_ms: count().nullable(),
      }),
    ),
  }),
  added: z.object({
    new_sum: sum,
    added: z.number().int(),
    timestamp: time(),
    node_id: z.string(),
    conflicts: count(),
  }),
  sum: z.object({ sum, timestamp: time(), node_id: z.string() }),
  reset: z.object({ message: z.literal('Sum successfully reset to 0'), timestamp: time(), node_id: z.string() }),
  dlq: jobPage,
  purged: z.object({ purged: count() }),
  schedule: scheduleResponse,
  schedules: z.object({ total: count(), schedules: z.array(scheduleResponse) }),
  root: z.object({
    name: z.literal('wizard'),
    version: z.string(),
    node_id: z.string(),
    dashboard: z.string(),
    health: z.string(),
  }),
  history: z.object({
    window: z.enum(Object.keys(HISTORY_WINDOWS) as [HistoryWindow, ...HistoryWindow[]]),
    window_sec: count(),
    bucket_sec: count(),
    generated_at: time(),
    points: z.array(
      z.object({
        at: time(),
        done: count(),
        failed: count(),
        p50_ms: z.number().min(0).nullable(),
        p95_ms: z.number().min(0).nullable(),
        p99_ms: z.number().min(0).nullable(),
        waiting: count().nullable(),
        active: count().nullable(),
        delayed: count().nullable(),
        sum: z
          .string()
          .regex(/^-?\d+$/)
          .nullable(),
      }),
    ),
  }),
  workers: z.object({
    workers: z.array(liveNode),
    schedulers: z.array(liveNode),
    leader: z.string().nullable(),
    next_batch_at: time().nullable(),
  }),
  openapi: z.looseObject({
    openapi: z.literal('3.1.0'),
    info: z.looseObject({ title: z.string(), version: z.string() }),
    paths: z.record(z.string(), z.unknown()),
  }),
} as const;

export type ResponseName = keyof typeof RESPONSES;

/** send a JSON answer whose body the compiler has checked against its response schema */
export function reply<S extends z.ZodType>(res: Response, schema: S, body: z.input<S>, status = 200): void {
  res.status(status).json(body);
}
