/**
 * Health: /healthz (liveness only), /health (the store, its stats, the sum, live workers) and
 * /workers (the live workers and schedulers, from their heartbeats; who leads).
 */
import { sumToJson } from '../../../core/abacus';
import { DEFAULTS } from '../../../core/defaults';
import { errorMessage, StoreUnavailableError } from '../../../core/errors';
import type { NodeInfo } from '../../../store/types';
import { reply, RESPONSES } from '../responses';
import type { Route } from '../route';

/** a live node as the API shows it (GET /health, GET /workers): what it says of itself, its id, when it was seen */
export const nodeView = (n: NodeInfo): Record<string, unknown> & { node_id: string; last_seen: string } => ({
  ...n.info,
  node_id: n.nodeId,
  last_seen: new Date(n.seenAt).toISOString(),
});

const RETRY_AFTER = {
  'Retry-After': {
    description: 'seconds to wait before trying again',
    required: true,
    schema: { type: 'integer', minimum: 1 },
  },
};

export const healthRoutes: Route[] = [
  {
    method: 'GET',
    path: '/healthz',
    need: 'public',
    tag: 'operations',
    summary: 'liveness',
    store: false,
    ok: { 200: { description: 'this node is up', json: 'healthz' } },
    handler: (ctx) => (_req, res) => {
      reply(res, RESPONSES.healthz, {
        status: 'ok',
        node_id: ctx.nodeId,
        uptime_sec: Math.round((Date.now() - ctx.startedAt) / 1000),
      });
    },
  },
  {
    method: 'GET',
    path: '/health',
    need: 'read',
    tag: 'operations',
    summary: 'Redis status and stats, the current sum, live workers',
    ok: {
      200: {
        description:
          'healthy, or degraded with its condition (Redis out of memory, or no replica with --durability replica: reads served, writes 503)',
        json: 'health',
      },
    },
    errors: {
      503: {
        description: 'the store is unreachable or does not answer in time: what is wrong, as data',
        json: 'unhealthy',
        headers: RETRY_AFTER,
      },
    },
    /**
     * 200 healthy; 200 degraded while Redis is out of memory, or has no replica with --durability
     * replica (reads are served, writes answer 503), or its maxmemory-policy can evict keys (every
     * call works, but jobs may vanish), with the reason; 503 unhealthy, with Retry-After, while it
     * cannot be reached or answers late
     */
    handler: (ctx) => async (_req, res) => {
      try {
        const [ping, stats, workers, sum, state, backlog] = await Promise.all([
          ctx.store.server.ping(),
          ctx.store.server.stats(),
          ctx.store.nodes.live('worker'),
          ctx.store.abacus.sum(),
          ctx.store.server.condition(),
          ctx.store.lake.backlog(),
        ]);
        const lakeBehind = backlog > DEFAULTS.datalakeBufferAlarm;
        reply(res, RESPONSES.health, {
          status: state.condition || lakeBehind ? 'degraded' : 'healthy',
          node_id: ctx.nodeId,
          redis_connected: true,
          ...(state.condition
            ? { condition: { reason: state.condition, message: state.message ?? state.condition } }
            : {}),
          current_sum: sumToJson(sum),
          store: { kind: ctx.store.kind, url: ctx.store.location, ...ping },
          stats,
          abacus: { strategy: ctx.abacusStrategy, ...ctx.metrics.abacus },
          workers: { live: workers.length, nodes: workers.map(nodeView) },
          datalake: {
            buffer_entries: backlog,
            bound: DEFAULTS.datalakeBufferAlarm,
            ...(lakeBehind
              ? {
                  note: 'the datalake buffer is past its bound: is a scheduler running (it drains it)? Records are kept; Redis memory grows',
                }
              : {}),
          },
        });
      } catch (err) {
        const reason = err instanceof StoreUnavailableError ? err.reason : 'unavailable';
        res.set('Retry-After', '1');
        reply(
          res,
          RESPONSES.unhealthy,
          {
            status: 'unhealthy',
            node_id: ctx.nodeId,
            redis_connected: false,
            condition: { reason, message: errorMessage(err) },
            store: { kind: ctx.store.kind, url: ctx.store.location },
            error: { code: 'store_unavailable', message: errorMessage(err), details: [] },
          },
          503,
        );
      }
    },
  },
  {
    method: 'GET',
    path: '/workers',
    need: 'read',
    tag: 'operations',
    summary: 'the live workers and schedulers, from their heartbeats; who leads, when the next batch is due',
    ok: { 200: { description: 'the live nodes', json: 'workers' } },
    handler: (ctx) => async (_req, res) => {
      const [workers, schedulers] = await Promise.all([
        ctx.store.nodes.live('worker'),
        ctx.store.nodes.live('scheduler'),
      ]);
      const views = schedulers.map(nodeView);
      const leader = views.find((s) => s.leader === true);
      reply(res, RESPONSES.workers, {
        workers: workers.map(nodeView),
        schedulers: views,
        leader: leader ? leader.node_id : null,
        next_batch_at:
          leader && typeof leader.next_batch_at === 'number' ? new Date(leader.next_batch_at).toISOString() : null,
      });
    },
  },
];
