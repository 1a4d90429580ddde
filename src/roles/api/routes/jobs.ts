/**
 * Jobs: the generic job record (the one model every feature's view is made from), made of any
 * type (POST /jobs), listed, read, cancelled, retried (admin), and batches on demand (admin).
 * A bot's claim, start, complete and fail are in bots.ts.
 */
import { createHash, randomUUID } from 'node:crypto';
import { batchJobs, requestedSpec } from '../../../core/batch';
import { ConflictError, NotFoundError, WizardError } from '../../../core/errors';
import { uuidShaped } from '../../../core/ids';
import { iso, Job } from '../../../core/job';
import { jobView } from '../views';
import {
  bulkBody,
  listJobsQuery,
  MAX_BULK_JOBS,
  parseInput,
  populateBody,
  splitOptions,
  submitBody,
} from '../../../core/schemas';
import { principalName } from '../../../core/tokens';
import { BOT_WORK_DEFAULTS, type ApiContext } from '../context';
import { callerOf } from '../caller';
import { pathJobId } from '../ids';
import { optionalBody } from '../error-responses';
import { reply, RESPONSES } from '../responses';
import { bulkJobError, checkParams, idempotencyHeader, submitBulk, submitWork } from '../submit';
import { fingerprint, idempotencyConflict } from '../../../store/common';
import { BULK_BODY_LIMIT, KEY_CONFLICT, LOCATION, REPEATED, type Route } from '../route';

/** how long a populate's Idempotency-Key is kept by itself (past that, while its jobs exist, they still answer for it) */
const POPULATE_KEY_TTL_MS = 24 * 60 * 60 * 1000;

/** a keyed batch's name and its jobs' ids (UUID-shaped, from sha256 of the key): the same on every node */
function keyedBatch(key: string, size: number): { batch: string; ids: string[] } {
  const h = (s: string) => createHash('sha256').update(s).digest('hex');
  return {
    batch: `manual-${h(`populate:${key}`).slice(0, 8)}`,
    ids: Array.from({ length: size }, (_, i) => uuidShaped(h(`populate:${key}:${i}`))),
  };
}

/** POST /jobs's answer: what was made (or, a repeated key or a window's, the first job as it is now) */
function submittedView(job: Job, existing: boolean, deduplicated: boolean) {
  return {
    job_id: job.id,
    status: job.state,
    type: job.type,
    queue: job.queue,
    priority: job.priority,
    run_at: iso(job.runAt),
    idempotency_key: job.idempotencyKey,
    existing,
    deduplicated,
    ...(job.group ? { group: job.group } : {}),
    ...(job.dedupe ? { dedupe: job.dedupe } : {}),
  };
}

type LogEntry = {
  at: string;
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string;
  fields?: Record<string, unknown>;
};

/** a line of a job's log as written (user-run.ts jobLogger); one cut short at 1 kB is its text, as info */
function logEntry(line: string): LogEntry {
  try {
    const v = JSON.parse(line) as LogEntry;
    if (
      v &&
      typeof v.msg === 'string' &&
      typeof v.at === 'string' &&
      ['debug', 'info', 'warn', 'error'].includes(v.level)
    )
      return v;
  } catch {
    // cut short: not JSON any more
  }
  return { at: '', level: 'info', msg: line };
}

/** a job by id, or a 404 */
export async function getJob(ctx: ApiContext, id: string): Promise<Job> {
  const job = await ctx.store.reads.job(id);
  if (!job) throw new NotFoundError(`job ${id} not found`);
  return job;
}

export const jobRoutes: Route[] = [
  {
    method: 'GET',
    path: '/jobs',
    need: 'read',
    tag: 'jobs',
    summary:
      "the jobs, newest first; by state, type and queue (filtered by type or queue: among each index's 5000 newest, partial when it holds more)",
    query: listJobsQuery,
    ok: { 200: { description: 'a page of jobs', json: 'jobs' } },
    handler: (ctx) => async (req, res) => {
      const q = parseInput(listJobsQuery, req.query);
      const { total, jobs, partial } = await ctx.store.reads.list({
        state: q.status,
        type: q.type,
        queue: q.queue,
        offset: q.offset,
        limit: q.limit,
      });
      reply(res, RESPONSES.jobs, {
        total,
        offset: q.offset,
        limit: q.limit,
        status: q.status ?? null,
        type: q.type ?? null,
        queue: q.queue ?? null,
        partial: partial ?? false,
        jobs: jobs.map(jobView),
      });
    },
  },
  {
    method: 'POST',
    path: '/jobs',
    need: 'submit',
    tag: 'jobs',
    summary:
      'make a job of any type (task, primes, sim; params checked by its type), delayed (delay_ms up to 30 days, or run_at), with a priority (0..9, lower first, 5 by default), attempts, a timeout per attempt, an idempotency key, a debounce or throttle window (dedupe)',
    body: submitBody,
    idempotent: true,
    ok: {
      202: { description: 'made', json: 'submitted', headers: LOCATION },
      200: {
        description: `${REPEATED}; or the job of the dedupe window (deduplicated)`,
        json: 'submitted',
        headers: LOCATION,
      },
    },
    errors: { 409: `${KEY_CONFLICT}; or the dedupe window is in the other mode, or its waiting job of another type` },
    handler: (ctx) => async (req, res) => {
      const body = parseInput(submitBody, req.body);
      const { options, rest } = splitOptions(body);
      const params = checkParams(rest.type, rest.params);
      const {
        job,
        existing,
        deduplicated = false,
      } = await submitWork(ctx, req, res, {
        type: rest.type,
        params,
        options,
        initiatedBy: ctx.nodeId,
        dedupe: rest.dedupe,
      });
      reply(
        res.location(`/jobs/${job.id}`),
        RESPONSES.submitted,
        submittedView(job, existing, deduplicated),
        existing || deduplicated ? 200 : 202,
      );
    },
  },
  {
    method: 'POST',
    path: '/jobs/bulk',
    need: 'submit',
    tag: 'jobs',
    summary: `make up to ${MAX_BULK_JOBS} jobs of any types at once, each as POST /jobs takes it: all checked first (a bad one is a 400 naming jobs.<index>.<field>, and nothing is made), then written atomically per shard; with an Idempotency-Key a retry makes only the jobs not made yet (each job's id follows from the key and its index)`,
    body: bulkBody,
    bodyLimit: BULK_BODY_LIMIT,
    idempotent: true,
    ok: {
      202: {
        description:
          "the jobs, in order (existing: made before under the same key; deduplicated: a dedupe window's job)",
        json: 'bulkSubmitted',
      },
    },
    errors: {
      409: 'the Idempotency-Key was used for other jobs (the message names it)',
      413: `the body is past ${BULK_BODY_LIMIT}`,
    },
    handler: (ctx) => async (req, res) => {
      const body = parseInput(bulkBody, req.body);
      const works = body.jobs.map((job) => {
        const { options, rest } = splitOptions(job);
        return { type: rest.type, params: rest.params, options, initiatedBy: ctx.nodeId, dedupe: rest.dedupe };
      });
      for (const [i, w] of works.entries()) {
        try {
          w.params = checkParams(w.type, w.params);
        } catch (err) {
          throw bulkJobError(err, i);
        }
      }
      const made = await submitBulk(ctx, req, res, works);
      reply(
        res,
        RESPONSES.bulkSubmitted,
        {
          jobs: made.map((m) => ({
            job_id: m.job.id,
            state: m.job.state,
            existing: m.existing,
            deduplicated: m.deduplicated ?? false,
          })),
        },
        202,
      );
    },
  },
  {
    method: 'GET',
    path: '/jobs/:id',
    need: 'read',
    tag: 'jobs',
    summary: 'the whole job record',
    ok: { 200: { description: 'the job', json: 'job' } },
    errors: { 404: 'unknown job' },
    handler: (ctx) => async (req, res) => {
      reply(res, RESPONSES.job, jobView(await getJob(ctx, pathJobId(req))));
    },
  },
  {
    method: 'POST',
    path: '/jobs/:id/cancel',
    need: 'submit',
    tag: 'jobs',
    summary:
      'cancel a job (a chunk: its prime count): waiting or delayed, it never runs; running, its handler is aborted and its result refused',
    ok: { 200: { description: 'the job, now CANCELLED', json: 'job' } },
    errors: { 404: 'unknown job', 409: 'the job has finished' },
    // a client token cancels the jobs it submitted (a chunk: its count's), an admin token any (an open API: anyone)
    handler: (ctx) => async (req, res) => {
      const id = pathJobId(req);
      const caller = callerOf(res);
      if (caller && caller.role !== 'admin' && (await getJob(ctx, id)).principal !== principalName(caller)) {
        throw new WizardError(
          'forbidden',
          `job ${id} was submitted by another caller: a ${caller.role} token cancels only the jobs it submitted (an admin token cancels any)`,
        );
      }
      reply(res, RESPONSES.job, jobView(await ctx.store.jobs.cancel(id)));
    },
  },
  {
    method: 'POST',
    path: '/jobs/:id/retry',
    need: 'admin',
    tag: 'jobs',
    summary: 'a DEAD or FAILURE job back on its queue, its attempts from zero',
    ok: { 200: { description: 'the job, now PENDING', json: 'job' } },
    errors: {
      404: 'unknown job',
      409: 'neither dead nor failed, a prime count (not run itself), or a chunk whose parent has finished',
    },
    handler: (ctx) => async (req, res) => {
      const id = pathJobId(req);
      const job = await getJob(ctx, id);
      if (job.state === 'DEAD') return reply(res, RESPONSES.job, jobView(await ctx.store.dead.retry(id)));
      if (job.state === 'FAILURE') return reply(res, RESPONSES.job, jobView(await ctx.store.dead.retryFailed(id)));
      throw new ConflictError(`job ${id} is ${job.state}: only a job that is DEAD or ended in FAILURE can be retried`);
    },
  },
  {
    method: 'GET',
    path: '/jobs/:id/log',
    need: 'read',
    tag: 'jobs',
    summary:
      "its handler's ctx.log lines, oldest first: the newest 100, each cut to 1 kB, kept a day after the last (none when it logged nothing)",
    ok: { 200: { description: 'the lines', json: 'jobLog' } },
    errors: { 404: 'unknown job' },
    handler: (ctx) => async (req, res) => {
      const id = pathJobId(req);
      await getJob(ctx, id);
      reply(res, RESPONSES.jobLog, { job_id: id, lines: (await ctx.store.reads.log(id)).map(logEntry) });
    },
  },
  {
    method: 'GET',
    path: '/jobs/:id/chunks',
    need: 'read',
    tag: 'primes',
    summary: 'the chunk jobs of a prime count',
    ok: { 200: { description: 'the chunks', json: 'chunks' } },
    errors: { 404: 'unknown job' },
    handler: (ctx) => async (req, res) => {
      const id = pathJobId(req);
      await getJob(ctx, id);
      reply(res, RESPONSES.chunks, { job_id: id, chunks: (await ctx.store.reads.children(id)).map(jobView) });
    },
  },
  {
    method: 'POST',
    path: '/jobs/populate',
    need: 'admin',
    tag: 'jobs',
    summary: 'make a batch now (with an Idempotency-Key: once; the batch and its job ids follow from the key)',
    body: populateBody,
    bodyOptional: true,
    idempotent: true,
    ok: {
      201: { description: 'the batch', json: 'populated' },
      200: { description: 'a repeated Idempotency-Key: the first batch (created 0: nothing made)', json: 'populated' },
    },
    errors: { 409: 'the Idempotency-Key was used for another batch (the message names it)' },
    handler: (ctx) => {
      const p = ctx.botWork ?? BOT_WORK_DEFAULTS;
      return async (req, res) => {
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
      };
    },
  },
];
