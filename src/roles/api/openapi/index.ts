/**
 * The OpenAPI document of the route table (routes/index.ts), as GET /openapi.json serves it, and
 * its operations by key ("GET /jobs/:id"): what the tests and the fuzzers read.
 */
import { LIMIT_DEFAULTS, type Limits } from '../../../core/quotas';
import { type Answer, type Need, type Route, routeKey } from '../route';
import { ROUTES } from '../routes';
import { buildDocument, routeStatuses } from './build';

export { toOpenApiPath } from './build';

/** every route, keyed as Express writes it ("GET /jobs/:id") */
export const OPERATIONS: Record<string, Route> = Object.fromEntries(ROUTES.map((r) => [routeKey(r), r]));

/** what an operation asks of its caller when API tokens are on (the access gate's own rule) */
export const operationNeed = (key: string): Need => OPERATIONS[key].need;

/** every status an operation can answer, 2xx and errors, with why */
export const statusesOf = (key: string): Record<number, string | Answer> => routeStatuses(ROUTES, OPERATIONS[key]);

/** the document of a node: its routes, and its request bodies as its bounds (limits) allow them */
export const openApiDocument = (limits: Limits = LIMIT_DEFAULTS): Record<string, unknown> =>
  buildDocument(ROUTES, limits);
