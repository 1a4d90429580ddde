/** What each route of the API takes, for the fuzz tests (test/helpers/fuzz.ts): one table per file. */
import type { RouteSpec } from './fuzz';

/** seeds 000-003 */
export const CORE_SPECS: Record<string, RouteSpec> = {
  'GET /healthz': { noInput: true },
  'GET /health': { noInput: true },
  'GET /whoami': { noInput: true },
  'GET /valkey_test': { noInput: true },
  'GET /add': { query: ['a', 'b', 'op'] },
  'POST /task': { body: ['a', 'b', 'op'] },
  'GET /tasks/:id/status': {},
  'POST /api/count-primes': { body: ['n', 'chunks'] },
  'GET /api/jobs/:id': {},
  'GET /api/jobs/:id/events': {},
  'GET /jobs/:id': {},
  'GET /jobs/:id/chunks': {},
  'POST /abacus/number': { body: ['number'] },
  'GET /abacus/sum': { noInput: true },
  'DELETE /abacus/sum': { admin: true },
};

/** seed 004: jobs, bots, the datalake, the summary */
export const BOT_SPECS: Record<string, RouteSpec> = {
  'GET /jobs': { query: ['status', 'offset', 'limit'], noInput: true },
  'POST /jobs/populate': { admin: true },
  'POST /jobs/claim': {},
  'POST /jobs/:id/start': {},
  'POST /jobs/:id/complete': {},
  'POST /jobs/:id/fail': {},
  'POST /bots/register': { body: ['name'] },
  'POST /bots/heartbeat': {},
  'POST /bots/deregister': {},
  'DELETE /bots/:id': { admin: true },
  'GET /bots': { noInput: true },
  'GET /datalake/stats': { noInput: true },
  'GET /datalake/export/:date': {},
  'GET /metrics/summary': { noInput: true },
};
