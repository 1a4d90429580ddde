/**
 * The abacus: one running sum shared by every API node, no add ever lost. The sum is a
 * signed 64-bit integer; in JSON it is a number while it is a safe integer and an exact decimal
 * string beyond (see sumToJson). Resetting it is an admin route: refused (403) while no admin
 * token is configured.
 */
import { AbacusAddResult, SumConflictError, sumToJson } from '../../../core/abacus';
import { UnprocessableError } from '../../../core/errors';
import { abacusBody, parseInput } from '../../../core/schemas';
import { reply, RESPONSES } from '../responses';
import type { Route } from '../route';

export const abacusRoutes: Route[] = [
  {
    method: 'POST',
    path: '/abacus/number',
    need: 'submit',
    tag: 'abacus',
    summary: 'add to the running sum',
    body: abacusBody,
    ok: { 200: { description: 'the new sum', json: 'added' } },
    errors: { 409: 'optimistic add out of retries', 422: 'the sum would leave the 64-bit range' },
    handler: (ctx) => async (req, res) => {
      const counts = ctx.metrics.abacus;
      const { number } = parseInput(abacusBody, req.body);
      let added: AbacusAddResult;
      try {
        added = await ctx.store.abacus.add(number, ctx.abacusStrategy);
      } catch (err) {
        if (err instanceof SumConflictError) {
          counts.conflicts += err.conflicts;
          counts.retries_exhausted++;
        } else if (err instanceof UnprocessableError) {
          counts.out_of_range++;
        }
        throw err;
      }
      counts.adds++;
      counts.conflicts += added.conflicts;
      reply(res, RESPONSES.added, {
        new_sum: sumToJson(added.sum),
        added: number,
        timestamp: new Date().toISOString(),
        node_id: ctx.nodeId,
        conflicts: added.conflicts,
      });
    },
  },
  {
    method: 'GET',
    path: '/abacus/sum',
    need: 'read',
    tag: 'abacus',
    summary: 'the running sum',
    ok: { 200: { description: 'the sum', json: 'sum' } },
    handler: (ctx) => async (_req, res) => {
      const sum = await ctx.store.abacus.sum();
      reply(res, RESPONSES.sum, { sum: sumToJson(sum), timestamp: new Date().toISOString(), node_id: ctx.nodeId });
    },
  },
  {
    method: 'DELETE',
    path: '/abacus/sum',
    need: 'admin',
    tag: 'abacus',
    summary: 'reset the sum to 0',
    ok: { 200: { description: 'reset', json: 'reset' } },
    handler: (ctx) => async (_req, res) => {
      await ctx.store.abacus.reset();
      reply(res, RESPONSES.reset, {
        message: 'Sum successfully reset to 0',
        timestamp: new Date().toISOString(),
        node_id: ctx.nodeId,
      });
    },
  },
];
