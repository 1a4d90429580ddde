/**
 * The OpenAPI 3.1 document, at GET /openapi.json, with Swagger UI at GET /docs (served from the
 * swagger-ui-dist package: no CDN, it works offline). Request bodies and parameters are converted
 * from the very zod schemas that validate them (src/core/schemas.ts), and every 2xx body from the
 * zod schemas the routes answer through (responses.ts), with z.toJSONSchema: the document cannot
 * drift from the checks or the answers. Each operation lists every status it can send: its own
 * (each route's `errors`) and those every route of its kind can (statusesOf: 400 for a bad body, 401/403
 * with tokens, 413/415 for bodies, 429 with the rate limit, 503 without the store).
 * The document is built from the route table (route.ts, routes/index.ts).
 * test/unit/openapi.test.ts validates the document; test/e2e/api-contract.test.ts validates real
 * answers against it; the fuzz tests draw their inputs from it.
 */
import fs from 'node:fs';
import { z } from 'zod';

import { idParam, populateBody, QUERY_VALUE, submitBody, SUBMIT_TYPES } from '../../../core/schemas';
import { userTypes } from '../../../core/handlers';
import { SAFE_NAME } from '../../../core/ids';
import type { Bounds, Limits } from '../../../core/quotas';
import { batchTypes } from '../../../core/batch';
import { assetPath } from '../../../util/package-root';
import { allowedMethods, routeTable } from '../methods';
import { errorResponse, ResponseName, RESPONSES } from '../responses';
import { type Answer, compile, describeNeed, type Need, paramCount, type Route, routeKey } from '../route';

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

const IDEMPOTENCY_KEY = {
  name: 'Idempotency-Key',
  in: 'header',
  required: false,
  description:
    "a second create with this key by the same caller (token), while its first job is kept (result TTL after it finishes), makes nothing and answers 200 with the first job; other params are a 409 naming the key. The same as the body's idempotency_key: 1-200 of letters, digits, _ . -",
  schema: { type: 'string', minLength: 1, maxLength: 200, pattern: SAFE_NAME.source },
};

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

/** Express `/jobs/:id` ↔ OpenAPI `/jobs/{id}` */
export const toOpenApiPath = (p: string): string => p.replace(/:(\w+)/g, '{$1}');

/** a literal path beside a parameterised route shadows it: GET /jobs/claim is a 405, not a job called "claim" */
function shadowed(table: readonly Route[], method: string, route: string): boolean {
  const re = compile(route);
  const params = paramCount(route);
  const allow = routeTable(table.map((r) => [r.method, r.path] as const));
  return table.some(
    ({ path: other }) =>
      paramCount(other) < params && re.test(other) && !allowedMethods(allow, other)?.includes(method),
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
export function routeStatuses(table: readonly Route[], op: Route): Record<number, string | Answer> {
  const { method, path: route, need } = op;
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
  add(405, hasParams && shadowed(table, method, route));
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

/** the document of a node: the table of its routes, and its request bodies as its bounds (limits) allow them */
export function buildDocument(table: readonly Route[], limits: Limits): Record<string, unknown> {
  const version = (JSON.parse(fs.readFileSync(assetPath('package.json'), 'utf8')) as { version: string }).version;
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of table) {
    const { method, path: route, need } = op;
    const key = routeKey(op);
    const pathParams = [...route.matchAll(/:(\w+)/g)].map((m) => ({
      name: m[1],
      in: 'path',
      required: true,
      schema: jsonSchema(op.params?.[m[1]] ?? idParam),
    }));
    const responses = Object.fromEntries(
      Object.entries(routeStatuses(table, op)).map(([status, r]) => [status, responseObject(Number(status), r)]),
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
