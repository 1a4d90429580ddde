/**
 * The dead-letter queue (admin): jobs that used every attempt, with their last error.
 * GET /dlq lists them, POST /dlq/:id/retry puts one back at the tail of its queue with its
 * attempts counted from zero, DELETE /dlq purges them all.
 */
import { jobView } from '../views';
import { dlqQuery, parseInput } from '../../../core/schemas';
import { pathJobId } from '../ids';
import { reply, RESPONSES } from '../responses';
import type { Route } from '../route';

export const deadLetterRoutes: Route[] = [
  {
    method: 'GET',
    path: '/dlq',
    need: 'admin',
    tag: 'operations',
    summary: 'the dead-letter queue, most recent first',
    query: dlqQuery,
    ok: { 200: { description: 'a page of dead jobs', json: 'dlq' } },
    handler: (ctx) => async (req, res) => {
      const q = parseInput(dlqQuery, req.query);
      const { total, jobs } = await ctx.store.dead.list(q.offset, q.limit);
      reply(res, RESPONSES.dlq, { total, offset: q.offset, limit: q.limit, jobs: jobs.map(jobView) });
    },
  },
  {
    method: 'POST',
    path: '/dlq/:id/retry',
    need: 'admin',
    tag: 'operations',
    summary: 'a dead job back on its queue, its attempts from zero',
    ok: { 200: { description: 'the job, now PENDING', json: 'job' } },
    errors: { 404: 'unknown job', 409: 'not dead, or its parent has finished' },
    handler: (ctx) => async (req, res) => {
      reply(res, RESPONSES.job, jobView(await ctx.store.dead.retry(pathJobId(req))));
    },
  },
  {
    method: 'DELETE',
    path: '/dlq',
    need: 'admin',
    tag: 'operations',
    summary: 'delete every dead job',
    ok: { 200: { description: 'how many', json: 'purged' } },
    handler: (ctx) => async (_req, res) => {
      reply(res, RESPONSES.purged, { purged: await ctx.store.dead.purge() });
    },
  },
];
