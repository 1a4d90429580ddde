/**
 * Schedules: POST /schedules (admin) keeps a schedule that the scheduler leader makes
 * at each occurrence of every_ms or cron (tz), each slot once; GET /schedules lists them with
 * the built-in bot batch (`seed-batch`, kept by the leader from its settings); DELETE
 * /schedules/:name (admin) removes one. The built-in one is changed by the scheduler's settings
 * (POPULATE_INTERVAL_MS, BATCH_SIZE, ...), not here: a 409.
 */
import { Router } from 'express';
import { requestedSpec } from '../../../core/batch';
import { ConflictError, NotFoundError } from '../../../core/errors';
import {
  checkTiming,
  makeSchedule,
  primesSpec,
  scheduleBody,
  scheduleParams,
  scheduleView,
  SEED_BATCH,
} from '../../../core/schedule';
import { parseInput } from '../../../core/schemas';
import { requireAdmin } from '../admin';
import { checkParams } from '../submit';
import { ApiContext, BOT_WORK_DEFAULTS } from '../context';
import { reply, RESPONSES } from '../responses';

const builtinConflict = () =>
  new ConflictError(
    `${SEED_BATCH} is the built-in bot batch: set it with the scheduler's POPULATE_INTERVAL_MS, BATCH_SIZE, WIZARD_JOB_TYPE, WIZARD_JOB_PARAMS`,
  );

export function scheduleRoutes(ctx: ApiContext): Router {
  const r = Router();
  const p = ctx.botWork ?? BOT_WORK_DEFAULTS;
  const admin = requireAdmin(ctx);

  r.get('/schedules', async (_req, res) => {
    const [schedules, now] = await Promise.all([ctx.store.schedules.list(), ctx.store.server.time()]);
    reply(res, RESPONSES.schedules, { total: schedules.length, schedules: schedules.map((s) => scheduleView(s, now)) });
  });

  r.post('/schedules', admin, async (req, res) => {
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
  });

  r.delete('/schedules/:name', admin, async (req, res) => {
    const { name } = parseInput(scheduleParams, req.params);
    if (name === SEED_BATCH) throw builtinConflict();
    if (!(await ctx.store.schedules.remove(name))) throw new NotFoundError(`schedule ${name} not found`);
    res.status(204).end();
  });

  return r;
}
