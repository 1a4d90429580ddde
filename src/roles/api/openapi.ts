/**
 * The OpenAPI 3.1 document, at GET /openapi.json, with Swagger UI at GET /docs (served from the
 * swagger-ui-dist package: no CDN, it works offline). Request bodies and parameters are converted
 * from the very zod schemas that validate them (src/core/schemas.ts), and every 2xx body from the
 * zod schemas the routes answer through (responses.ts), with z.toJSONSchema: the document cannot
 * drift from the checks or the answers. Each operation lists every status it can send: its own
 * (OPERATIONS) and those every route of its kind can (statusesOf: 400 for a bad body, 401/403
 * with tokens, 413/415 for bodies, 429 with the rate limit, 503 without the store).
 * test/unit/openapi.test.ts validates the document; test/e2e/api-contract.test.ts validates real
 * answers against it; the fuzz tests draw their inputs from it.
 */
import path from 'node:path';
import express, { Router } from 'express';
import { z } from 'zod';
import { describeNeed, Need, routeNeed } from '../../core/access';
import {
  abacusBody,
  addQuery,
  claimBody,
  completeBody,
  countPrimesBody,
  datalakeDayParams,
  dlqQuery,
  failBody,
  historyQuery,
  idParam,
  listJobsQuery,
  populateBody,
  QUERY_VALUE,
  queueParams,
  declareQueueBody,
  registerBotBody,
  submitBody,
  SUBMIT_TYPES,
  taskBody,
} from '../../core/schemas';
import { userTypes } from '../../core/handlers';
import { botIdParam, SAFE_NAME } from '../../core/ids';
import { Bounds, LIMIT_DEFAULTS, Limits } from '../../core/quotas';
import { batchTypes } from '../../core/batch';
import { scheduleBody, scheduleName } from '../../core/schedule';
import { packageVersion } from '../../util/package-root';
import { dashboardPaths } from './access';
import { allowedMethods, compile, routeTable } from './methods';
import { errorResponse, ResponseName, RESPONSES } from './responses';
import { VENDOR_FILES } from './routes/dashboard';

type JsonSchema = Record<string, unknown>;

/** a zod schema as JSON Schema 2020-12 (OpenAPI 3.1's dialect): a request as the client sends it (input), an answer as sent (output) */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output' = 'input'): JsonSchema {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonSchema;
  return rest;
}

/** one OpenAPI parameter per property of a query schema, each documented as the value it parses to */
function queryParameters(schema: z.ZodType) {
  const s = jsonSchema(schema) as { properties: Record<string, JsonSchema>; required?: string[] };
  return Object.entries(s.properties).map(([name, p]) => ({
    name,
    in: 'query',
    required: s.required?.includes(name) ?? false,
    schema: (p[QUERY_VALUE] as JsonSchema | undefined) ?? p,
  }));
}

/** a 2xx answer: JSON from a response schema, or other media types (null: any body of that type) */
interface Answer {
  description: string;
  json?: ResponseName;
  content?: Record<string, ResponseName | null>;
  headers?: Record<string, { description: string; required?: boolean; schema: JsonSchema }>;
}

interface Op {
  summary: string;
  tag: string;
  body?: z.ZodType;
  bodyOptional?: boolean;
  query?: z.ZodType;
  /** path parameters' schemas by name (default: any non-empty segment) */
  params?: Record<string, z.ZodType>;
  /** every 2xx answer */
  ok: Record<number, Answer>;
  /** error statuses the route itself sends, beyond those every route of its kind can (see statusesOf) */
  errors?: Record<number, string | Answer>;
  /** false: answers without calling the store (no 503 unless the access gate asks the store) */
  store?: false;
  /** creates work: takes an Idempotency-Key header */
  idempotent?: true;
}

const IDEMPOTENCY_KEY = {
  name: 'Idempotency-Key',
  in: 'header',
  required: false,
  description:
    "a second create with this key by the same caller (token), while its first job is kept (result TTL after it finishes), makes nothing and answers 200 with the first job; other params are a 409 naming the key. The same as the body's idempotency_key: 1-200 of letters, digits, _ . -",
  schema: { type: 'string', minLength: 1, maxLength: 200, pattern: SAFE_NAME.source },
};
const REPEATED = 'a repeated idempotency key: the first job, as it is now (nothing made)';
const KEY_CONFLICT = 'the idempotency key is in use with other params (the message names it)';

const RETRY_AFTER = {
  'Retry-After': {
    description: 'seconds to wait before trying again',
    required: true,
    schema: { type: 'integer', minimum: 1 },
  },
};
const ALLOW = {
  Allow: { description: 'the methods this path is served with', required: true, schema: { type: 'string' } },
};
const LOCATION = { Location: { description: 'where to follow the job', required: true, schema: { type: 'string' } } };

/** every route, keyed as Express writes it ("GET /jobs/:id") */
export const OPERATIONS: Record<string, Op> = {
  'GET /healthz': {
    tag: 'operations',
    summary: 'liveness',
    store: false,
    ok: { 200: { description: 'this node is up', json: 'healthz' } },
  },
  'GET /health': {
    tag: 'operations',
    summary: 'Redis status and stats, the current sum, live workers',
    ok: {
      200: {
        description:
          'healthy, or degraded with its condition (Redis out of memory, or no replica with --durability replica: reads served, writes 503)',
        json: 'health',
      },
    },
    errors: {
      503: {
        description: 'the store is unreachable or does not answer in time: what is wrong, as data',
        json: 'unhealthy',
        headers: RETRY_AFTER,
      },
    },
  },
  'GET /metrics': {
    tag: 'operations',
    summary: 'Prometheus metrics of this node and of the cluster',
    ok: { 200: { description: 'Prometheus text format 0.0.4', content: { 'text/plain': null } } },
  },
  'GET /openapi.json': {
    tag: 'operations',
    summary: 'this document',
    store: false,
    ok: { 200: { description: 'the OpenAPI document', json: 'openapi' } },
  },
  'GET /docs': {
    tag: 'operations',
    summary: 'Swagger UI for this document',
    store: false,
    ok: { 200: { description: 'an HTML page', content: { 'text/html': null } } },
  },
  'GET /docs/init.js': {
    tag: 'operations',
    summary: 'the start script of the Swagger UI page',
    store: false,
    ok: { 200: { description: 'JavaScript', content: { 'text/javascript': null } } },
  },
  'GET /whoami': {
    tag: 'math',
    summary: 'the node that answers, and whether it has an admin token configured',
    store: false,
    ok: { 200: { description: 'this node', json: 'whoami' } },
  },
  'GET /add': {
    tag: 'math',
    summary: 'compute a op b at once (synchronous); a result that is not a finite number is a 400 naming result',
    store: false,
    query: addQuery,
    ok: { 200: { description: 'the result', json: 'add' } },
  },
  'POST /task': {
    tag: 'math',
    summary:
      'queue a math task (with optional job options: queue, delay_ms or run_at, priority, idempotency_key, attempts, timeout_ms)',
    body: taskBody,
    idempotent: true,
    ok: {
      202: { description: 'queued', json: 'taskAccepted', headers: LOCATION },
      200: { description: REPEATED, json: 'taskAccepted', headers: LOCATION },
    },
    errors: { 409: KEY_CONFLICT },
  },
  'GET /tasks/:id/status': {
    tag: 'math',
    summary: "a task's status with initiated_by, checked_by, handled_by",
    ok: { 200: { description: 'the task', json: 'taskStatus' } },
    errors: { 404: 'unknown task' },
  },
  'GET /valkey_test': {
    tag: 'math',
    summary: 'store connectivity',
    ok: { 200: { description: 'the store answered', json: 'valkeyTest' } },
  },
  'POST /api/count-primes': {
    tag: 'primes',
    summary: 'count the primes up to n in chunks (with optional job options, as POST /task)',
    body: countPrimesBody,
    idempotent: true,
    ok: {
      202: { description: 'queued', json: 'primesAccepted', headers: LOCATION },
      200: { description: REPEATED, json: 'primesAccepted', headers: LOCATION },
    },
    errors: { 409: KEY_CONFLICT },
  },
  'GET /api/jobs/:id': {
    tag: 'primes',
    summary: 'a prime count: state, progress, result',
    ok: { 200: { description: 'the count', json: 'primeJob' } },
    errors: { 404: 'unknown job' },
  },
  'GET /api/jobs/:id/events': {
    tag: 'primes',
    summary: 'every state and progress change (Server-Sent Events)',
    ok: {
      200: {
        description:
          'an event stream (event: state, data: the count as GET /api/jobs/{id} answers it), closed after the final state',
        content: { 'text/event-stream': null },
      },
    },
    errors: { 404: 'unknown job' },
  },
  'GET /jobs/:id/chunks': {
    tag: 'primes',
    summary: 'the chunk jobs of a prime count',
    ok: { 200: { description: 'the chunks', json: 'chunks' } },
    errors: { 404: 'unknown job' },
  },
  'GET /jobs': {
    tag: 'jobs',
    summary: 'the jobs, newest first',
    query: listJobsQuery,
    ok: { 200: { description: 'a page of jobs', json: 'jobs' } },
  },
  'GET /jobs/:id': {
    tag: 'jobs',
    summary: 'the whole job record',
    ok: { 200: { description: 'the job', json: 'job' } },
    errors: { 404: 'unknown job' },
  },
  'POST /jobs': {
    tag: 'jobs',
    summary:
      'make a job of any type (task, primes, sim; params checked by its type), delayed (delay_ms up to 30 days, or run_at), with a priority (0..9, lower first, 5 by default), attempts, a timeout per attempt, an idempotency key',
    body: submitBody,
    idempotent: true,
    ok: {
      202: { description: 'made', json: 'submitted', headers: LOCATION },
      200: { description: REPEATED, json: 'submitted', headers: LOCATION },
    },
    errors: { 409: KEY_CONFLICT },
  },
  'POST /jobs/:id/cancel': {
    tag: 'jobs',
    summary:
      'cancel a job (a chunk: its prime count): waiting or delayed, it never runs; running, its handler is aborted and its result refused',
    ok: { 200: { description: 'the job, now CANCELLED', json: 'job' } },
    errors: { 404: 'unknown job', 409: 'the job has finished' },
  },
  'GET /queues': {
    tag: 'jobs',
    summary: 'every queue: waiting, active, delayed, paused',
    ok: { 200: { description: 'the queues', json: 'queues' } },
  },
  'POST /queues': {
    tag: 'jobs',
    summary:
      'declare a queue (admin): clients may send jobs to it (a type with a queue of its own still goes there; never the bot queue)',
    body: declareQueueBody,
    ok: {
      201: { description: 'declared', json: 'queue', headers: LOCATION },
      200: { description: 'it was declared already', json: 'queue', headers: LOCATION },
    },
  },
  'DELETE /queues/:name': {
    tag: 'jobs',
    summary: 'forget a queue that holds no job (admin)',
    params: { name: queueParams.shape.name },
    ok: { 204: { description: 'forgotten' } },
    errors: {
      404: 'not a declared queue',
      409: "it holds jobs, or this node's settings declare it (default, the bot queue, a --handlers type's, --queues)",
    },
  },
  'POST /queues/:name/pause': {
    tag: 'jobs',
    summary: 'pause a queue: no new work to workers or bots; running jobs finish',
    params: { name: queueParams.shape.name },
    ok: { 200: { description: 'the queue', json: 'queue' } },
  },
  'POST /queues/:name/resume': {
    tag: 'jobs',
    summary: 'resume a paused queue',
    params: { name: queueParams.shape.name },
    ok: { 200: { description: 'the queue', json: 'queue' } },
  },
  'POST /jobs/populate': {
    tag: 'jobs',
    summary: 'make a batch now (with an Idempotency-Key: once; the batch and its job ids follow from the key)',
    body: populateBody,
    bodyOptional: true,
    idempotent: true,
    ok: {
      201: { description: 'the batch', json: 'populated' },
      200: { description: 'a repeated Idempotency-Key: the first batch (created 0: nothing made)', json: 'populated' },
    },
    errors: { 409: 'the Idempotency-Key was used for another batch (the message names it)' },
  },
  'POST /jobs/claim': {
    tag: 'bots',
    summary: 'take one job from the bot queue, or (a bot with --exec) from the queue of a --handlers type with no run',
    body: claimBody,
    bodyOptional: true,
    ok: { 200: { description: 'the job and its lease', json: 'claimed' }, 204: { description: 'no job waiting' } },
    errors: { 409: 'the bot already holds a job' },
  },
  'POST /jobs/:id/start': {
    tag: 'bots',
    summary: 'the bot starts its job',
    ok: { 200: { description: 'the job, now PROGRESS', json: 'job' } },
    errors: { 404: 'unknown job', 409: 'the bot does not hold this job' },
  },
  'POST /jobs/:id/complete': {
    tag: 'bots',
    summary: 'the bot reports a result',
    body: completeBody,
    bodyOptional: true,
    ok: { 200: { description: 'the job, now SUCCESS', json: 'job' } },
    errors: { 404: 'unknown job', 409: 'the bot does not hold this job' },
  },
  'POST /jobs/:id/fail': {
    tag: 'bots',
    summary: 'the bot reports a failure',
    body: failBody,
    ok: { 200: { description: 'the job: RETRY, FAILURE or DEAD', json: 'job' } },
    errors: { 404: 'unknown job', 409: 'the bot does not hold this job' },
  },
  'POST /bots/register': {
    tag: 'bots',
    summary: 'register a bot: its id and token (shown once); not an admin route',
    body: registerBotBody,
    bodyOptional: true,
    ok: { 201: { description: 'the bot and its token', json: 'registered' } },
  },
  'POST /bots/heartbeat': {
    tag: 'bots',
    summary: "the bot is alive; renews its job's lease",
    ok: { 200: { description: "the bot's record", json: 'bot' } },
  },
  'POST /bots/deregister': {
    tag: 'bots',
    summary: 'the bot leaves; its job goes back to the queue',
    ok: { 204: { description: 'gone' } },
  },
  'DELETE /bots/:id': {
    tag: 'bots',
    summary: 'remove a bot; its job goes back to the queue',
    params: { id: botIdParam },
    ok: { 204: { description: 'removed' } },
    errors: { 404: 'unknown bot' },
  },
  'GET /bots': {
    tag: 'bots',
    summary: 'the bots, up and down',
    ok: { 200: { description: 'the bots', json: 'bots' } },
  },
  'GET /metrics/summary': {
    tag: 'operations',
    summary: "the bot batch's summary: jobs by state, bots, throughput, success rate",
    ok: { 200: { description: 'the summary', json: 'summary' } },
  },
  'GET /datalake/stats': {
    tag: 'datalake',
    summary: 'per day: records, success rate, mean duration',
    ok: { 200: { description: 'the stats', json: 'lakeStats' } },
  },
  'GET /datalake/export/:date': {
    tag: 'datalake',
    summary: "a day's records, one JSON object a line",
    params: { date: datalakeDayParams.shape.date },
    ok: { 200: { description: 'NDJSON, streamed', content: { 'application/x-ndjson': null } } },
    errors: { 404: 'no records that day' },
  },
  'POST /abacus/number': {
    tag: 'abacus',
    summary: 'add to the running sum',
    body: abacusBody,
    ok: { 200: { description: 'the new sum', json: 'added' } },
    errors: { 409: 'optimistic add out of retries', 422: 'the sum would leave the 64-bit range' },
  },
  'GET /abacus/sum': {
    tag: 'abacus',
    summary: 'the running sum',
    ok: { 200: { description: 'the sum', json: 'sum' } },
  },
  'DELETE /abacus/sum': {
    tag: 'abacus',
    summary: 'reset the sum to 0',
    ok: { 200: { description: 'reset', json: 'reset' } },
  },
  'GET /dlq': {
    tag: 'operations',
    summary: 'the dead-letter queue, most recent first',
    query: dlqQuery,
    ok: { 200: { description: 'a page of dead jobs', json: 'dlq' } },
  },
  'POST /dlq/:id/retry': {
    tag: 'operations',
    summary: 'a dead job back on its queue, its attempts from zero',
    ok: { 200: { description: 'the job, now PENDING', json: 'job' } },
    errors: { 404: 'unknown job', 409: 'not dead, or its parent has finished' },
  },
  'DELETE /dlq': {
    tag: 'operations',
    summary: 'delete every dead job',
    ok: { 200: { description: 'how many', json: 'purged' } },
  },
  'GET /metrics/history': {
    tag: 'operations',
    summary:
      "the cluster's recent history in 10 s buckets: jobs done and failed, run-time percentiles, queue depth, the sum",
    query: historyQuery,
    ok: { 200: { description: 'the buckets of the window, oldest first', json: 'history' } },
  },
  'GET /workers': {
    tag: 'operations',
    summary: 'the live workers and schedulers, from their heartbeats; who leads, when the next batch is due',
    ok: { 200: { description: 'the live nodes', json: 'workers' } },
  },
  'POST /jobs/:id/retry': {
    tag: 'jobs',
    summary: 'a DEAD or FAILURE job back on its queue, its attempts from zero',
    ok: { 200: { description: 'the job, now PENDING', json: 'job' } },
    errors: {
      404: 'unknown job',
      409: 'neither dead nor failed, a prime count (not run itself), or a chunk whose parent has finished',
    },
  },
  'GET /schedules': {
    tag: 'schedules',
    summary: 'the schedules, the bot batch (seed-batch) among them, each with its next occurrence',
    ok: { 200: { description: 'the schedules', json: 'schedules' } },
  },
  'POST /schedules': {
    tag: 'schedules',
    summary: 'a schedule: jobs of a type made at each occurrence of every_ms or cron (tz), each once',
    body: scheduleBody,
    ok: { 201: { description: 'the schedule', json: 'schedule' } },
    errors: { 409: 'a schedule of that name exists, or it is the built-in seed-batch' },
  },
  'DELETE /schedules/:name': {
    tag: 'schedules',
    summary: 'remove a schedule (its jobs made so far stay)',
    params: { name: scheduleName },
    ok: { 204: { description: 'removed' } },
    errors: { 404: 'unknown schedule', 409: 'the built-in seed-batch' },
  },
  'GET /': {
    tag: 'operations',
    summary: 'the dashboard for a browser (Accept: text/html); {name, version, node_id, dashboard, health} otherwise',
    store: false,
    ok: {
      200: {
        description: 'the dashboard page, or the JSON summary',
        content: { 'text/html': null, 'application/json': 'root' },
      },
    },
  },
  'GET /vendor/:file': {
    tag: 'operations',
    summary: "the dashboard's libraries (Alpine.js, Pico.css), served from the package",
    store: false,
    params: { file: z.enum([...VENDOR_FILES.keys()] as [string, ...string[]]) },
    ok: { 200: { description: 'the file', content: { 'text/javascript': null, 'text/css': null } } },
    errors: { 404: 'no such file' },
  },
};

/** Express `/jobs/:id` ↔ OpenAPI `/jobs/{id}` */
export const toOpenApiPath = (p: string): string => p.replace(/:(\w+)/g, '{$1}');

const ROUTES = Object.keys(OPERATIONS).map((k) => k.split(' ') as [string, string]);
const TABLE = routeTable(ROUTES);
const DASHBOARD = dashboardPaths();

/** what an operation asks of its caller when API tokens are on (the access gate's own rule) */
export function operationNeed(key: string): Need {
  const [method, route] = key.split(' ');
  if (method === 'GET' && DASHBOARD.has(route)) return 'public';
  return routeNeed(method, route.replace(/:\w+/g, 'x'));
}

/** a literal path beside a parameterised route shadows it: GET /jobs/claim is a 405, not a job called "claim" */
function shadowed(method: string, route: string): boolean {
  const re = compile(route);
  const params = (route.match(/:\w+/g) ?? []).length;
  return ROUTES.some(
    ([, other]) =>
      (other.match(/:\w+/g) ?? []).length < params && re.test(other) && !allowedMethods(TABLE, other)?.includes(method),
  );
}

const REASONS: Record<number, string> = {
  400: 'bad input: a field, a query parameter or the body (not JSON, nested deeper than 32); the message names it',
  401: 'no token, or one this node does not know (with API tokens on; always for admin and bot routes)',
  403: 'the token has the wrong role, or this node has no admin token configured (admin_token_not_configured)',
  404: 'not found',
  405: 'a literal path beside this one takes the segment: the method is not served there (see Allow)',
  409: 'conflict',
  413: 'the body is over 64 kB',
  415: 'the body is not application/json',
  422: 'unprocessable',
  429: 'rate limited: too many requests from this address or token (rate_limited); or a quota of the token is used up (quota_exceeded: jobs, cpu or streams, named in the message and in details)',
  503: 'the store (Redis) is unavailable',
};

/** every status an operation can answer, 2xx and errors, with why */
export function statusesOf(key: string): Record<number, string | Answer> {
  const [method, route] = key.split(' ');
  const op = OPERATIONS[key];
  const need = operationNeed(key);
  const takesBody = method !== 'GET';
  const hasParams = route.includes(':');
  const out: Record<number, string | Answer> = { ...op.ok };
  const add = (status: number, when: boolean) => {
    if (when) out[status] = REASONS[status];
  };
  add(400, takesBody || op.query !== undefined || op.params !== undefined);
  add(401, need !== 'public');
  add(403, need !== 'public');
  add(404, hasParams);
  add(405, hasParams && shadowed(method, route));
  add(413, takesBody);
  add(415, takesBody);
  add(429, route !== '/healthz');
  add(503, op.store !== false || need !== 'public');
  return { ...out, ...op.errors };
}

/** a ResponseName as a reference to its component schema */
const ref = (name: ResponseName) => ({ $ref: `#/components/schemas/${name}` });

function responseObject(status: number, r: string | Answer) {
  if (typeof r === 'string') {
    const headers = status === 429 || status === 503 ? RETRY_AFTER : status === 405 ? ALLOW : undefined;
    return {
      description: r,
      ...(headers ? { headers } : {}),
      content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
    };
  }
  const content = r.json
    ? { 'application/json': { schema: ref(r.json) } }
    : r.content
      ? Object.fromEntries(
          Object.entries(r.content).map(([type, name]) => [type, { schema: name ? ref(name) : { type: 'string' } }]),
        )
      : undefined;
  return { description: r.description, ...(r.headers ? { headers: r.headers } : {}), ...(content ? { content } : {}) };
}

/** who may call: optional for reads and submissions (only with API tokens on), required for bot and admin routes */
function securityOf(need: Need) {
  if (need === 'public') return undefined;
  if (need === 'admin') return [{ adminToken: [] }, { adminTokenHeader: [] }];
  if (need === 'bot') return [{ botToken: [] }, { botTokenHeader: [] }];
  return [{ apiToken: [] }, {}];
}

/** a --handlers type's params schema: components.schemas["<type>.params"] */
const userParamsName = (type: string) => `${type}.params`;

function userParamsComponents(): Record<string, unknown> {
  return Object.fromEntries(userTypes().map(([name, t]) => [userParamsName(name), t.params]));
}

/**
 * POST /jobs's body: the built-in types' entry (type one of them, params checked by the route)
 * and, one of, an entry per --handlers type (its name, its params' schema)
 */
function submitSchema(): Record<string, unknown> {
  const base = jsonSchema(submitBody) as { properties: Record<string, unknown> };
  const builtin = { ...base, properties: { ...base.properties, type: { type: 'string', enum: [...SUBMIT_TYPES] } } };
  const users = userTypes();
  if (users.length === 0) return builtin;
  return {
    oneOf: [
      builtin,
      ...users.map(([name]) => ({
        ...base,
        properties: {
          ...base.properties,
          type: { type: 'string', const: name },
          params: { $ref: `#/components/schemas/${userParamsName(name)}` },
        },
      })),
    ],
  };
}

/** POST /jobs/populate's body: its type one of the batch types this node knows (a --handlers module's too) */
function populateSchema(): Record<string, unknown> {
  const base = jsonSchema(populateBody) as { properties: Record<string, unknown> };
  return { ...base, properties: { ...base.properties, type: { type: 'string', enum: batchTypes() } } };
}

/**
 * a body's job options as this node bounds them (--max-attempts, --max-delay-ms: quotas.ts), not
 * only as the request schema does, so a value the document allows is not refused for its size
 */
function bounded(schema: unknown, bounds: Bounds): unknown {
  const props = (schema as { properties?: Record<string, Record<string, unknown>> }).properties;
  if (props?.attempts) props.attempts = { ...props.attempts, maximum: bounds.maxAttempts };
  if (props?.delay_ms) props.delay_ms = { ...props.delay_ms, maximum: bounds.maxDelayMs };
  return schema;
}

/** a request body's schema: the two whose types a --handlers module widens are made here */
function bodySchema(key: string, body: z.ZodType, bounds: Bounds): unknown {
  if (key === 'POST /jobs') {
    const s = submitSchema() as { oneOf?: unknown[] };
    return s.oneOf ? { oneOf: s.oneOf.map((one) => bounded(one, bounds)) } : bounded(s, bounds);
  }
  if (key === 'POST /jobs/populate') return populateSchema();
  return bounded(jsonSchema(body), bounds);
}

/** the document of a node: its routes, and its request bodies as its bounds (limits) allow them */
export function openApiDocument(limits: Limits = LIMIT_DEFAULTS): Record<string, unknown> {
  const version = packageVersion();
  const paths: Record<string, Record<string, unknown>> = {};
  for (const [key, op] of Object.entries(OPERATIONS)) {
    const [method, route] = key.split(' ');
    const need = operationNeed(key);
    const pathParams = [...route.matchAll(/:(\w+)/g)].map((m) => ({
      name: m[1],
      in: 'path',
      required: true,
      schema: jsonSchema(op.params?.[m[1]] ?? idParam),
    }));
    const responses = Object.fromEntries(
      Object.entries(statusesOf(key)).map(([status, r]) => [status, responseObject(Number(status), r)]),
    );
    const security = securityOf(need);
    (paths[toOpenApiPath(route)] ??= {})[method.toLowerCase()] = {
      operationId: `${method.toLowerCase()}${route.replace(/[:/{}-](\w)?/g, (_m, c?: string) => (c ? c.toUpperCase() : ''))}`,
      summary: op.summary,
      ...(need === 'public'
        ? {}
        : {
            description: `Needs ${describeNeed(need)}${need === 'admin' || need === 'bot' ? '' : ' when API tokens are on'}.`,
          }),
      tags: [op.tag],
      ...(pathParams.length || op.query || op.idempotent
        ? {
            parameters: [
              ...pathParams,
              ...(op.query ? queryParameters(op.query) : []),
              ...(op.idempotent ? [IDEMPOTENCY_KEY] : []),
            ],
          }
        : {}),
      ...(op.body
        ? {
            requestBody: {
              required: !op.bodyOptional,
              content: { 'application/json': { schema: bodySchema(key, op.body, limits.bounds) } },
            },
          }
        : {}),
      ...(security ? { security } : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'wizard',
      version,
      description:
        'A distributed job system on Redis: math tasks, chunked prime counting, a running sum, bots. ' +
        'Every error is JSON (components.schemas.Error). A method a path is not served with is a 405 with Allow; OPTIONS answers Allow (204). ' +
        'With a rate limit on, every answer but /healthz carries RateLimit-Limit and RateLimit-Remaining.',
    },
    paths,
    components: {
      schemas: {
        Error: jsonSchema(errorResponse, 'output'),
        ...userParamsComponents(),
        ...Object.fromEntries(Object.entries(RESPONSES).map(([name, schema]) => [name, jsonSchema(schema, 'output')])),
      },
      securitySchemes: {
        apiToken: {
          type: 'http',
          scheme: 'bearer',
          description:
            'an API token (WIZARD_API_TOKENS, --tokens-file) of role client, bot or admin: needed only when API tokens are on',
        },
        adminToken: { type: 'http', scheme: 'bearer', description: 'ADMIN_TOKEN, or an admin-role API token' },
        adminTokenHeader: {
          type: 'apiKey',
          in: 'header',
          name: 'X-Admin-Token',
          description: 'ADMIN_TOKEN (or an admin-role API token) in its own header',
        },
        botToken: { type: 'http', scheme: 'bearer', description: 'the token POST /bots/register answered' },
        botTokenHeader: {
          type: 'apiKey',
          in: 'header',
          name: 'X-Bot-Token',
          description: 'the token POST /bots/register answered, in its own header',
        },
      },
    },
  };
}

const DOCS_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>wizard API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script></body></html>
`;

/** outside the page, so a Content-Security-Policy without 'unsafe-inline' allows it */
const DOCS_INIT = `window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui', deepLinking: true });\n`;

/** where Swagger UI's files are served; DOCS_ASSETS as the method gate knows them (GET and HEAD: any other method is a 405) */
const DOCS_ASSETS_DIR = '/docs/assets';
export const DOCS_ASSETS = `${DOCS_ASSETS_DIR}/:file`;

export function docsRoutes(limits?: Limits): Router {
  const r = Router();
  let doc: string | null = null;
  const swaggerDir = path.dirname(require.resolve('swagger-ui-dist/package.json'));
  r.get('/openapi.json', (_req, res) => {
    doc ??= JSON.stringify(openApiDocument(limits));
    res.type('application/json').send(doc);
  });
  r.get('/docs', (_req, res) => {
    res.type('html').send(DOCS_PAGE);
  });
  r.get('/docs/init.js', (_req, res) => {
    res.type('text/javascript').send(DOCS_INIT);
  });
  r.use(DOCS_ASSETS_DIR, express.static(swaggerDir, { index: false, maxAge: '1h' }));
  return r;
}
