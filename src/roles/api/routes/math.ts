/** The math tasks: identity, sync /add, async /task with identity tracking, /valkey_test. */
import os from 'node:os';
import { Router } from 'express';
import { NotFoundError } from '../../../core/errors';
import { taskStatusView } from '../../../core/job';
import { compute } from '../../../core/math';
import { addQuery, parseInput, splitOptions, taskBody } from '../../../core/schemas';
import { adminConfigured } from '../admin';
import type { ApiContext } from '../context';
import { pathJobId } from '../ids';
import { reply, RESPONSES } from '../responses';
import { submitWork } from '../submit';

export function mathRoutes(ctx: ApiContext): Router {
  const r = Router();

  r.get('/whoami', (_req, res) => {
    // admin: whether admin routes can be used here at all (the dashboard greys its admin actions out), never the token
    reply(res, RESPONSES.whoami, {
      node_id: ctx.nodeId,
      container_id: os.hostname(),
      hostname: os.hostname(),
      pid: process.pid,
      role: 'api',
      admin: adminConfigured(ctx) ? 'configured' : 'not configured',
    });
  });

  r.get('/add', (req, res) => {
    const q = parseInput(addQuery, req.query);
    reply(res, RESPONSES.add, { a: q.a, b: q.b, op: q.op, result: compute(q), handled_by: ctx.nodeId });
  });

  r.post('/task', async (req, res) => {
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
  });

  r.get('/tasks/:id/status', async (req, res) => {
    const id = pathJobId(req, 'task');
    const job = await ctx.store.reads.check(id, ctx.nodeId);
    if (!job) throw new NotFoundError(`task ${id} not found`);
    reply(res, RESPONSES.taskStatus, taskStatusView(job));
  });

  r.get('/valkey_test', async (_req, res) => {
    const info = await ctx.store.server.ping();
    reply(res, RESPONSES.valkeyTest, {
      status: 'ok',
      node_id: ctx.nodeId,
      store: ctx.store.kind,
      url: ctx.store.location,
      ...info,
    });
  });

  return r;
}
