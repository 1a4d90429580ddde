/** Operations: /health (the store, its stats, the sum, live workers) and /healthz (liveness only). */
import { Router } from 'express';
import { sumToJson } from '../../../core/abacus';
import { errorMessage, StoreUnavailableError } from '../../../core/errors';
import type { NodeInfo } from '../../../store/types';
import type { ApiContext } from '../context';
import { reply, RESPONSES } from '../responses';

/** a live node as the API shows it (GET /health, GET /workers): what it says of itself, its id, when it was seen */
export const nodeView = (n: NodeInfo): Record<string, unknown> & { node_id: string; last_seen: string } => ({
  ...n.info,
  node_id: n.nodeId,
  last_seen: new Date(n.seenAt).toISOString(),
});

export function opsRoutes(ctx: ApiContext): Router {
  const r = Router();

  r.get('/healthz', (_req, res) => {
    reply(res, RESPONSES.healthz, {
      status: 'ok',
      node_id: ctx.nodeId,
      uptime_sec: Math.round((Date.now() - ctx.startedAt) / 1000),
    });
  });

  /**
   * 200 healthy; 200 degraded while Redis is out of memory, or has no replica with --durability
   * replica (reads are served, writes answer 503), or its maxmemory-policy can evict keys (every
   * call works, but jobs may vanish), with the reason; 503 unhealthy, with Retry-After, while it
   * cannot be reached or answers late
   */
  r.get('/health', async (_req, res) => {
    try {
      const [ping, stats, workers, sum, state] = await Promise.all([
        ctx.store.server.ping(),
        ctx.store.server.stats(),
        ctx.store.nodes.live('worker'),
        ctx.store.abacus.sum(),
        ctx.store.server.condition(),
      ]);
      reply(res, RESPONSES.health, {
        status: state.condition ? 'degraded' : 'healthy',
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
  });

  return r;
}
