/**
 * Seed 002: chunked prime counting. POST /api/count-primes makes a parent job and one chunk job
 * per range in one atomic step; the last chunk completes the parent (a chord in the store).
 * GET /api/jobs/:id/events streams every state and progress change (SSE), closing after the
 * final state.
 */
import { Router, Response } from 'express';
import { planChunks } from '../../../core/chunks';
import { NotFoundError } from '../../../core/errors';
import { isFinal, Job, primeJobView } from '../../../core/job';
import { countPrimesBody, parseInput } from '../../../core/schemas';
import type { JobEvent } from '../../../store/types';
import type { ApiContext } from '../context';
import { reply, RESPONSES } from '../responses';

async function findJob(ctx: ApiContext, id: string): Promise<Job> {
  const job = await ctx.store.getJob(id);
  if (!job) throw new NotFoundError(`job ${id} not found`);
  return job;
}

function send(res: Response, event: string, data: unknown, id?: string): void {
  res.write(`${id ? `id: ${id}\n` : ''}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

export function primeRoutes(ctx: ApiContext): Router {
  const r = Router();

  r.post('/api/count-primes', async (req, res) => {
    const { n, chunks } = parseInput(countPrimesBody, req.body);
    const { parent } = await ctx.store.enqueueFlow({
      parent: { type: 'primes', params: { n, chunks }, initiatedBy: ctx.nodeId },
      children: planChunks(n, chunks).map((c) => ({ type: 'primes_chunk', params: { lo: c.lo, hi: c.hi, index: c.index } })),
    });
    reply(res.location(`/api/jobs/${parent.id}`), RESPONSES.primesAccepted, { job_id: parent.id, status: parent.state }, 202);
  });

  r.get('/api/jobs/:id', async (req, res) => {
    reply(res, RESPONSES.primeJob, primeJobView(await findJob(ctx, req.params.id)));
  });

  r.get('/api/jobs/:id/events', async (req, res) => {
    const id = req.params.id;
    let last = primeJobView(await findJob(ctx, id));
    res.status(200).set({ 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.flushHeaders();

    let closed = false;
    let unsubscribe = () => {};
    const end = () => {
      if (closed) return;
      closed = true;
      unsubscribe();
      clearInterval(keepAlive);
      res.end();
    };
    const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
    req.on('close', end);

    // changes are queued while a snapshot is read, so their order is kept
    let chain = Promise.resolve();
    const onEvent = (e: JobEvent) => {
      chain = chain.then(async () => {
        if (closed) return;
        const completed = e.progress?.completed ?? last.progress.completed;
        if (e.state === last.state && completed === last.progress.completed) return; // nothing new
        if (completed < last.progress.completed || isFinal(last.state)) return; // older than what was sent
        const view = isFinal(e.state) ? primeJobView(await findJob(ctx, id)) : { ...last, state: e.state, progress: e.progress ?? last.progress };
        last = view;
        send(res, 'state', view, e.id);
        if (isFinal(view.state)) end();
      });
    };
    unsubscribe = await ctx.events.subscribe(id, onEvent);
    last = primeJobView(await findJob(ctx, id)); // after subscribing: nothing can fall in between
    send(res, 'state', last);
    if (isFinal(last.state)) end();
  });

  return r;
}
