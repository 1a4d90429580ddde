/**
 * The dead-letter queue (admin): jobs that used every attempt, with their last error.
 * GET /dlq lists them, POST /dlq/:id/retry puts one back at the tail of its queue with its
 * attempts counted from zero, DELETE /dlq purges them all.
 */
import { Router } from 'express';
import { jobView } from '../../../core/job';
import { dlqQuery, parseInput } from '../../../core/schemas';
import { requireAdmin } from '../admin';
import type { ApiContext } from '../context';
import { pathJobId } from '../ids';
import { reply, RESPONSES } from '../responses';

export function dlqRoutes(ctx: ApiContext): Router {
  const r = Router();
  const admin = requireAdmin(ctx);

  r.get('/dlq', admin, async (req, res) => {
    const q = parseInput(dlqQuery, req.query);
    const { total, jobs } = await ctx.store.dead.list(q.offset, q.limit);
    reply(res, RESPONSES.dlq, { total, offset: q.offset, limit: q.limit, jobs: jobs.map(jobView) });
  });

  r.post('/dlq/:id/retry', admin, async (req, res) => {
    reply(res, RESPONSES.job, jobView(await ctx.store.dead.retry(pathJobId(req))));
  });

  r.delete('/dlq', admin, async (_req, res) => {
    reply(res, RESPONSES.purged, { purged: await ctx.store.dead.purge() });
  });

  return r;
}
