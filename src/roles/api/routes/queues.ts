/**
 * Queues: the list (waiting, active, delayed, paused), and for admins: declare one, forget one
 * that holds no job, pause and resume. Which queue a job goes to is queues.ts's rule.
 */
import { ConflictError, NotFoundError } from '../../../core/errors';
import { declareQueueBody, parseInput, queueParams } from '../../../core/schemas';
import type { ApiContext } from '../context';
import { ownQueues } from '../queues';
import { reply, RESPONSES } from '../responses';
import { LOCATION, type Route } from '../route';

/** a queue as GET /queues lists it (known: declared, paused, or given a job) */
const queueInfo = async (ctx: ApiContext, name: string, paused = false) =>
  (await ctx.store.queues.list()).find((q) => q.name === name) ?? { name, waiting: 0, active: 0, delayed: 0, paused };

const nameParam = { name: queueParams.shape.name };

export const queueRoutes: Route[] = [
  {
    method: 'GET',
    path: '/queues',
    need: 'read',
    tag: 'jobs',
    summary: 'every queue: waiting, active, delayed, paused',
    ok: { 200: { description: 'the queues', json: 'queues' } },
    handler: (ctx) => async (_req, res) => {
      reply(res, RESPONSES.queues, { queues: await ctx.store.queues.list() });
    },
  },
  {
    method: 'POST',
    path: '/queues',
    need: 'admin',
    tag: 'jobs',
    summary:
      'declare a queue (admin): clients may send jobs to it (a type with a queue of its own still goes there; never the bot queue)',
    body: declareQueueBody,
    ok: {
      201: { description: 'declared', json: 'queue', headers: LOCATION },
      200: { description: 'it was declared already', json: 'queue', headers: LOCATION },
    },
    handler: (ctx) => async (req, res) => {
      const { name } = parseInput(declareQueueBody, req.body);
      const known = await ctx.store.queues.isKnown(name);
      if (!known) await ctx.store.queues.declare(name);
      reply(res.location('/queues'), RESPONSES.queue, await queueInfo(ctx, name), known ? 200 : 201);
    },
  },
  {
    method: 'DELETE',
    path: '/queues/:name',
    need: 'admin',
    tag: 'jobs',
    summary: 'forget a queue that holds no job (admin)',
    params: nameParam,
    ok: { 204: { description: 'forgotten' } },
    errors: {
      404: 'not a declared queue',
      409: "it holds jobs, or this node's settings declare it (default, the bot queue, a --handlers type's, --queues)",
    },
    // those this node declares by its settings stay
    handler: (ctx) => async (req, res) => {
      const { name } = parseInput(queueParams, req.params);
      if (ownQueues(ctx).includes(name))
        throw new ConflictError(
          `queue ${name} is declared by this API node's settings (default, the bot queue, a --handlers type's queue, --queues): it stays`,
        );
      const removed = await ctx.store.queues.remove(name);
      if (removed === 'unknown') throw new NotFoundError(`queue ${name} is not declared`);
      if (removed === 'busy')
        throw new ConflictError(
          `queue ${name} holds jobs (waiting, delayed or running): cancel them or let them finish first`,
        );
      res.status(204).end();
    },
  },
  ...(['pause', 'resume'] as const).map((action): Route => ({
    method: 'POST',
    path: `/queues/:name/${action}`,
    need: 'admin',
    tag: 'jobs',
    summary:
      action === 'pause'
        ? 'pause a queue: no new work to workers or bots; running jobs finish'
        : 'resume a paused queue',
    params: nameParam,
    ok: { 200: { description: 'the queue', json: 'queue' } },
    handler: (ctx) => async (req, res) => {
      const { name } = parseInput(queueParams, req.params);
      await (action === 'pause' ? ctx.store.queues.pause(name) : ctx.store.queues.resume(name));
      reply(res, RESPONSES.queue, await queueInfo(ctx, name, action === 'pause'));
    },
  })),
];
