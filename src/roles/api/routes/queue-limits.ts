/**
 * Groups and concurrency limits (docs/flow-control.md): GET and PUT (admin) a queue's limits and
 * one group's own. A field left out of a PUT stays; null removes that limit.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import { NotFoundError } from '../../../core/errors';
import { groupLimitsBody, groupParams, parseInput, queueLimitsBody, queueParams } from '../../../core/schemas';
import type { GroupInfo } from '../../../store/concerns';
import type { ApiContext } from '../context';
import { reply, RESPONSES } from '../responses';
import type { Route } from '../route';

/** how many groups GET /queues/:name/limits shows (the busiest) */
export const BUSIEST_SHOWN = 10;

/** how many groups of each queue /metrics labels (the busiest): the label set stays bounded */
export const GROUP_SERIES = 5;

/**
 * /metrics' series of the limits, read from the store at scrape time: each queue's claims held
 * back by a limit (a counter), and its busiest few groups' waiting and running jobs
 */
export function groupMetrics(ctx: ApiContext, registry: Registry): (queues: string[]) => Promise<void> {
  let held: { queue: string; n: number }[] = [];
  new Counter({
    name: 'wizard_jobs_held_back_total',
    help: 'claims held back by a concurrency limit (of the queue or of a group), per queue',
    labelNames: ['queue', 'limit'],
    registers: [registry],
    collect() {
      this.reset();
      for (const h of held) this.inc({ queue: h.queue, limit: 'concurrency' }, h.n);
    },
  });
  const groups = new Gauge({
    name: 'wizard_group_jobs',
    help: `waiting and running jobs of each queue's ${GROUP_SERIES} busiest groups`,
    labelNames: ['queue', 'group', 'status'],
    registers: [registry],
  });
  return async (queues) => {
    const [counts, busiest] = await Promise.all([
      Promise.all(queues.map((q) => ctx.store.groups.heldBack(q))),
      Promise.all(queues.map((q) => ctx.store.groups.busiest(q, GROUP_SERIES))),
    ]);
    held = queues.map((queue, i) => ({ queue, n: counts[i] }));
    groups.reset();
    queues.forEach((queue, i) => {
      for (const g of busiest[i]) {
        groups.set({ queue, group: g.group, status: 'waiting' }, g.waiting);
        groups.set({ queue, group: g.group, status: 'running' }, g.running);
      }
    });
  };
}

const nameParam = { name: queueParams.shape.name };
const groupParam = { name: groupParams.shape.name, group: groupParams.shape.group };

const known = async (ctx: ApiContext, queue: string) => {
  if (!(await ctx.store.queues.isKnown(queue))) throw new NotFoundError(`queue ${queue} is not declared`);
};
/** GET /queues/:name/limits's answer */
const queueView = async (ctx: ApiContext, queue: string) => {
  const [limits, heldBack, groups] = await Promise.all([
    ctx.store.groups.limits(queue),
    ctx.store.groups.heldBack(queue),
    ctx.store.groups.busiest(queue, BUSIEST_SHOWN),
  ]);
  return {
    queue,
    concurrency: limits.concurrency,
    group_concurrency: limits.groupConcurrency,
    held_back: heldBack,
    groups,
  };
};
const groupView = (queue: string, g: GroupInfo) => ({ queue, ...g });

export const queueLimitRoutes: Route[] = [
  {
    method: 'GET',
    path: '/queues/:name/limits',
    need: 'read',
    tag: 'jobs',
    summary: "a queue's limits, how often they held a claim back, and its busiest groups (docs/flow-control.md)",
    params: nameParam,
    ok: { 200: { description: 'the limits', json: 'queueLimits' } },
    errors: { 404: 'not a declared queue' },
    handler: (ctx) => async (req, res) => {
      const { name } = parseInput(queueParams, req.params);
      await known(ctx, name);
      reply(res, RESPONSES.queueLimits, await queueView(ctx, name));
    },
  },
  {
    method: 'PUT',
    path: '/queues/:name/limits',
    need: 'admin',
    tag: 'jobs',
    summary: "set a queue's concurrency and group_concurrency (admin): a field left out stays, null removes it",
    params: nameParam,
    body: queueLimitsBody,
    ok: { 200: { description: 'the limits now', json: 'queueLimits' } },
    errors: { 404: 'not a declared queue' },
    handler: (ctx) => async (req, res) => {
      const { name } = parseInput(queueParams, req.params);
      const body = parseInput(queueLimitsBody, req.body);
      await known(ctx, name);
      await ctx.store.groups.setLimits(name, {
        ...(body.concurrency !== undefined ? { concurrency: body.concurrency } : {}),
        ...(body.group_concurrency !== undefined ? { groupConcurrency: body.group_concurrency } : {}),
      });
      reply(res, RESPONSES.queueLimits, await queueView(ctx, name));
    },
  },
  {
    method: 'GET',
    path: '/queues/:name/groups/:group/limits',
    need: 'read',
    tag: 'jobs',
    summary: "one group's own limit and its waiting and running jobs",
    params: groupParam,
    ok: { 200: { description: 'the group', json: 'groupLimits' } },
    errors: { 404: 'not a declared queue' },
    handler: (ctx) => async (req, res) => {
      const { name, group } = parseInput(groupParams, req.params);
      await known(ctx, name);
      reply(res, RESPONSES.groupLimits, groupView(name, await ctx.store.groups.group(name, group)));
    },
  },
  {
    method: 'PUT',
    path: '/queues/:name/groups/:group/limits',
    need: 'admin',
    tag: 'jobs',
    summary: "set one group's own concurrency (admin), overriding the queue's group_concurrency; null removes it",
    params: groupParam,
    body: groupLimitsBody,
    ok: { 200: { description: 'the group now', json: 'groupLimits' } },
    errors: { 404: 'not a declared queue' },
    handler: (ctx) => async (req, res) => {
      const { name, group } = parseInput(groupParams, req.params);
      const body = parseInput(groupLimitsBody, req.body);
      await known(ctx, name);
      const g =
        body.concurrency === undefined
          ? await ctx.store.groups.group(name, group)
          : await ctx.store.groups.setGroupLimit(name, group, body.concurrency);
      reply(res, RESPONSES.groupLimits, groupView(name, g));
    },
  },
];
