/** `wizard api`: the HTTP server. start(options) → { close() }. */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { AbacusStrategy } from '../../core/abacus';
import { roleStamp } from '../../store/format';
import type { Store } from '../../store/types';
import { createLogger, Logger } from '../../util/log';
import { within } from '../../util/time';
import { createApp } from './app';
import { errorMessage } from '../../core/errors';
import { ownQueues } from './queues';
import type { Limits } from '../../core/quotas';
import { HistoryRecorder } from '../../core/history';
import { EventHub } from './events-hub';
import { startHistorySampler } from './history-sampler';
import type { BotWorkSettings } from './context';
import { ApiMetrics, createApiMetrics } from './metrics';
import { DEFAULT_MAX_CONNECTIONS, OPEN_SECURITY, type ApiSecurity } from './security';
import { adminConfigured } from './admin';
import { lakeFiles } from '../datalake/drain';

/**
 * how long an idle kept-alive connection stays open: longer than the idle timeout of what sits in
 * front (nginx's upstream keepalive_timeout and most load balancers' are 60 s), so the client side
 * closes an idle connection first. A server that closes first (Node's default is 5 s) races the
 * client's next request on that connection: nginx answers it 502, a Node client fails with
 * "other side closed".
 */
export const KEEP_ALIVE_TIMEOUT_MS = 65_000;
/** an API node's heartbeat (`wizard upgrade status`): one every this long, alive for three */
export const API_HEARTBEAT_MS = 5_000;

export interface ApiOptions {
  nodeId: string;
  port: number;
  host: string;
  log: Logger;
  /** the bots' queue and job lease, the default bot batch */
  botWork?: BotWorkSettings;
  abacusStrategy: AbacusStrategy;
  /** ADMIN_TOKEN: while unset, admin routes are refused */
  adminToken?: string;
  /** tokens, rate limit, CORS, trusted proxies; unset: open, no limit (the CLI sets its defaults) */
  security?: ApiSecurity;
  /** serve HTTPS with this certificate and key (PEM) */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** --queues: more queues this node declares (queues.ts) */
  queues?: string[];
  /** the bounds of a request and the quotas of a token (quotas.ts); unset: LIMIT_DEFAULTS */
  limits?: Limits;
  /** open connections at most (--max-connections): one more is closed at once; 0: no cap */
  maxConnections: number;
  /** --datalake-dir: the datalake's day files this node reads (the drainer's, through a shared volume on another machine) */
  datalakeDir?: string;
}

/**
 * At most `max` open connections (kept-alive ones and event streams included): Node closes one
 * more at once, before reading anything from it, so the node keeps the files and memory to serve
 * the ones it has (and to reach Redis). Each refusal counts in
 * wizard_http_connections_refused_total; the first in a minute is logged.
 */
function capConnections(server: http.Server, max: number, metrics: ApiMetrics, log: Logger): void {
  if (max <= 0) return;
  server.maxConnections = max;
  let loggedAt = 0;
  server.on('drop', () => {
    metrics.prom.connectionsRefused.inc();
    if (Date.now() - loggedAt < 60_000) return;
    loggedAt = Date.now();
    log.warn('a connection was refused: the node has its most open connections (--max-connections)', {
      max_connections: max,
    });
  });
}

/** where this node's admin token comes from, as /whoami's `admin` judges it (adminConfigured) */
function adminTokenSource(adminToken: string | undefined, security: ApiSecurity): string {
  if (adminToken) return 'set (ADMIN_TOKEN)';
  return adminConfigured({ security }) ? 'set (an admin-role API token)' : 'not set';
}

export interface RunningApi {
  readonly port: number;
  readonly url: string;
  readonly metrics: ApiMetrics;
  close(force?: boolean): Promise<void>;
}

export async function startApi(store: Store, options: Partial<ApiOptions> & { nodeId: string }): Promise<RunningApi> {
  const o: ApiOptions = {
    port: 8000,
    host: '127.0.0.1',
    log: createLogger({ role: 'api', node_id: options.nodeId }),
    abacusStrategy: 'atomic',
    maxConnections: DEFAULT_MAX_CONNECTIONS,
    ...options,
  };
  const metrics = createApiMetrics();
  const events = new EventHub(store, o.log);
  const history = new HistoryRecorder(store.history).start();
  const security: ApiSecurity = { ...(o.security ?? OPEN_SECURITY), https: o.tls !== undefined };
  const ctx = {
    store,
    nodeId: o.nodeId,
    log: o.log,
    startedAt: Date.now(),
    events,
    abacusStrategy: o.abacusStrategy,
    adminToken: o.adminToken,
    metrics,
    botWork: o.botWork,
    security,
    history,
    listen: o.host,
    queues: o.queues,
    limits: o.limits,
    lakeFiles: o.datalakeDir ? lakeFiles(store, o.datalakeDir) : undefined,
  };
  const app = createApp(ctx);
  // the queues this node declares, known to every node (a store that is away now: this node still accepts them)
  void Promise.all(ownQueues(ctx).map((q) => store.queues.declare(q))).catch((err: unknown) =>
    o.log.warn('could not declare the queues in the store', { error: errorMessage(err) }),
  );
  const server = o.tls ? https.createServer({ cert: o.tls.cert, key: o.tls.key }, app) : http.createServer(app);
  // the clients this node holds connections with: what an in-memory store reports as its own (countClients)
  let connections = 0;
  server.on('connection', (socket) => {
    connections++;
    socket.once('close', () => connections--);
  });
  store.server.countClients?.(() => connections);
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.requestTimeout = 30_000;
  capConnections(server, o.maxConnections, metrics, o.log);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const sampler = startHistorySampler(store, o.nodeId);
  const url = `${o.tls ? 'https' : 'http'}://${o.host.includes(':') ? `[${o.host}]` : o.host}:${port}`;
  // this node's heartbeat, its version and format in it: `wizard upgrade status` and `finish` read it
  const heartbeat = () =>
    void store.nodes
      .heartbeat('api', o.nodeId, API_HEARTBEAT_MS * 3, { ...roleStamp(), pid: process.pid, url })
      .catch(() => undefined);
  heartbeat();
  const beat = setInterval(heartbeat, API_HEARTBEAT_MS);
  beat.unref();
  o.log.info('api listening', {
    url,
    store: store.location,
    abacus_strategy: o.abacusStrategy,
    admin_token: adminTokenSource(o.adminToken, security),
    api_tokens: security.tokens ? security.tokens.size : 'off',
    rate_limit: security.rateLimit ? `${security.rateLimit.max}/${security.rateLimit.windowMs}ms` : 'off',
    max_connections: o.maxConnections || 'off',
  });
  if (!security.tokens)
    o.log.warn(
      'no API tokens are set (WIZARD_API_TOKENS, --tokens-file): every endpoint is open to whoever reaches this address; keep it on loopback',
    );
  return {
    port,
    url,
    metrics,
    async close(force = false) {
      clearInterval(beat);
      events.close();
      sampler.close();
      await history.close();
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeIdleConnections();
      if (force) server.closeAllConnections();
      await within(closed, 3000);
      server.closeAllConnections();
      await store.nodes.remove('api', o.nodeId).catch(() => undefined);
    },
  };
}
