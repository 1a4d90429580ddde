/**
 * The seeds' own paths, kept as they were: the math tasks (/whoami, sync /add, async /task with
 * identity tracking, /tasks/:id/status, /valkey_test) and the chunked prime count
 * (/api/count-primes, /api/jobs/:id and its event stream). Each is also reachable through the
 * generic routes (POST /jobs, GET /jobs/:id); these answer in the seeds' shapes.
 *
 * POST /api/count-primes makes a parent job and one chunk job per range in one atomic step; the
 * last chunk completes the parent (a chord in the store). GET /api/jobs/:id/events streams every
 * state and progress change (SSE), closing after the final state; a job that no longer exists
 * (its record expired, Redis restarted empty) ends the stream with a last `gone` event, found by
 * a look at the job with each keep-alive.
 */
import os from 'node:os';
import type { Response } from 'express';
import { NotFoundError } from '../../../core/errors';
import { isFinal, iso } from '../../../core/job';
import { primeJobView, taskStatusView } from '../views';
import { compute } from '../../../core/math';
import { addQuery, countPrimesBody, parseInput, splitOptions, taskBody } from '../../../core/schemas';
import type { JobEvent } from '../../../store/types';
import { adminConfigured } from '../admin';
import { pathJobId } from '../ids';
import { streamQuota } from '../quotas';
import { reply, RESPONSES } from '../responses';
import { KEY_CONFLICT, LOCATION, REPEATED, type Route } from '../route';
import { submitWork } from '../submit';
import { getJob } from './jobs';

/** how often an open stream sends a keep-alive and looks whether its job still exists */
export const SSE_KEEPALIVE_MS = 5_000;

/** a 200 of Server-Sent Events, its headers sent now (no proxy buffers it) */
export function startEventStream(res: Response): void {
  res.status(200).set({
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  res.flushHeaders();
}

export function send(res: Response, event: string, data: unknown, id?: string): void {
  res.write(`${id ? `id: ${id}\n` : ''}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

export const compatRoutes: Route[] = [
  {
    method: 'GET',
    path: '/whoami',
    need: 'read',
    tag: 'math',
    summary: 'the node that answers, and whether it has an admin token configured',
    store: false,
    ok: { 200: { description: 'this node', json: 'whoami' } },
    // admin: whether admin routes can be used here at all (the dashboard greys its admin actions out), never the token
    handler: (ctx) => (_req, res) => {
      reply(res, RESPONSES.whoami, {
        node_id: ctx.nodeId,
        container_id: os.hostname(),
        hostname: os.hostname(),
        pid: process.pid,
        role: 'api',
        admin: adminConfigured(ctx) ? 'configured' : 'not configured',
      });
    },
  },
  {
    method: 'GET',
    path: '/add',
    need: 'read',
    tag: 'math',
    summary: 'compute a op b at once (synchronous); a result that is not a finite number is a 400 naming result',
    store: false,
    query: addQuery,
    ok: { 200: { description: 'the result', json: 'add' } },
    handler: (ctx) => (req, res) => {
      const q = parseInput(addQuery, req.query);
      reply(res, RESPONSES.add, { a: q.a, b: q.b, op: q.op, result: compute(q), handled_by: ctx.nodeId });
    },
  },
  {
    method: 'POST',
    path: '/task',
    need: 'submit',
    tag: 'math',
    summary:
      'queue a math task (with optional job options: queue, delay_ms or run_at, priority, idempotency_key, attempts, timeout_ms)',
    body: taskBody,
    idempotent: true,
    ok: {
      202: { description: 'queued', json: 'taskAccepted', headers: LOCATION },
      200: { description: REPEATED, json: 'taskAccepted', headers: LOCATION },
    },
    errors: { 409: KEY_CONFLICT },
    handler: (ctx) => async (req, res) => {
      const { options, rest: params } = splitOptions(parseInput(taskBody, req.body));
      const { job, existing } = await submitWork(ctx, req, res, {
        type: 'task',
        params,
        options,
        initiatedBy: ctx.nodeId,
      });
      // a repeated key: the first job's id and state, 200
      reply(
        res.location(`/tasks/${job.id}/status`),
        RESPONSES.taskAccepted,
        { task_id: job.id, status: job.state, initiated_by: job.initiatedBy ?? ctx.nodeId },
        existing ? 200 : 202,
      );
    },
  },
  {
    method: 'GET',
    path: '/tasks/:id/status',
    need: 'read',
    tag: 'math',
    summary: "a task's status with initiated_by, checked_by, handled_by",
    ok: { 200: { description: 'the task', json: 'taskStatus' } },
    errors: { 404: 'unknown task' },
    handler: (ctx) => async (req, res) => {
      const id = pathJobId(req, 'task');
      const job = await ctx.store.reads.check(id, ctx.nodeId);
      if (!job) throw new NotFoundError(`task ${id} not found`);
      reply(res, RESPONSES.taskStatus, taskStatusView(job));
    },
  },
  {
    method: 'GET',
    path: '/valkey_test',
    need: 'read',
    tag: 'math',
    summary: 'store connectivity',
    ok: { 200: { description: 'the store answered', json: 'valkeyTest' } },
    handler: (ctx) => async (_req, res) => {
      const info = await ctx.store.server.ping();
      reply(res, RESPONSES.valkeyTest, {
        status: 'ok',
        node_id: ctx.nodeId,
        store: ctx.store.kind,
        url: ctx.store.location,
        ...info,
      });
    },
  },
  {
    method: 'POST',
    path: '/api/count-primes',
    need: 'submit',
    tag: 'primes',
    summary: 'count the primes up to n in chunks (with optional job options, as POST /task)',
    body: countPrimesBody,
    idempotent: true,
    ok: {
      202: { description: 'queued', json: 'primesAccepted', headers: LOCATION },
      200: { description: REPEATED, json: 'primesAccepted', headers: LOCATION },
    },
    errors: { 409: KEY_CONFLICT },
    handler: (ctx) => async (req, res) => {
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
    },
  },
  {
    method: 'GET',
    path: '/api/jobs/:id',
    need: 'read',
    tag: 'primes',
    summary: 'a prime count: state, progress, result',
    ok: { 200: { description: 'the count', json: 'primeJob' } },
    errors: { 404: 'unknown job' },
    handler: (ctx) => async (req, res) => {
      reply(res, RESPONSES.primeJob, primeJobView(await getJob(ctx, pathJobId(req))));
    },
  },
  {
    method: 'GET',
    path: '/api/jobs/:id/events',
    need: 'read',
    tag: 'primes',
    summary: 'every state and progress change (Server-Sent Events)',
    ok: {
      200: {
        description:
          'an event stream (event: state, data: the count as GET /api/jobs/{id} answers it), closed after the final state',
        content: { 'text/event-stream': null },
      },
    },
    errors: { 404: 'unknown job' },
    handler: (ctx) => {
      const takeStream = streamQuota(ctx);
      return async (req, res) => {
        const id = pathJobId(req);
        let last = primeJobView(await getJob(ctx, id));
        const giveStreamBack = takeStream(res); // a 429 past the token's quota of open streams
        startEventStream(res);

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
        const onEvent = (e: Pick<JobEvent, 'state' | 'progress'> & Partial<Pick<JobEvent, 'id' | 'at' | 'result'>>) => {
          later(async () => {
            const completed = e.progress?.completed ?? last.progress.completed;
            const total = e.progress?.total ?? last.progress.total;
            const sameTotal = total === last.progress.total;
            if (e.state === last.state && completed === last.progress.completed && sameTotal) return; // nothing new
            if ((sameTotal && completed < last.progress.completed) || isFinal(last.state)) return; // older than what was sent
            // a SUCCESS event that carries its result needs no read of the record (JobEvent.result)
            const carried = e.state === 'SUCCESS' && e.result !== undefined && e.at !== undefined;
            const job = isFinal(e.state) && !carried ? await ctx.store.reads.job(id) : null;
            if (isFinal(e.state) && !carried && !job) return gone();
            const view = job
              ? primeJobView(job)
              : carried
                ? {
                    ...last,
                    state: e.state,
                    progress: e.progress ?? last.progress,
                    result: e.result as typeof last.result,
                    finished_at: iso(e.at!),
                  }
                : { ...last, state: e.state, progress: e.progress ?? last.progress };
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
        last = primeJobView(await getJob(ctx, id)); // after subscribing: nothing can fall in between
        send(res, 'state', last);
        if (isFinal(last.state)) end();
      };
    },
  },
];
