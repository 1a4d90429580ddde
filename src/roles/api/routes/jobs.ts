/**
 * The generic job record (the one model every feature's view is made from), and the bot batch's
 * job endpoints: the listing, batches on demand (admin), and a bot's claim/start/complete/fail.
 * A bot names itself with its token; only the bot holding a job may move it (409 otherwise).
 */
import { createHash, randomUUID } from 'node:crypto';
import { Router } from 'express';
import { batchJobs, requestedSpec } from '../../../core/batch';
import { ConflictError, NotFoundError, WizardError } from '../../../core/errors';
import { execBotQueues, failTarget } from '../../../core/handlers';
import { iso, Job, jobView } from '../../../core/job';
import {
  claimBody,
  completeBody,
  declareQueueBody,
  failBody,
  listJobsQuery,
  parseInput,
  populateBody,
  queueParams,
  splitOptions,
  submitBody,
} from '../../../core/schemas';
import type { FailTarget } from '../../../store/types';
import { requireAdmin } from '../admin';
import { botIdOf, requireBot } from '../bot-auth';
import { ApiContext, BOT_WORK_DEFAULTS } from '../context';
import { callerOf } from '../access';
import { principalName } from '../../../core/access';
import { pathJobId } from '../ids';
import { optionalBody } from '../errors';
import { reply, RESPONSES } from '../responses';
import { checkParams, idempotencyHeader, submitWork } from '../submit';
import { ownQueues } from '../queues';
import { fingerprint, idempotencyConflict } from '../../../store/common';

/** how long a populate's Idempotency-Key is kept by itself (past that, while its jobs exist, they still answer for it) */
const POPULATE_KEY_TTL_MS = 24 * 60 * 60 * 1000;

/** a keyed batch's name and its jobs' ids (UUID-shaped, from sha256 of the key): the same on every node */
function keyedBatch(key: string, size: number): { batch: string; ids: string[] } {
  const h = (s: string) => createHash('sha256').update(s).digest('hex');
  const uuid = (x: string) =>
    `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
  return {
    batch: `manual-${h(`populate:${key}`).slice(0, 8)}`,
    ids: Array.from({ length: size }, (_, i) => uuid(h(`populate:${key}:${i}`))),
  };
}

/** POST /jobs's answer: what was made (or, a repeated key, the first job as it is now) */
function submittedView(job: Job, existing: boolean) {
  return {
    job_id: job.id,
    status: job.state,
    type: job.type,
    queue: job.queue,
    priority: job.priority,
    run_at: iso(job.runAt),
    idempotency_key: job.idempotencyKey,
    existing,
  };
}

export function jobRoutes(ctx: ApiContext): Router {
  const r = Router();
  const p = ctx.botWork ?? BOT_WORK_DEFAULTS;
  const bot = requireBot(ctx.store);
  const admin = requireAdmin(ctx);

  /**
   * a bot's attempt ended: its run time, from the start it reported (or its claim) to its end, both
   * the store's times (job: the job as the transition left it)
   */
  const observeBotJob = (job: Job, outcome: 'SUCCESS' | FailTarget['to']) => {
    if (job.startedAt === null) return;
    const ms = (job.finishedAt ?? job.updatedAt) - job.startedAt;
    ctx.metrics.prom.jobs.observe(job, ms / 1000, outcome);
    if (outcome === 'SUCCESS') ctx.history?.done(ms);
    else ctx.history?.failed();
  };

  const getJob = async (id: string): Promise<Job> => {
    const job = await ctx.store.reads.job(id);
    if (!job) throw new NotFoundError(`job ${id} not found`);
    return job;
  };

  r.get('/jobs', async (req, res) => {
    const q = parseInput(listJobsQuery, req.query);
    const { total, jobs } = await ctx.store.reads.list({ state: q.status, offset: q.offset, limit: q.limit });
    reply(res, RESPONSES.jobs, {
      total,
      offset: q.offset,
      limit: q.limit,
      status: q.status ?? null,
      jobs: jobs.map(jobView),
    });
  });

  r.post('/jobs', async (req, res) => {
    const body = parseInput(submitBody, req.body);
    const { options, rest } = splitOptions(body);
    const params = checkParams(rest.type, rest.params);
    const { job, existing } = await submitWork(ctx, req, res, {
      type: rest.type,
      params,
      options,
      initiatedBy: ctx.nodeId,
    });
    reply(res.location(`/jobs/${job.id}`), RESPONSES.submitted, submittedView(job, existing), existing ? 200 : 202);
  });

  // a client token cancels the jobs it submitted (a chunk: its count's), an admin token any (an open API: anyone)
  r.post('/jobs/:id/cancel', async (req, res) => {
    const id = pathJobId(req);
    const caller = callerOf(res);
    if (caller && caller.role !== 'admin' && (await getJob(id)).principal !== principalName(caller)) {
      throw new WizardError(
        'forbidden',
        `job ${id} was submitted by another caller: a ${caller.role} token cancels only the jobs it submitted (an admin token cancels any)`,
      );
    }
    reply(res, RESPONSES.job, jobView(await ctx.store.jobs.cancel(id)));
  });

  r.get('/queues', async (_req, res) => {
    reply(res, RESPONSES.queues, { queues: await ctx.store.queues.list() });
  });

  /** a queue as GET /queues lists it (known: declared, paused, or given a job) */
  const queueInfo = async (name: string, paused = false) =>
    (await ctx.store.queues.list()).find((q) => q.name === name) ?? { name, waiting: 0, active: 0, delayed: 0, paused };

  // declare a queue (admin): clients may send jobs to it from now on (queues.ts)
  r.post('/queues', admin, async (req, res) => {
    const { name } = parseInput(declareQueueBody, req.body);
    const known = await ctx.store.queues.isKnown(name);
    if (!known) await ctx.store.queues.declare(name);
    reply(res.location('/queues'), RESPONSES.queue, await queueInfo(name), known ? 200 : 201);
  });

  // forget a queue that holds no job (admin); those this node declares by its settings stay
  r.delete('/queues/:name', admin, async (req, res) => {
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
  });

  for (const action of ['pause', 'resume'] as const) {
    r.post(`/queues/:name/${action}`, admin, async (req, res) => {
      const { name } = parseInput(queueParams, req.params);
      await (action === 'pause' ? ctx.store.queues.pause(name) : ctx.store.queues.resume(name));
      reply(res, RESPONSES.queue, await queueInfo(name, action === 'pause'));
    });
  }

  r.post('/jobs/populate', admin, async (req, res) => {
    const body = parseInput(populateBody, optionalBody(req));
    const spec = requestedSpec(p.batch, body);
    const key = idempotencyHeader(req);
    const caller = callerOf(res);
    /** the batch's jobs, recording who asked for them */
    const made = (batch: string) =>
      batchJobs(spec, batch, ctx.nodeId).map((j) => (caller ? { ...j, principal: principalName(caller) } : j));
    if (key === undefined) {
      const batch = `manual-${randomUUID().slice(0, 8)}`;
      const jobs = await ctx.store.jobs.enqueue(made(batch));
      return reply(
        res,
        RESPONSES.populated,
        { batch, created: jobs.length, type: spec.type, queue: spec.queue, job_ids: jobs.map((j) => j.id) },
        201,
      );
    }
    // with a key, the batch's name and its jobs' ids follow from the key: a repeat finds them.
    // The id after the batch's last tells a longer batch made under the key.
    const { batch, ids: idsAndNext } = keyedBatch(key, spec.size + 1);
    const ids = idsAndNext.slice(0, spec.size);
    const answer = (created: number) => ({ batch, created, type: spec.type, queue: spec.queue, job_ids: ids });
    // the first job, made already: the key was used (while its once-key lapsed, its jobs still say so)
    const first = await ctx.store.reads.job(ids[0]);
    const once = first
      ? null
      : await ctx.store.schedules.enqueueOnce(
          `populate:${batch}`,
          POPULATE_KEY_TTL_MS,
          made(batch).map((j, i) => ({ ...j, id: ids[i] })),
        );
    if (once) return reply(res, RESPONSES.populated, answer(once.length), 201);
    // the key was used: the same batch again is answered with it, another is a 409 naming the key
    const jobs = await Promise.all(idsAndNext.map((id) => ctx.store.reads.job(id)));
    const wanted = fingerprint({ type: spec.type, params: { ...spec.params, batch } });
    const same =
      jobs.slice(0, -1).every((j) => j !== null && j.queue === spec.queue && fingerprint(j) === wanted) &&
      jobs[spec.size] === null;
    if (!same) throw idempotencyConflict(key, ids[0]);
    reply(res, RESPONSES.populated, answer(0), 200);
  });

  r.post('/jobs/claim', bot, async (req, res) => {
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
    reply(res, RESPONSES.claimed, { job: jobView(job), lease_ms: p.botLeaseMs });
  });

  r.get('/jobs/:id', async (req, res) => {
    reply(res, RESPONSES.job, jobView(await getJob(pathJobId(req))));
  });

  r.post('/jobs/:id/start', bot, async (req, res) => {
    const id = pathJobId(req);
    await ctx.store.bots.startJob(botIdOf(res), id);
    reply(res, RESPONSES.job, jobView(await getJob(id)));
  });

  r.post('/jobs/:id/complete', bot, async (req, res) => {
    const id = pathJobId(req);
    const body = parseInput(completeBody, optionalBody(req));
    await ctx.store.bots.completeJob(botIdOf(res), id, body.result ?? null);
    const job = await getJob(id);
    observeBotJob(job, 'SUCCESS');
    reply(res, RESPONSES.job, jobView(job));
  });

  r.post('/jobs/:id/fail', bot, async (req, res) => {
    const body = parseInput(failBody, optionalBody(req));
    const job = await getJob(pathJobId(req));
    const target = failTarget(job, body.permanent === true);
    await ctx.store.bots.failJob(botIdOf(res), job.id, body.error, target);
    const failed = await getJob(job.id);
    observeBotJob({ ...failed, startedAt: job.startedAt }, target.to);
    reply(res, RESPONSES.job, jobView(failed));
  });

  r.get('/jobs/:id/chunks', async (req, res) => {
    const id = pathJobId(req);
    if (!(await ctx.store.reads.job(id))) throw new NotFoundError(`job ${id} not found`);
    reply(res, RESPONSES.chunks, { job_id: id, chunks: (await ctx.store.reads.children(id)).map(jobView) });
  });
  return r;
}
