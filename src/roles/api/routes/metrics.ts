/**
 * Metrics: GET /metrics (Prometheus text), GET /metrics/summary (the bot batch's: jobs by state,
 * bots up and down, throughput, success rate) and GET /metrics/history (the cluster's recent
 * history in buckets, src/core/history.ts, the console's charts).
 *
 * GET /metrics: Prometheus text, from prom-client with a registry per API node (built in ../metrics.ts).
 * - this node: HTTP requests by method, route (the Express pattern, so ids do not explode the
 *   label set) and status, with latency histograms; abacus adds and conflicts; bot heartbeats
 *   received; bots' job durations and retries (job-metrics.ts); Node's process metrics.
 * - the cluster, read from the store at scrape time (a handful of reads): jobs by state, queue
 *   depth per queue, the dead-letter queue, bots up and down and each bot's heartbeat age, live
 *   workers, Redis's eviction policy and the keys it evicted. Every API node answers the same values: aggregate them with max, not sum.
 * Workers' job durations are on each worker's own /metrics (wizard worker --metrics-port).
 */
import type { RequestHandler } from 'express';
import { Counter, Gauge, Registry } from 'prom-client';
import { JOB_STATES } from '../../../core/job';
import { HISTORY, HISTORY_WINDOWS, historyPoint } from '../../../core/history';
import { historyQuery, parseInput } from '../../../core/schemas';
import { STORE_CONDITIONS } from '../../../core/errors';
import type { Logger } from '../../../util/log';
import { BOT_WORK_DEFAULTS, type ApiContext } from '../context';
import { DEFAULTS } from '../../../core/defaults';
import type { PromMetrics } from '../metrics';
import { groupMetrics } from './queue-limits';
import { reply, RESPONSES } from '../responses';
import type { Route } from '../route';

/**
 * time every request (its route label is the pattern that matched, or "(unmatched)"), and at
 * LOG_LEVEL=debug log it as one line, with the job_id when the route names a job
 */
export function httpTimer(m: PromMetrics, log: Logger): RequestHandler {
  return (req, res, next) => {
    const start = process.hrtime.bigint();
    res.once('close', () => {
      const route = (req.route?.path as string | undefined) ?? '(unmatched)';
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      m.httpDuration.observe({ method: req.method, route, status: String(res.statusCode) }, seconds);
      // req.params is gone once an error left the route: read the id from the path by position
      const jobId = /^\/(api\/jobs|jobs|tasks)\/:id/.test(route)
        ? req.path.split('/')[route.split('/').indexOf(':id')]
        : undefined; // as sent: never decoded, a stray % cannot throw here
      log.debug('http', {
        method: req.method,
        path: req.path,
        route,
        status: res.statusCode,
        duration_ms: Math.round(seconds * 1e4) / 10,
        ...(jobId ? { job_id: jobId } : {}),
      });
    });
    next();
  };
}

/**
 * wizard_bot_heartbeat_age_seconds has one series per bot: at most this many, the bots that
 * heartbeated most recently (wizard_bots{status} counts them all)
 */
export const BOT_HEARTBEAT_SERIES = 50;

/** gauges read from the store when scraped, not updated as things happen */
function clusterGauges(ctx: ApiContext, registry: Registry) {
  const g = (name: string, help: string, labelNames: string[] = []) =>
    new Gauge({ name, help, labelNames, registers: [registry] });
  const jobs = g('wizard_jobs', 'jobs in each state, cluster-wide', ['state']);
  const queue = g(
    'wizard_queue_jobs',
    'jobs of each queue: waiting, active (leased) or delayed (waiting for a retry)',
    ['queue', 'status'],
  );
  const dlq = g('wizard_dlq_jobs', 'jobs in the dead-letter queue (DEAD), cluster-wide');
  const bots = g('wizard_bots', 'bots up and down', ['status']);
  const heartbeatAge = g(
    'wizard_bot_heartbeat_age_seconds',
    `seconds since each bot last heartbeated (the ${BOT_HEARTBEAT_SERIES} most recent)`,
    ['bot_id', 'name', 'status'],
  );
  const workers = g('wizard_workers_live', 'workers heartbeating now');
  const storeUp = g('wizard_store_up', '1 when the store answered this scrape, else 0');
  const condition = g(
    'wizard_store_condition',
    '1 for what keeps the store from serving now (reason: unavailable, out of memory, no replica) or makes it unsafe (eviction), else 0',
    ['reason'],
  );
  const policy = g(
    'wizard_store_maxmemory_policy',
    "1 per Redis (a Cluster's every master) with its maxmemory-policy (hidden: it reports none)",
    ['node', 'policy'],
  );
  const lakeBuffer = g(
    'wizard_datalake_buffer_entries',
    `datalake buffer entries waiting in the store for the drainer (every shard; an entry holds the records of one finishing step); past ${DEFAULTS.datalakeBufferAlarm} /health says degraded`,
  );
  const flow = groupMetrics(ctx, registry);
  let evictedKeys = 0;
  new Counter({
    name: 'wizard_store_evicted_keys_total',
    help: "keys Redis evicted (INFO stats evicted_keys, summed over a Cluster's masters; back to 0 when a Redis restarts)",
    registers: [registry],
    collect() {
      this.reset();
      this.inc(evictedKeys);
    },
  });
  return async () => {
    const state = await ctx.store.server.condition();
    for (const reason of STORE_CONDITIONS) condition.set({ reason }, state.condition === reason ? 1 : 0);
    try {
      const [counts, queues, botList, live, now, eviction, backlog] = await Promise.all([
        ctx.store.reads.countByState(),
        ctx.store.queues.known(),
        ctx.store.bots.list(),
        ctx.store.nodes.live('worker'),
        ctx.store.server.time(),
        ctx.store.server.eviction(),
        ctx.store.lake.backlog(),
      ]);
      lakeBuffer.set(backlog);
      const [depths] = await Promise.all([Promise.all(queues.map((q) => ctx.store.queues.depth(q))), flow(queues)]);
      for (const s of JOB_STATES) jobs.set({ state: s }, counts[s]);
      queue.reset();
      queues.forEach((q, i) => {
        for (const [status, n] of Object.entries(depths[i])) queue.set({ queue: q, status }, n);
      });
      dlq.set(counts.DEAD);
      const up = botList.filter((b) => b.status === 'up').length;
      bots.set({ status: 'up' }, up);
      bots.set({ status: 'down' }, botList.length - up);
      heartbeatAge.reset(); // only bots that exist now: a deleted bot's series goes with it
      const recent = [...botList].sort((a, b) => b.lastHeartbeat - a.lastHeartbeat).slice(0, BOT_HEARTBEAT_SERIES);
      for (const b of recent)
        heartbeatAge.set({ bot_id: b.id, name: b.name, status: b.status }, Math.max(0, (now - b.lastHeartbeat) / 1000));
      workers.set(live.length);
      policy.reset();
      for (const n of eviction.nodes) policy.set({ node: n.node, policy: n.policy || 'hidden' }, 1);
      evictedKeys = eviction.evictedKeys;
      storeUp.set(1);
    } catch (err) {
      storeUp.set(0);
      ctx.log.warn('metrics: store unavailable', { error: err instanceof Error ? err.message : String(err) });
    }
  };
}

/** times every request: mounted before everything else */
export function metricsTimer(ctx: ApiContext): RequestHandler {
  return httpTimer(ctx.metrics.prom, ctx.log);
}

export const metricsRoutes: Route[] = [
  {
    method: 'GET',
    path: '/metrics',
    need: 'read',
    tag: 'operations',
    summary: 'Prometheus metrics of this node and of the cluster',
    ok: { 200: { description: 'Prometheus text format 0.0.4', content: { 'text/plain': null } } },
    handler: (ctx) => {
      const m = ctx.metrics.prom;
      const refresh = clusterGauges(ctx, m.registry);
      return async (_req, res) => {
        await refresh();
        res.type(m.registry.contentType).send(await m.registry.metrics());
      };
    },
  },
  {
    method: 'GET',
    path: '/metrics/summary',
    need: 'read',
    tag: 'operations',
    summary: "the bot batch's summary: jobs by state, bots, throughput, success rate",
    ok: { 200: { description: 'the summary', json: 'summary' } },
    handler: (ctx) => async (_req, res) => {
      const p = ctx.botWork ?? BOT_WORK_DEFAULTS;
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
    },
  },
  {
    method: 'GET',
    path: '/metrics/history',
    need: 'read',
    tag: 'operations',
    summary:
      "the cluster's recent history in 10 s buckets: jobs done and failed, run-time percentiles, queue depth, the sum",
    query: historyQuery,
    ok: { 200: { description: 'the buckets of the window, oldest first', json: 'history' } },
    handler: (ctx) => async (req, res) => {
      const { window } = parseInput(historyQuery, req.query);
      const buckets = await ctx.store.history.read(HISTORY.bucketMs, HISTORY_WINDOWS[window]);
      reply(res, RESPONSES.history, {
        window,
        window_sec: HISTORY_WINDOWS[window] / 1000,
        bucket_sec: HISTORY.bucketMs / 1000,
        generated_at: new Date().toISOString(),
        points: buckets.map(historyPoint),
      });
    },
  },
];
