/**
 * Schedules: POST /schedules (admin) keeps a schedule that the scheduler leader makes
 * at each occurrence of every_ms or cron (tz), each slot once; GET /schedules lists them with
 * the built-in bot batch (`seed-batch`, kept by the leader from its settings); DELETE
 * /schedules/:name (admin) removes one. The built-in one is changed by the scheduler's settings
 * (POPULATE_INTERVAL_MS, BATCH_SIZE, ...), not here: a 409.
 */
import { requestedSpec } from '../../../core/batch';
import { ConflictError, NotFoundError } from '../../../core/errors';
import {
  checkTiming,
  makeSchedule,
  primesSpec,
  scheduleBody,
  scheduleName,
  scheduleParams,
  SEED_BATCH,
} from '../../../core/schedule';
import { parseInput } from '../../../core/schemas';
import { checkParams } from '../submit';
import { BOT_WORK_DEFAULTS } from '../context';
import { reply, RESPONSES } from '../responses';
import { scheduleView } from '../views';
import type { Route } from '../route';

const builtinConflict = () =>
  new ConflictError(
    `${SEED_BATCH} is the built-in bot batch: set it with the scheduler's POPULATE_INTERVAL_MS, BATCH_SIZE, WIZARD_JOB_TYPE, WIZARD_JOB_PARAMS`,
  );

export const scheduleRoutes: Route[] = [
  {
    method: 'GET',
    path: '/schedules',
    need: 'read',
    tag: 'schedules',
    summary: 'the schedules, the bot batch (seed-batch) among them, each with its next occurrence',
    ok: { 200: { description: 'the schedules', json: 'schedules' } },
    handler: (ctx) => async (_req, res) => {
      const [schedules, now] = await Promise.all([ctx.store.schedules.list(), ctx.store.server.time()]);
      reply(res, RESPONSES.schedules, {
        total: schedules.length,
        schedules: schedules.map((s) => scheduleView(s, now)),
      });
    },
  },
  {
    method: 'POST',
    path: '/schedules',
    need: 'admin',
    tag: 'schedules',
    summary: 'a schedule: jobs of a type made at each occurrence of every_ms or cron (tz), each once',
    body: scheduleBody,
    ok: { 201: { description: 'the schedule', json: 'schedule' } },
    errors: { 409: 'a schedule of that name exists, or it is the built-in seed-batch' },
    handler: (ctx) => async (req, res) => {
      const p = ctx.botWork ?? BOT_WORK_DEFAULTS;
      const body = parseInput(scheduleBody, req.body);
      checkTiming(body);
      if (body.name === SEED_BATCH) throw builtinConflict();
      // a prime count's params as POST /jobs checks them (a 400 naming params.n), a batch's as POST /jobs/populate does
      const spec =
        body.type === 'primes'
          ? primesSpec(checkParams('primes', body.params ?? {}))
          : requestedSpec(p.batch, { count: 1, type: body.type, params: body.params ?? {} });
      const now = await ctx.store.server.time();
      const schedule = makeSchedule(body.name, spec, body, now);
      if (!(await ctx.store.schedules.save(schedule)))
        throw new ConflictError(`schedule ${body.name} exists: delete it first`);
      reply(res, RESPONSES.schedule, scheduleView(schedule, now), 201);
    },
  },
  {
    method: 'DELETE',
    path: '/schedules/:name',
    need: 'admin',
    tag: 'schedules',
    summary: 'remove a schedule (its jobs made so far stay)',
    params: { name: scheduleName },
    ok: { 204: { description: 'removed' } },
    errors: { 404: 'unknown schedule', 409: 'the built-in seed-batch' },
    handler: (ctx) => async (req, res) => {
      const { name } = parseInput(scheduleParams, req.params);
      if (name === SEED_BATCH) throw builtinConflict();
      if (!(await ctx.store.schedules.remove(name))) throw new NotFoundError(`schedule ${name} not found`);
      res.status(204).end();
    },
  },
];
