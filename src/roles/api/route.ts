/**
 * A route, declared once: its method and path, who may call it, its request and response
 * schemas, and its handler. The app mounts the table of them (routes/index.ts), and everything
 * else is read from the same table: the OpenAPI document (openapi/), the access gate's rule
 * (routeNeed), and the 405/Allow table (methods.ts). A new route is one object in one file.
 */
import type { RequestHandler } from 'express';
import type { z } from 'zod';
import type { ApiContext } from './context';
import type { Principal } from '../../core/tokens';
import type { ResponseName } from './responses';

/** what a route asks of its caller (with API tokens on; admin and bot routes always) */
export type Need = 'public' | 'read' | 'submit' | 'register' | 'bot' | 'admin';

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

type JsonSchema = Record<string, unknown>;

/** a 2xx answer: JSON from a response schema, or other media types (null: any body of that type) */
export interface Answer {
  description: string;
  json?: ResponseName;
  content?: Record<string, ResponseName | null>;
  headers?: Record<string, { description: string; required?: boolean; schema: JsonSchema }>;
}

/** a route's handler, made once per app from its context and the table the app mounts */
export type HandlerFactory = (ctx: ApiContext, table: readonly Route[]) => RequestHandler;

export interface Route {
  method: Method;
  /** as Express writes it: `/jobs/:id` */
  path: string;
  /** who may call it: admin routes are guarded by the admin gate, bot routes by the bot's token */
  need: Need;
  summary: string;
  /** the OpenAPI tag */
  tag: string;
  body?: z.ZodType;
  bodyOptional?: boolean;
  /** the most its JSON body may hold (express's form, '64kb'), when it is not the app's BODY_LIMIT */
  bodyLimit?: string;
  query?: z.ZodType;
  /** path parameters' schemas by name (default: any non-empty segment) */
  params?: Record<string, z.ZodType>;
  /** every 2xx answer */
  ok: Record<number, Answer>;
  /** error statuses the route itself sends, beyond those every route of its kind can (openapi/statuses.ts) */
  errors?: Record<number, string | Answer>;
  /** false: answers without calling the store (no 503 unless the access gate asks the store) */
  store?: false;
  /** creates work: takes an Idempotency-Key header */
  idempotent?: true;
  handler: HandlerFactory;
}

/** a route's key, as the OpenAPI operations and the logs name it: "GET /jobs/:id" */
export const routeKey = (r: Pick<Route, 'method' | 'path'>): string => `${r.method} ${r.path}`;

/** a route path as Express matches it: `:name` is one segment, a trailing slash is optional, any case */
export function compile(path: string): RegExp {
  const source = path
    .split(/(:\w+)/)
    .map((part) => (part.startsWith(':') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source.replace(/\/$/, '')}/?$`, 'i');
}

/** how many `:param` segments a path has: fewer is more literal */
export const paramCount = (path: string): number => (path.match(/:\w+/g) ?? []).length;

/** the Location header of an answer that made something */
export const LOCATION = {
  Location: { description: 'where to follow the job', required: true, schema: { type: 'string' } },
};
/** POST /jobs/bulk's body limit: 10,000 jobs of about 1.5 kB each (every other route keeps the app's) */
export const BULK_BODY_LIMIT = '16mb';
/** the 200 of a create repeated with its idempotency key */
export const REPEATED = 'a repeated idempotency key: the first job, as it is now (nothing made)';
/** the 409 of an idempotency key used with other params */
export const KEY_CONFLICT = 'the idempotency key is in use with other params (the message names it)';

/**
 * Paths no route declares, by prefix: Swagger UI's files under /docs load without a token; every
 * method on anything under /dlq is an admin's (closed even where no route answers).
 */
const PREFIX_NEEDS: [RegExp, Need][] = [
  [/^GET \/docs\//, 'public'],
  [/^[A-Z]+ \/dlq\//, 'admin'],
];

/**
 * What a request needs, from the table: the route of its method among the most literal routes
 * whose path matches (as the 405 table picks them). No route: a read (GET) needs any token, and
 * any other method an admin token (closed by default: a route added later is not open by mistake).
 */
export function needOf(table: readonly Route[], method: string, path: string): Need {
  const m = method === 'HEAD' ? 'GET' : method;
  const p = path.length > 1 ? path.replace(/\/+$/, '') : path;
  const matching = table.filter((r) => compile(r.path).test(p));
  const fewest = Math.min(...matching.map((r) => paramCount(r.path)));
  const route = matching.find((r) => r.method === m && paramCount(r.path) === fewest);
  if (route) return route.need;
  const prefixed = PREFIX_NEEDS.find(([re]) => re.test(`${m} ${p}`));
  if (prefixed) return prefixed[1];
  return m === 'GET' ? 'read' : 'admin';
}

/** may this principal do what the route needs? */
export function allows(p: Principal, need: Need): boolean {
  switch (need) {
    case 'public':
    case 'read':
      return true;
    case 'submit':
      return p.role === 'admin' || p.role === 'client';
    case 'register':
      return p.role === 'admin' || (p.role === 'bot' && p.botId === undefined);
    case 'bot':
      return p.botId !== undefined;
    case 'admin':
      return p.role === 'admin';
  }
}

const NEEDS_TEXT: Record<Need, string> = {
  public: 'nothing',
  read: 'any token',
  submit: 'a client or admin token',
  register: 'a bot-role token (or an admin token)',
  bot: 'the bot token POST /bots/register answered',
  admin: 'an admin token',
};

export const describeNeed = (need: Need): string => NEEDS_TEXT[need];
