/** The generic job record (the one model every seed's view is made from). */
import { Router } from 'express';
import { NotFoundError } from '../../../core/errors';
import { jobView } from '../../../core/job';
import type { ApiContext } from '../context';

export function jobRoutes(ctx: ApiContext): Router {
  const r = Router();
  r.get('/jobs/:id', async (req, res) => {
    const job = await ctx.store.getJob(req.params.id);
    if (!job) throw new NotFoundError(`job ${req.params.id} not found`);
    res.json(jobView(job));
  });
  r.get('/jobs/:id/chunks', async (req, res) => {
    if (!(await ctx.store.getJob(req.params.id))) throw new NotFoundError(`job ${req.params.id} not found`);
    res.json({ job_id: req.params.id, chunks: (await ctx.store.listChildren(req.params.id)).map(jobView) });
  });
  return r;
}
