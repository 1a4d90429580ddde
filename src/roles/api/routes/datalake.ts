/**
 * The datalake and its summary: GET /datalake/stats (per day: counts, success rate, mean
 * duration), GET /datalake/export/:date (NDJSON, read in pages and written as it goes) and
 * GET /metrics/summary (jobs by state, bots up and down, throughput, success rate).
 */
import { once } from 'node:events';
import { Router } from 'express';
import { lakeStatsView } from '../../../core/datalake';
import { errorMessage, NotFoundError } from '../../../core/errors';
import { datalakeDayParams, parseInput } from '../../../core/schemas';
import { JOB_STATES } from '../../../core/job';
import { ApiContext, BOT_WORK_DEFAULTS } from '../context';
import { reply, RESPONSES } from '../responses';

export const EXPORT_PAGE = 1000;

export function datalakeRoutes(ctx: ApiContext): Router {
  const r = Router();
  const p = ctx.botWork ?? BOT_WORK_DEFAULTS;

  r.get('/datalake/stats', async (_req, res) => {
    const [days, config] = await Promise.all([ctx.store.lake.days(), ctx.store.lake.config()]);
    reply(res, RESPONSES.lakeStats, lakeStatsView(days, config));
  });

  r.get('/datalake/export/:date', async (req, res) => {
    const { date } = parseInput(datalakeDayParams, req.params);
    let page = await ctx.store.lake.read(date, 0, EXPORT_PAGE);
    if (page.length === 0) throw new NotFoundError(`the datalake has no records for ${date}`);
    res
      .status(200)
      .type('application/x-ndjson')
      .set('content-disposition', `attachment; filename="datalake-${date}.ndjson"`);
    try {
      for (
        let offset = 0;
        page.length > 0 && !res.destroyed;
        page = await ctx.store.lake.read(date, offset, EXPORT_PAGE)
      ) {
        if (!res.write(page.map((r) => JSON.stringify(r)).join('\n') + '\n'))
          await Promise.race([once(res, 'drain'), once(res, 'close')]);
        if (page.length < EXPORT_PAGE) break;
        offset += page.length;
      }
      res.end();
    } catch (err) {
      // the head is sent: all we can do is cut the stream short, so the client sees it incomplete
      ctx.log.warn('datalake export cut short', { date, error: errorMessage(err) });
      res.destroy();
    }
  });

  r.get('/metrics/summary', async (_req, res) => {
    const now = await ctx.store.server.time(); // the finish times are the store's: the last minute is by its clock
    const [counts, bots, lastMinute, depth] = await Promise.all([
      ctx.store.reads.countByState(),
      ctx.store.bots.list(),
      ctx.store.reads.finishedSince(now - 60_000),
      ctx.store.queues.depth(p.botQueue),
    ]);
    const finished = counts.SUCCESS + counts.FAILURE + counts.DEAD;
    const up = bots.filter((b) => b.status === 'up').length;
    reply(res, RESPONSES.summary, {
      jobs: { total: JOB_STATES.reduce((n, s) => n + counts[s], 0), by_state: counts },
      bots: { total: bots.length, up, down: bots.length - up },
      queue: { name: p.botQueue, ...depth },
      throughput_per_minute: lastMinute.SUCCESS + lastMinute.FAILURE + lastMinute.DEAD,
      success_rate: finished === 0 ? null : Math.round((counts.SUCCESS / finished) * 10_000) / 10_000,
      generated_at: new Date(now).toISOString(),
    });
  });

  return r;
}
