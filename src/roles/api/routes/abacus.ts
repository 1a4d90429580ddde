/**
 * The abacus: one running sum shared by every API node, no add ever lost. The sum is a
 * signed 64-bit integer; in JSON it is a number while it is a safe integer and an exact decimal
 * string beyond (see sumToJson). Resetting it is an admin route: refused (403) while no admin
 * token is configured.
 */
import { Router } from 'express';
import { AbacusAddResult, SumConflictError, sumToJson } from '../../../core/abacus';
import { UnprocessableError } from '../../../core/errors';
import { abacusBody, parseInput } from '../../../core/schemas';
import { requireAdmin } from '../admin';
import type { ApiContext } from '../context';
import { reply, RESPONSES } from '../responses';

export function abacusRoutes(ctx: ApiContext): Router {
  const r = Router();
  const counts = ctx.metrics.abacus;

  r.post('/abacus/number', async (req, res) => {
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
  });

  r.get('/abacus/sum', async (_req, res) => {
    const sum = await ctx.store.abacus.sum();
    reply(res, RESPONSES.sum, { sum: sumToJson(sum), timestamp: new Date().toISOString(), node_id: ctx.nodeId });
  });

  r.delete('/abacus/sum', requireAdmin(ctx), async (_req, res) => {
    await ctx.store.abacus.reset();
    reply(res, RESPONSES.reset, {
      message: 'Sum successfully reset to 0',
      timestamp: new Date().toISOString(),
      node_id: ctx.nodeId,
    });
  });

  return r;
}
