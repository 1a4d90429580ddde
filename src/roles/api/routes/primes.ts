/**
 * Chunked prime counting. POST /api/count-primes makes a parent job and one chunk job
 * per range in one atomic step; the last chunk completes the parent (a chord in the store).
 * GET /api/jobs/:id/events streams every state and progress change (SSE), closing after the
 * final state; a job that no longer exists (its record expired, Redis restarted empty) ends the
 * stream with a last `gone` event, found by a look at the job with each keep-alive.
 */
import { Router, Response } from 'express';
import { NotFoundError } from '../../../core/errors';
import { isFinal, Job, primeJobView } from '../../../core/job';
import { countPrimesBody, parseInput, splitOptions } from '../../../core/schemas';
import type { JobEvent } from '../../../store/types';
import type { ApiContext } from '../context';
import { pathJobId } from '../ids';
import { streamQuota } from '../quotas';
import { reply, RESPONSES } from '../responses';
import { submitWork } from '../submit';

async function findJob(ctx: ApiContext, id: string): Promise<Job> {
  const job = await ctx.store.reads.job(id);
  if (!job) throw new NotFoundError(`job ${id} not found`);
  return job;
}

/** how often an open stream sends a keep-alive and looks whether its job still exists */
export const SSE_KEEPALIVE_MS = 5_000;

function send(res: Response, event: string, data: unknown, id?: string): void {
  res.write(`${id ? `id: ${id}\n` : ''}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

export function primeRoutes(ctx: ApiContext): Router {
  const r = Router();
  const takeStream = streamQuota(ctx);

  r.post('/api/count-primes', async (req, res) => {
    const { options, rest: params } = splitOptions(parseInput(countPrimesBody, req.body));
    const { job, existing } = await submitWork(ctx, req, res, {
      type: 'primes',
      params,
      options,
      initiatedBy: ctx.nodeId,
    });
    reply(
      res.location(`/api/jobs/${job.id}`),
      RESPONSES.primesAccepted,
      { job_id: job.id, status: job.state },
      existing ? 200 : 202,
    );
  });

  r.get('/api/jobs/:id', async (req, res) => {
    reply(res, RESPONSES.primeJob, primeJobView(await findJob(ctx, pathJobId(req))));
  });

  r.get('/api/jobs/:id/events', async (req, res) => {
    const id = pathJobId(req);
    let last = primeJobView(await findJob(ctx, id));
    const giveStreamBack = takeStream(res); // a 429 past the token's quota of open streams
    res.status(200).set({
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.flushHeaders();

    let closed = false;
    let unsubscribe = () => {};
    const end = () => {
      if (closed) return;
      closed = true;
      giveStreamBack();
      unsubscribe();
      clearInterval(keepAlive);
      res.end();
    };
    req.on('close', end);

    // changes are queued while a snapshot is read, so their order is kept; a step the store
    // failed is dropped (the next keep-alive's look sends what it missed)
    let chain = Promise.resolve();
    const later = (step: () => Promise<void>) => {
      chain = chain.then(() => (closed ? undefined : step())).catch(() => undefined);
    };
    const onEvent = (e: Pick<JobEvent, 'state' | 'progress'> & { id?: string }) => {
      later(async () => {
        const completed = e.progress?.completed ?? last.progress.completed;
        const total = e.progress?.total ?? last.progress.total;
        const sameTotal = total === last.progress.total;
        if (e.state === last.state && completed === last.progress.completed && sameTotal) return; // nothing new
        if ((sameTotal && completed < last.progress.completed) || isFinal(last.state)) return; // older than what was sent
        const job = isFinal(e.state) ? await ctx.store.reads.job(id) : null;
        if (isFinal(e.state) && !job) return gone();
        const view = job ? primeJobView(job) : { ...last, state: e.state, progress: e.progress ?? last.progress };
        last = view;
        send(res, 'state', view, e.id);
        if (isFinal(view.state)) end();
      });
    };
    const gone = () => {
      send(res, 'gone', {
        job_id: id,
        message: `job ${id} no longer exists (its record expired, or the store lost it)`,
      });
      end();
    };
    // each keep-alive looks at the job: gone, it ends the stream; changed unseen (an event the
    // log dropped), the change is sent. A store that is away only skips the look.
    const keepAlive = setInterval(() => {
      res.write(': keep-alive\n\n');
      later(async () => {
        const job = await ctx.store.reads.job(id).catch(() => undefined);
        if (job === null) gone();
        else if (job) onEvent({ state: job.state, progress: job.progress });
      });
    }, SSE_KEEPALIVE_MS);
    unsubscribe = await ctx.events.subscribe(id, onEvent);
    last = primeJobView(await findJob(ctx, id)); // after subscribing: nothing can fall in between
    send(res, 'state', last);
    if (isFinal(last.state)) end();
  });

  return r;
}
