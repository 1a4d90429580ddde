/**
 * Groups, concurrency and rate limits (docs/flow-control.md): GET and PUT (admin) a queue's limits and
 * one group's own. A field left out of a PUT stays; null removes that limit.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import { NotFoundError } from '../../../core/errors';
import { groupLimitsBody, groupParams, parseInput, queueLimitsBody, queueParams } from '../../../core/schemas';
import type { GroupInfo, Rate } from '../../../store/concerns';
import type { ApiContext } from '../context';
import { reply, RESPONSES } from '../responses';
import type { Route } from '../route';

/** how many groups GET /queues/:name/limits shows (the busiest) */
export const BUSIEST_SHOWN = 10;

/** how many groups of each queue /metrics labels (the busiest): the label set stays bounded */
export const GROUP_SERIES = 5;

/** what held a claim back: wizard_jobs_held_back_total's limit label */
const HELD_BY = ['concurrency', 'rate'] as const;
type HeldBy = (typeof HELD_BY)[number];

/** a rate as the API shows and takes it */
const rateView = (r: Rate | null) => (r ? { max: r.max, per_ms: r.perMs } : null);
const rateIn = (r: { max: number; per_ms: number } | null | undefined): Rate | null | undefined =>
  r ? { max: r.max, perMs: r.per_ms } : r;

/**
 * /metrics' series of the limits, read from the store at scrape time: each queue's claims held
 * back by a limit (a counter), and its busiest few groups' waiting and running jobs
 */
export function groupMetrics(ctx: ApiContext, registry: Registry): (queues: string[]) => Promise<void> {
  let held: { queue: string; limit: HeldBy; n: number }[] = [];
  new Counter({
    name: 'wizard_jobs_held_back_total',
    help: "claims held back by a limit, per queue: concurrency (the queue's or a group's), rate (a rate or a handler's rate_limited hold)",
    labelNames: ['queue', 'limit'],
    registers: [registry],
    collect() {
      this.reset();
      for (const h of held) this.inc({ queue: h.queue, limit: h.limit }, h.n);
    },
  });
  const groups = new Gauge({
    name: 'wizard_group_jobs',
    help: `waiting and running jobs of each queue's ${GROUP_SERIES} busiest groups`,
    labelNames: ['queue', 'group', 'status'],
    registers: [registry],
  });
  return async (queues) => {
    const kinds = queues.flatMap((queue) => HELD_BY.map((limit) => ({ queue, limit })));
    const [counts, busiest] = await Promise.all([
      Promise.all(kinds.map((k) => ctx.store.groups.heldBack(k.queue, k.limit))),
      Promise.all(queues.map((q) => ctx.store.groups.busiest(q, GROUP_SERIES))),
    ]);
    held = kinds.map((k, i) => ({ ...k, n: counts[i] }));
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
  const [limits, heldBack, heldBackRate, groups] = await Promise.all([
    ctx.store.groups.limits(queue),
    ctx.store.groups.heldBack(queue),
    ctx.store.groups.heldBack(queue, 'rate'),
    ctx.store.groups.busiest(queue, BUSIEST_SHOWN),
  ]);
  return {
    queue,
    concurrency: limits.concurrency,
    group_concurrency: limits.groupConcurrency,
    rate: rateView(limits.rate),
    group_rate: rateView(limits.groupRate),
    held_back: heldBack,
    held_back_rate: heldBackRate,
    groups: groups.map((g) => ({ ...g, rate: rateView(g.rate) })),
  };
};
const groupView = (queue: string, g: GroupInfo) => ({ queue, ...g, rate: rateView(g.rate) });

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
    summary:
      "set a queue's concurrency, group_concurrency, rate and group_rate (admin): a field left out stays, null removes it",
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
        ...(body.rate !== undefined ? { rate: rateIn(body.rate) } : {}),
        ...(body.group_rate !== undefined ? { groupRate: rateIn(body.group_rate) } : {}),
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
    summary:
      "set one group's own concurrency and rate (admin), overriding the queue's group_concurrency and group_rate; null removes one",
    params: groupParam,
    body: groupLimitsBody,
    ok: { 200: { description: 'the group now', json: 'groupLimits' } },
    errors: { 404: 'not a declared queue' },
    handler: (ctx) => async (req, res) => {
      const { name, group } = parseInput(groupParams, req.params);
      const body = parseInput(groupLimitsBody, req.body);
      await known(ctx, name);
      const g = await ctx.store.groups.setGroupLimit(name, group, {
        ...(body.concurrency !== undefined ? { concurrency: body.concurrency } : {}),
        ...(body.rate !== undefined ? { rate: rateIn(body.rate) } : {}),
      });
      reply(res, RESPONSES.groupLimits, groupView(name, g));
    },
  },
];
