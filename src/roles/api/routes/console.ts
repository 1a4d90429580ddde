/**
 * The dashboard's operations console: GET /metrics/history (the cluster's recent history in
 * buckets, src/core/history.ts), GET /workers (the live workers and schedulers, from their
 * heartbeats) and POST /jobs/:id/retry (admin: a dead or
 * failed job back on its queue, its attempts from zero).
 */
import { Router } from 'express';
import { ConflictError, NotFoundError } from '../../../core/errors';
import { jobView } from '../../../core/job';
import { requireAdmin } from '../admin';
import { HISTORY, HISTORY_WINDOWS, historyPoint } from '../../../core/history';
import { historyQuery, parseInput } from '../../../core/schemas';
import type { ApiContext } from '../context';
import { pathJobId } from '../ids';
import { reply, RESPONSES } from '../responses';
import { nodeView } from './ops';

export function consoleRoutes(ctx: ApiContext): Router {
  const r = Router();

  r.get('/metrics/history', async (req, res) => {
    const { window } = parseInput(historyQuery, req.query);
    const buckets = await ctx.store.history.read(HISTORY.bucketMs, HISTORY_WINDOWS[window]);
    reply(res, RESPONSES.history, {
      window,
      window_sec: HISTORY_WINDOWS[window] / 1000,
      bucket_sec: HISTORY.bucketMs / 1000,
      generated_at: new Date().toISOString(),
      points: buckets.map(historyPoint),
    });
  });

  r.get('/workers', async (_req, res) => {
    const [workers, schedulers] = await Promise.all([
      ctx.store.nodes.live('worker'),
      ctx.store.nodes.live('scheduler'),
    ]);
    const views = schedulers.map(nodeView);
    const leader = views.find((s) => s.leader === true);
    reply(res, RESPONSES.workers, {
      workers: workers.map(nodeView),
      schedulers: views,
      leader: leader ? leader.node_id : null,
      next_batch_at:
        leader && typeof leader.next_batch_at === 'number' ? new Date(leader.next_batch_at).toISOString() : null,
    });
  });

  r.post('/jobs/:id/retry', requireAdmin(ctx), async (req, res) => {
    const id = pathJobId(req);
    const job = await ctx.store.reads.job(id);
    if (!job) throw new NotFoundError(`job ${id} not found`);
    if (job.state === 'DEAD') return reply(res, RESPONSES.job, jobView(await ctx.store.dead.retry(id)));
    if (job.state === 'FAILURE') return reply(res, RESPONSES.job, jobView(await ctx.store.dead.retryFailed(id)));
    throw new ConflictError(`job ${id} is ${job.state}: only a job that is DEAD or ended in FAILURE can be retried`);
  });

  return r;
}
