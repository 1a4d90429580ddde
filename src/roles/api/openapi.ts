/**
 * The OpenAPI 3.1 document, at GET /openapi.json, with Swagger UI at GET /docs (served from the
 * swagger-ui-dist package: no CDN, it works offline). Request bodies and query parameters are
 * converted from the very zod schemas that validate them (src/core/schemas.ts, z.toJSONSchema),
 * so the docs cannot drift from the checks; test/unit/openapi.test.ts validates the document and
 * checks that every route of the app is in it.
 */
import fs from 'node:fs';
import path from 'node:path';
import express, { Router } from 'express';
import { z } from 'zod';
import { abacusBody, addQuery, claimBody, completeBody, countPrimesBody, dlqQuery, failBody, historyQuery, listJobsQuery, populateBody, registerBotBody, taskBody } from '../../core/schemas';
import { assetPath } from '../../util/package-root';

type JsonSchema = Record<string, unknown>;

/** a request schema as JSON Schema 2020-12 (OpenAPI 3.1's dialect), as the client sends it */
function jsonSchema(schema: z.ZodType): JsonSchema {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  return rest;
}

/** one OpenAPI parameter per property of a query schema */
function queryParameters(schema: z.ZodType) {
  const s = jsonSchema(schema) as { properties: Record<string, JsonSchema>; required?: string[] };
  return Object.entries(s.properties).map(([name, p]) => ({ name, in: 'query', required: s.required?.includes(name) ?? false, schema: p }));
}

const errorSchema = jsonSchema(
  z.object({ error: z.object({ code: z.string(), message: z.string(), details: z.array(z.object({ field: z.string(), message: z.string() }).partial()) }) }),
);

interface Op {
  summary: string;
  tag: string;
  body?: z.ZodType;
  bodyOptional?: boolean;
  query?: z.ZodType;
  /** who may call it: an admin token or a bot's token */
  auth?: 'admin' | 'bot';
  /** status → description; 2xx answers are JSON unless `produces` says otherwise */
  responses: Record<string, string>;
  produces?: string;
}

/** every route, keyed as Express writes it ("GET /jobs/:id") */
export const OPERATIONS: Record<string, Op> = {
  'GET /healthz': { tag: 'operations', summary: 'liveness', responses: { 200: 'this node is up' } },
  'GET /health': { tag: 'operations', summary: 'Redis status and stats, the current sum, live workers', responses: { 200: 'healthy', 503: 'the store is unreachable' } },
  'GET /metrics': { tag: 'operations', summary: 'Prometheus metrics of this node and of the cluster', produces: 'text/plain', responses: { 200: 'Prometheus text format 0.0.4' } },
  'GET /openapi.json': { tag: 'operations', summary: 'this document', responses: { 200: 'the OpenAPI document' } },
  'GET /docs': { tag: 'operations', summary: 'Swagger UI for this document', produces: 'text/html', responses: { 200: 'an HTML page' } },
  'GET /docs/init.js': { tag: 'operations', summary: 'the start script of the Swagger UI page', produces: 'application/javascript', responses: { 200: 'JavaScript' } },
  'GET /whoami': { tag: 'math', summary: 'the node that answers', responses: { 200: '{node_id, container_id, hostname, pid, role}' } },
  'GET /add': { tag: 'math', summary: 'compute a op b at once (synchronous)', query: addQuery, responses: { 200: '{a, b, op, result, handled_by}', 400: 'bad input' } },
  'POST /task': { tag: 'math', summary: 'queue a math task', body: taskBody, responses: { 202: '{task_id, status, initiated_by}', 400: 'bad input' } },
  'GET /tasks/:id/status': { tag: 'math', summary: "a task's status with initiated_by, checked_by, handled_by", responses: { 200: 'the task', 404: 'unknown task' } },
  'GET /valkey_test': { tag: 'math', summary: 'store connectivity', responses: { 200: '{status, node_id, url, latency_ms, version, role, mode}', 503: 'the store is unreachable' } },
  'POST /api/count-primes': { tag: 'primes', summary: 'count the primes up to n in chunks', body: countPrimesBody, responses: { 202: '{job_id, status: "PENDING"}', 400: 'bad input' } },
  'GET /api/jobs/:id': { tag: 'primes', summary: 'a prime count: state, progress, result', responses: { 200: '{job_id, state, progress, result, error}', 404: 'unknown job' } },
  'GET /api/jobs/:id/events': { tag: 'primes', summary: 'every state and progress change (Server-Sent Events)', produces: 'text/event-stream', responses: { 200: 'an event stream, closed after the final state', 404: 'unknown job' } },
  'GET /jobs/:id/chunks': { tag: 'primes', summary: 'the chunk jobs of a prime count', responses: { 200: '{job_id, chunks}', 404: 'unknown job' } },
  'GET /jobs': { tag: 'jobs', summary: 'the jobs, newest first', query: listJobsQuery, responses: { 200: '{total, offset, limit, status, jobs}', 400: 'bad input' } },
  'GET /jobs/:id': { tag: 'jobs', summary: 'the whole job record', responses: { 200: 'the job', 404: 'unknown job' } },
  'POST /jobs/populate': { tag: 'jobs', summary: 'make a batch now', auth: 'admin', body: populateBody, bodyOptional: true, responses: { 201: '{batch, created, type, queue, job_ids}', 400: 'bad input', 401: 'no or wrong admin token', 403: 'no ADMIN_TOKEN configured' } },
  'POST /jobs/claim': { tag: 'bots', summary: 'take one job', auth: 'bot', body: claimBody, bodyOptional: true, responses: { 200: '{job, lease_ms}', 204: 'no job waiting', 401: 'unknown bot', 403: 'a queue other than the bot queue', 409: 'the bot already holds a job' } },
  'POST /jobs/:id/start': { tag: 'bots', summary: 'the bot starts its job', auth: 'bot', responses: { 200: 'the job, now PROGRESS', 401: 'unknown bot', 404: 'unknown job', 409: 'the bot does not hold this job' } },
  'POST /jobs/:id/complete': { tag: 'bots', summary: 'the bot reports a result', auth: 'bot', body: completeBody, bodyOptional: true, responses: { 200: 'the job, now SUCCESS', 401: 'unknown bot', 404: 'unknown job', 409: 'the bot does not hold this job' } },
  'POST /jobs/:id/fail': { tag: 'bots', summary: 'the bot reports a failure', auth: 'bot', body: failBody, responses: { 200: 'the job: RETRY, FAILURE or DEAD', 400: 'bad input', 401: 'unknown bot', 404: 'unknown job', 409: 'the bot does not hold this job' } },
  'POST /bots/register': { tag: 'bots', summary: 'register a bot: its id and token (shown once)', body: registerBotBody, bodyOptional: true, responses: { 201: '{bot_id, name, status, token, lease_ms, …}', 400: 'bad input' } },
  'POST /bots/heartbeat': { tag: 'bots', summary: "the bot is alive; renews its job's lease", auth: 'bot', responses: { 200: "the bot's record", 401: 'unknown bot' } },
  'POST /bots/deregister': { tag: 'bots', summary: 'the bot leaves; its job goes back to the queue', auth: 'bot', responses: { 204: 'gone', 401: 'unknown bot' } },
  'DELETE /bots/:id': { tag: 'bots', summary: 'remove a bot; its job goes back to the queue', auth: 'admin', responses: { 204: 'removed', 401: 'no or wrong admin token', 403: 'no ADMIN_TOKEN configured', 404: 'unknown bot' } },
  'GET /bots': { tag: 'bots', summary: 'the bots, up and down', responses: { 200: '{total, up, down, bots}' } },
  'GET /metrics/summary': { tag: 'operations', summary: "seed 004's summary: jobs by state, bots, throughput, success rate", responses: { 200: 'the summary' } },
  'GET /datalake/stats': { tag: 'datalake', summary: 'per day: records, success rate, mean duration', responses: { 200: '{records, retention_days, …, days}' } },
  'GET /datalake/export/:date': { tag: 'datalake', summary: "a day's records, one JSON object a line", produces: 'application/x-ndjson', responses: { 200: 'NDJSON', 400: 'not a YYYY-MM-DD day', 404: 'no records that day' } },
  'POST /abacus/number': { tag: 'abacus', summary: 'add to the running sum', body: abacusBody, responses: { 200: '{new_sum, added, timestamp, node_id}', 400: 'bad input', 409: 'optimistic add out of retries', 422: 'the sum would leave the 64-bit range' } },
  'GET /abacus/sum': { tag: 'abacus', summary: 'the running sum', responses: { 200: '{sum, timestamp, node_id}' } },
  'DELETE /abacus/sum': { tag: 'abacus', summary: 'reset the sum to 0 (open until ADMIN_TOKEN is configured)', auth: 'admin', responses: { 200: 'reset', 401: 'no or wrong admin token' } },
  'GET /dlq': { tag: 'operations', summary: 'the dead-letter queue, most recent first', auth: 'admin', query: dlqQuery, responses: { 200: '{total, offset, limit, jobs}', 400: 'bad input', 401: 'no or wrong admin token', 403: 'no ADMIN_TOKEN configured' } },
  'POST /dlq/:id/retry': { tag: 'operations', summary: 'a dead job back on its queue, its attempts from zero', auth: 'admin', responses: { 200: 'the job, now PENDING', 401: 'no or wrong admin token', 403: 'no ADMIN_TOKEN configured', 404: 'unknown job', 409: 'not dead, or its parent has finished' } },
  'DELETE /dlq': { tag: 'operations', summary: 'delete every dead job', auth: 'admin', responses: { 200: '{purged}', 401: 'no or wrong admin token', 403: 'no ADMIN_TOKEN configured' } },
  'GET /metrics/history': { tag: 'operations', summary: "the cluster's recent history in 10 s buckets: jobs done and failed, run-time percentiles, queue depth, the sum", query: historyQuery, responses: { 200: '{window, window_sec, bucket_sec, generated_at, points}', 400: 'bad input' } },
  'GET /workers': { tag: 'operations', summary: 'the live workers and schedulers, from their heartbeats; who leads, when the next batch is due', responses: { 200: '{workers, schedulers, leader, next_batch_at}' } },
  'POST /jobs/:id/retry': { tag: 'jobs', summary: 'a DEAD or FAILURE job back on its queue, its attempts from zero', auth: 'admin', responses: { 200: 'the job, now PENDING', 401: 'no or wrong admin token', 403: 'no ADMIN_TOKEN configured', 404: 'unknown job', 409: 'neither dead nor failed, a prime count (not run itself), or a chunk whose parent has finished' } },
  'GET /queues': { tag: 'operations', summary: "every queue's waiting, active and delayed jobs", responses: { 200: '{queues}' } },
  'GET /': { tag: 'operations', summary: 'the dashboard for a browser; {name, version, node_id, dashboard, health} otherwise', produces: 'text/html', responses: { 200: 'the dashboard or the JSON summary' } },
  'GET /vendor/:file': { tag: 'operations', summary: "the dashboard's libraries (Alpine.js, Pico.css), served from the package", produces: 'application/javascript', responses: { 200: 'the file', 404: 'no such file' } },
};

/** Express `/jobs/:id` ↔ OpenAPI `/jobs/{id}` */
export const toOpenApiPath = (p: string): string => p.replace(/:(\w+)/g, '{$1}');

export function openApiDocument(): Record<string, unknown> {
  const version = (JSON.parse(fs.readFileSync(assetPath('package.json'), 'utf8')) as { version: string }).version;
  const paths: Record<string, Record<string, unknown>> = {};
  for (const [key, op] of Object.entries(OPERATIONS)) {
    const [method, route] = key.split(' ');
    const pathParams = [...route.matchAll(/:(\w+)/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
    const responses = Object.fromEntries(
      Object.entries(op.responses).map(([status, description]) => {
        const ok = status.startsWith('2') && status !== '204';
        const content = ok ? { [op.produces ?? 'application/json']: {} } : status === '204' ? undefined : { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } };
        return [status, { description, ...(content ? { content } : {}) }];
      }),
    );
    (paths[toOpenApiPath(route)] ??= {})[method.toLowerCase()] = {
      operationId: `${method.toLowerCase()}${route.replace(/[:/{}-](\w)?/g, (_m, c?: string) => (c ? c.toUpperCase() : ''))}`,
      summary: op.summary,
      tags: [op.tag],
      ...(pathParams.length || op.query ? { parameters: [...pathParams, ...(op.query ? queryParameters(op.query) : [])] } : {}),
      ...(op.body ? { requestBody: { required: !op.bodyOptional, content: { 'application/json': { schema: jsonSchema(op.body) } } } } : {}),
      ...(op.auth ? { security: [{ [op.auth === 'admin' ? 'adminToken' : 'botToken']: [] }] } : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'wizard', version, description: 'A distributed job system on Redis: math tasks, chunked prime counting, a running sum, bots.' },
    paths,
    components: {
      schemas: { Error: errorSchema },
      securitySchemes: {
        adminToken: { type: 'http', scheme: 'bearer', description: 'ADMIN_TOKEN (or the X-Admin-Token header)' },
        botToken: { type: 'http', scheme: 'bearer', description: 'the token POST /bots/register answered' },
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

export function docsRoutes(): Router {
  const r = Router();
  let doc: string | null = null;
  const swaggerDir = path.dirname(require.resolve('swagger-ui-dist/package.json'));
  r.get('/openapi.json', (_req, res) => {
    doc ??= JSON.stringify(openApiDocument());
    res.type('application/json').send(doc);
  });
  r.get('/docs', (_req, res) => {
    res.type('html').send(DOCS_PAGE);
  });
  r.get('/docs/init.js', (_req, res) => {
    res.type('application/javascript').send(DOCS_INIT);
  });
  r.use('/docs/assets', express.static(swaggerDir, { index: false, maxAge: '1h' }));
  return r;
}
