/**
 * The bots: register (a bot id and a token, shown once), heartbeat, deregister, the list,
 * DELETE /bots/:id for admins, and a bot's work: claim a job, start, complete or fail it. A bot
 * names itself with its token; only the bot holding a job may move it (409 otherwise). A bot's
 * job is leased for botLeaseMs (BOT_DOWN_AFTER_MS) and each heartbeat renews it, so the job lives
 * exactly as long as the bot is seen alive.
 */
import { RATE_LIMITED_HOLD_MS } from '../../../core/defaults';
import { hashToken, newBotCredentials } from '../../../core/bots';
import { botView } from '../views';
import { NotFoundError, UnknownBotError, WizardError } from '../../../core/errors';
import { execBotQueues, failTarget } from '../../../core/handlers';
import { Job } from '../../../core/job';
import { jobView } from '../views';
import { readTrace } from '../../../util/tracing';
import { claimBody, completeBody, failBody, parseInput, registerBotBody } from '../../../core/schemas';
import { botIdParam } from '../../../core/ids';
import type { FailTarget } from '../../../store/types';
import { botIdOf } from '../bot-auth';
import { BOT_WORK_DEFAULTS, type ApiContext } from '../context';
import { pathBotId, pathJobId } from '../ids';
import { optionalBody } from '../error-responses';
import { reply, RESPONSES } from '../responses';
import type { Route } from '../route';
import { getJob } from './jobs';

const botWork = (ctx: ApiContext) => ctx.botWork ?? BOT_WORK_DEFAULTS;

/**
 * a bot's attempt ended: its run time, from the start it reported (or its claim) to its end, both
 * the store's times (job: the job as the transition left it)
 */
function observeBotJob(ctx: ApiContext, job: Job, outcome: 'SUCCESS' | FailTarget['to']): void {
  if (job.startedAt === null) return;
  const ms = (job.finishedAt ?? job.updatedAt) - job.startedAt;
  ctx.metrics.prom.jobs.observe(job, ms / 1000, outcome);
  if (outcome === 'SUCCESS') ctx.history?.done(ms);
  else ctx.history?.failed();
}

const NOT_HELD = { 404: 'unknown job', 409: 'the bot does not hold this job' };

export const botRoutes: Route[] = [
  {
    method: 'POST',
    path: '/bots/register',
    need: 'register',
    tag: 'bots',
    summary: 'register a bot: its id and token (shown once); not an admin route',
    body: registerBotBody,
    bodyOptional: true,
    ok: { 201: { description: 'the bot and its token', json: 'registered' } },
    handler: (ctx) => async (req, res) => {
      const body = parseInput(registerBotBody, optionalBody(req));
      const { id, token } = newBotCredentials();
      const registered = await ctx.store.bots.register(id, body.name ?? id, hashToken(token));
      reply(res, RESPONSES.registered, { ...botView(registered), token, lease_ms: botWork(ctx).botLeaseMs }, 201);
    },
  },
  {
    method: 'POST',
    path: '/bots/heartbeat',
    need: 'bot',
    tag: 'bots',
    summary: "the bot is alive; renews its job's lease",
    ok: { 200: { description: "the bot's record", json: 'bot' } },
    handler: (ctx) => async (_req, res) => {
      const seen = await ctx.store.bots.heartbeat(botIdOf(res), botWork(ctx).botLeaseMs);
      ctx.metrics.prom.botHeartbeats.inc();
      if (!seen) throw new UnknownBotError();
      reply(res, RESPONSES.bot, botView(seen));
    },
  },
  {
    method: 'POST',
    path: '/bots/deregister',
    need: 'bot',
    tag: 'bots',
    summary: 'the bot leaves; its job goes back to the queue',
    ok: { 204: { description: 'gone' } },
    // a bot leaving (on SIGTERM): the job it holds goes back to the queue
    handler: (ctx) => async (_req, res) => {
      await ctx.store.bots.remove(botIdOf(res));
      res.status(204).end();
    },
  },
  {
    method: 'DELETE',
    path: '/bots/:id',
    need: 'admin',
    tag: 'bots',
    summary: 'remove a bot; its job goes back to the queue',
    params: { id: botIdParam },
    ok: { 204: { description: 'removed' } },
    errors: { 404: 'unknown bot' },
    handler: (ctx) => async (req, res) => {
      const id = pathBotId(req);
      if (!(await ctx.store.bots.remove(id))) throw new NotFoundError(`bot ${id} not found`);
      res.status(204).end();
    },
  },
  {
    method: 'GET',
    path: '/bots',
    need: 'read',
    tag: 'bots',
    summary: 'the bots, up and down',
    ok: { 200: { description: 'the bots', json: 'bots' } },
    handler: (ctx) => async (_req, res) => {
      const bots = await ctx.store.bots.list();
      const up = bots.filter((b) => b.status === 'up').length;
      reply(res, RESPONSES.bots, { total: bots.length, up, down: bots.length - up, bots: bots.map(botView) });
    },
  },
  {
    method: 'POST',
    path: '/jobs/claim',
    need: 'bot',
    tag: 'bots',
    summary: 'take one job from the bot queue, or (a bot with --exec) from the queue of a --handlers type with no run',
    body: claimBody,
    bodyOptional: true,
    ok: { 200: { description: 'the job and its lease', json: 'claimed' }, 204: { description: 'no job waiting' } },
    errors: { 409: 'the bot already holds a job' },
    handler: (ctx) => async (req, res) => {
      const p = botWork(ctx);
      const body = parseInput(claimBody, optionalBody(req));
      // a bot takes work from the bot queue, or (a bot with --exec) a queue of a --handlers type with no run:
      // not math tasks or prime chunks on the workers' queues, whose results it could forge
      const queues = [p.botQueue, ...execBotQueues()];
      const queue = body.queue ?? p.botQueue;
      if (!queues.includes(queue)) {
        const allowed = queues.map((q) => `'${q}'`).join(', ');
        throw new WizardError(
          'forbidden',
          `bots claim from the bot queue '${p.botQueue}' or a queue of a --handlers type with no run, not '${queue}'`,
          [{ field: 'queue', message: `must be one of ${allowed}` }],
        );
      }
      const job = await ctx.store.bots.claim(botIdOf(res), queue, p.botLeaseMs);
      if (!job) {
        res.status(204).end();
        return;
      }
      // the trace context the job keeps, for the bot's span (and its command's TRACEPARENT) to continue
      const trace = readTrace(job.trace);
      if (trace) res.set('traceparent', trace.traceparent);
      if (trace?.tracestate) res.set('tracestate', trace.tracestate);
      reply(res, RESPONSES.claimed, { job: jobView(job), lease_ms: p.botLeaseMs });
    },
  },
  {
    method: 'POST',
    path: '/jobs/:id/start',
    need: 'bot',
    tag: 'bots',
    summary: 'the bot starts its job',
    ok: { 200: { description: 'the job, now PROGRESS', json: 'job' } },
    errors: NOT_HELD,
    handler: (ctx) => async (req, res) => {
      const id = pathJobId(req);
      await ctx.store.bots.startJob(botIdOf(res), id);
      reply(res, RESPONSES.job, jobView(await getJob(ctx, id)));
    },
  },
  {
    method: 'POST',
    path: '/jobs/:id/complete',
    need: 'bot',
    tag: 'bots',
    summary: 'the bot reports a result',
    body: completeBody,
    bodyOptional: true,
    ok: { 200: { description: 'the job, now SUCCESS', json: 'job' } },
    errors: NOT_HELD,
    handler: (ctx) => async (req, res) => {
      const id = pathJobId(req);
      const body = parseInput(completeBody, optionalBody(req));
      await ctx.store.bots.completeJob(botIdOf(res), id, body.result ?? null);
      const job = await getJob(ctx, id);
      observeBotJob(ctx, job, 'SUCCESS');
      reply(res, RESPONSES.job, jobView(job));
    },
  },
  {
    method: 'POST',
    path: '/jobs/:id/fail',
    need: 'bot',
    tag: 'bots',
    summary: 'the bot reports a failure (code rate_limited: back to waiting, the attempt not counted)',
    body: failBody,
    ok: { 200: { description: 'the job: RETRY, FAILURE or DEAD (PENDING when rate_limited)', json: 'job' } },
    errors: NOT_HELD,
    handler: (ctx) => async (req, res) => {
      const body = parseInput(failBody, optionalBody(req));
      const job = await getJob(ctx, pathJobId(req));
      if (body.code === 'rate_limited') {
        // the bot's command met the limit of what it calls (docs/flow-control.md "Rate limits")
        await ctx.store.bots.holdJob(botIdOf(res), job.id, body.retry_after_ms ?? RATE_LIMITED_HOLD_MS);
        return reply(res, RESPONSES.job, jobView(await getJob(ctx, job.id)));
      }
      const target = failTarget(job, body.permanent === true);
      await ctx.store.bots.failJob(botIdOf(res), job.id, body.error, target);
      const failed = await getJob(ctx, job.id);
      observeBotJob(ctx, { ...failed, startedAt: job.startedAt }, target.to);
      reply(res, RESPONSES.job, jobView(failed));
    },
  },
];
