/**
 * The datalake: GET /datalake/stats (per day: counts, success rate, mean duration) and
 * GET /datalake/export/:date (NDJSON, read in pages and written as it goes): this node's
 * --datalake-dir and what the store has not drained yet (../../datalake/read.ts).
 */
import { once } from 'node:events';
import { lakeStatsView } from '../views';
import { lakeDays, lakeLines } from '../../datalake/read';
import { errorMessage, NotFoundError } from '../../../core/errors';
import { datalakeDayParams, parseInput } from '../../../core/schemas';
import { reply, RESPONSES } from '../responses';
import type { Route } from '../route';

export const datalakeRoutes: Route[] = [
  {
    method: 'GET',
    path: '/datalake/stats',
    need: 'read',
    tag: 'datalake',
    summary: 'per day: records, success rate, mean duration',
    ok: { 200: { description: 'the stats', json: 'lakeStats' } },
    handler: (ctx) => async (_req, res) => {
      const [days, config] = await Promise.all([lakeDays(ctx.store, ctx.lakeFiles), ctx.store.lake.config()]);
      reply(res, RESPONSES.lakeStats, lakeStatsView(days, config));
    },
  },
  {
    method: 'GET',
    path: '/datalake/export/:date',
    need: 'read',
    tag: 'datalake',
    summary: "a day's records, one JSON object a line",
    params: { date: datalakeDayParams.shape.date },
    ok: { 200: { description: 'NDJSON, streamed', content: { 'application/x-ndjson': null } } },
    errors: { 404: 'no records that day' },
    handler: (ctx) => async (req, res) => {
      const { date } = parseInput(datalakeDayParams, req.params);
      const pages = lakeLines(ctx.store, ctx.lakeFiles, date);
      let next = await pages.next();
      while (!next.done && next.value.length === 0) next = await pages.next();
      if (next.done) throw new NotFoundError(`the datalake has no records for ${date}`);
      res
        .status(200)
        .type('application/x-ndjson')
        .set('content-disposition', `attachment; filename="datalake-${date}.ndjson"`);
      try {
        for (; !next.done && !res.destroyed; next = await pages.next()) {
          if (next.value.length === 0) continue;
          if (!res.write(next.value.join('\n') + '\n')) await Promise.race([once(res, 'drain'), once(res, 'close')]);
        }
        await pages.return(undefined);
        res.end();
      } catch (err) {
        // the head is sent: all we can do is cut the stream short, so the client sees it incomplete
        ctx.log.warn('datalake export cut short', { date, error: errorMessage(err) });
        res.destroy();
      }
    },
  },
];
