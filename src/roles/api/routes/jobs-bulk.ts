/**
 * Jobs acted on as a set (admin): every DEAD or FAILURE job of a state, type and queue retried,
 * every one that has not finished cancelled, as BullMQ's retryJobs; every finished one deleted,
 * as its clean. Each call acts on at most BULK_MAX jobs and says whether more match: the caller
 * calls again until `more` is false (a delete with the cursor it was answered).
 */
import { ConflictError, ValidationError } from '../../../core/errors';
import type { Job, JobState } from '../../../core/job';
import { FAILED_LIST, FINAL_LIST, FINAL_STATES, type FinalState } from '../../../core/states';
import { JOB_STATES } from '../../../core/job';
import { bulkJobsBody, cleanJobsQuery, parseInput } from '../../../core/schemas';
import type { ApiContext } from '../context';
import { optionalBody } from '../error-responses';
import { reply, RESPONSES } from '../responses';
import type { Route } from '../route';

/** the most jobs one bulk call acts on */
export const BULK_MAX = 500;
/** how many jobs of a bulk call are acted on at once */
const BULK_STEP = 50;

const NOT_FINAL: JobState[] = JOB_STATES.filter((s) => !FINAL_STATES.has(s));

type Filter = { status?: JobState; type?: string; queue?: string };

/**
 * the states a call looks in: the one asked for, which must be among `allowed`, or all of them;
 * ValidationError naming status otherwise
 */
function statesOf(f: Filter, allowed: readonly JobState[]): readonly JobState[] {
  if (f.status === undefined) return allowed;
  if (!allowed.includes(f.status)) {
    const must = `must be one of ${allowed.join(', ')}`;
    throw new ValidationError(`status ${must}`, [{ field: 'status', message: must }]);
  }
  return [f.status];
}

/** act on up to BULK_MAX jobs matching the filter in these states; a job that moved on meanwhile (a conflict) is skipped */
async function actOn(
  ctx: ApiContext,
  f: Filter,
  states: readonly JobState[],
  act: (job: Job) => Promise<unknown>,
): Promise<{ matched: number; acted: number; skipped: number; more: boolean; job_ids: string[] }> {
  let matched = 0;
  let partial = false;
  const jobs: Job[] = [];
  for (const state of states) {
    const page = await ctx.store.reads.list({ state, type: f.type, queue: f.queue, limit: BULK_MAX - jobs.length });
    matched += page.total;
    partial ||= page.partial === true;
    jobs.push(...page.jobs);
    if (jobs.length >= BULK_MAX) break;
  }
  const ids: string[] = [];
  let skipped = 0;
  for (let i = 0; i < jobs.length; i += BULK_STEP) {
    const done = await Promise.allSettled(jobs.slice(i, i + BULK_STEP).map(act));
    done.forEach((d, j) => {
      if (d.status === 'fulfilled') ids.push(jobs[i + j].id);
      else if (d.reason instanceof ConflictError) skipped++;
      else throw d.reason;
    });
  }
  return { matched, acted: ids.length, skipped, more: partial || matched > jobs.length, job_ids: ids };
}

const FILTER_TEXT = `by status, type and queue (all optional); at most ${BULK_MAX} jobs a call: call again while more is true`;

export const jobBulkRoutes: Route[] = [
  {
    method: 'POST',
    path: '/jobs/retry',
    need: 'admin',
    tag: 'jobs',
    summary: `every DEAD and FAILURE job of a filter back on its queue, its attempts from zero; ${FILTER_TEXT}`,
    body: bulkJobsBody,
    bodyOptional: true,
    ok: { 200: { description: 'how many matched, were retried, were skipped (a prime count, a chunk)', json: 'bulk' } },
    handler: (ctx) => async (req, res) => {
      const f = parseInput(bulkJobsBody, optionalBody(req));
      const answer = await actOn(ctx, f, statesOf(f, FAILED_LIST), (job) => {
        if (job.state === 'DEAD') return ctx.store.dead.retry(job.id);
        return ctx.store.dead.retryFailed(job.id);
      });
      reply(res, RESPONSES.bulk, answer);
    },
  },
  {
    method: 'POST',
    path: '/jobs/cancel',
    need: 'admin',
    tag: 'jobs',
    summary: `cancel every job of a filter that has not finished (a prime count with its chunks); ${FILTER_TEXT}`,
    body: bulkJobsBody,
    bodyOptional: true,
    ok: { 200: { description: 'how many matched, were cancelled, were skipped (finished meanwhile)', json: 'bulk' } },
    handler: (ctx) => async (req, res) => {
      const f = parseInput(bulkJobsBody, optionalBody(req));
      reply(res, RESPONSES.bulk, await actOn(ctx, f, statesOf(f, NOT_FINAL), (job) => ctx.store.jobs.cancel(job.id)));
    },
  },
  {
    method: 'DELETE',
    path: '/jobs',
    need: 'admin',
    tag: 'jobs',
    summary: `delete every finished job of a filter (${FINAL_LIST.join(', ')}), oldest first, with its log, a prime count with its chunks; a node of a flow still running is kept (skipped); by status, type and queue (all optional); at most ${BULK_MAX} jobs a call: call again with the cursor answered while more is true`,
    query: cleanJobsQuery,
    ok: { 200: { description: 'how many were deleted, were skipped, and the cursor to go on from', json: 'cleaned' } },
    handler: (ctx) => async (req, res) => {
      const q = parseInput(cleanJobsQuery, req.query);
      const states = statesOf(q, FINAL_LIST) as readonly FinalState[];
      const r = await ctx.store.dead.clean({ states, type: q.type, queue: q.queue, limit: BULK_MAX, cursor: q.cursor });
      reply(res, RESPONSES.cleaned, {
        deleted: r.deleted.length,
        skipped: r.skipped,
        more: r.cursor !== null,
        cursor: r.cursor,
        job_ids: r.deleted,
      });
    },
  },
];
