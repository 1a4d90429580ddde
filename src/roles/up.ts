/**
 * `wizard up`: every role in one process. Its first line says which store it runs on. With API
 * tokens on, its bots register with a bot-role token of their own, made at start.
 */
import { randomBytes } from 'node:crypto';
import { DEFAULT_API_URL } from '../client/http';
import type { BatchSpec } from '../core/batch';
import type { AbacusStrategy } from '../core/abacus';
import type { Store } from '../store/types';
import { startApi } from './api';
import type { BotWorkSettings } from './api/context';
import type { ApiSecurity } from './api/security';
import type { Limits } from '../core/quotas';
import { startBots } from './bot';
import { startScheduler } from './scheduler';
import { startWorker } from './worker';

export interface UpOptions {
  nodeId: string;
  port: number;
  host: string;
  threads: number;
  /** what the API tells of the bots' work (their queue, their jobs' lease, the default batch) */
  botWork?: BotWorkSettings;
  scheduler?: { populateIntervalMs: number; batch: BatchSpec; botDownAfterMs: number };
  bots?: { count: number; heartbeatMs: number };
  abacusStrategy: AbacusStrategy;
  adminToken?: string;
  security?: ApiSecurity;
  tls?: { cert: string; key: string };
  /** --queues: more queues its API declares */
  queues?: string[];
  /** the bounds of a request and the quotas of a token (its API's) */
  limits?: Limits;
  /** the API's open connections at most (--max-connections; 0: no cap) */
  maxConnections?: number;
  /** --datalake-dir: its scheduler drains the datalake into day files there, its API reads them */
  datalakeDir?: string;
}

export async function startUp(
  store: Store,
  o: UpOptions,
): Promise<{ url: string; close(force?: boolean): Promise<void> }> {
  const where =
    store.kind === 'memory'
      ? 'in-memory store (no --redis or REDIS_URL given): state lives in this process only; pass --redis to join a cluster'
      : `Redis at ${store.location}: other wizard processes can join this cluster`;
  process.stdout.write(`wizard up: every role in one process, on the ${where}\n`);
  const worker = startWorker(store, { nodeId: `${o.nodeId}-worker`, threads: o.threads });
  const botToken = o.security?.tokens ? randomBytes(24).toString('base64url') : undefined;
  const security =
    o.security && botToken
      ? { ...o.security, tokens: o.security.tokens!.plus([{ name: `${o.nodeId}-bots`, role: 'bot', token: botToken }]) }
      : o.security;
  const api = await startApi(store, {
    nodeId: `${o.nodeId}-api`,
    port: o.port,
    host: o.host,
    abacusStrategy: o.abacusStrategy,
    adminToken: o.adminToken,
    botWork: o.botWork,
    security,
    tls: o.tls,
    queues: o.queues,
    limits: o.limits,
    datalakeDir: o.datalakeDir,
    ...(o.maxConnections !== undefined ? { maxConnections: o.maxConnections } : {}),
  });
  const scheduler = o.scheduler
    ? startScheduler(store, { nodeId: `${o.nodeId}-scheduler`, datalakeDir: o.datalakeDir, ...o.scheduler })
    : null;
  const bots =
    o.bots && o.bots.count > 0
      ? startBots(o.bots.count, {
          api: api.url,
          name: `${o.nodeId}-bot`,
          heartbeatMs: o.bots.heartbeatMs,
          token: botToken,
          ca: o.tls?.cert,
        })
      : null;
  process.stdout.write(`wizard up: API and dashboard at ${api.url}\n`);
  // client commands call DEFAULT_API_URL unless told: say how to point them here
  if (api.url !== DEFAULT_API_URL)
    process.stdout.write(`wizard up: for client commands in another shell: export WIZARD_API_URL=${api.url}\n`);
  return {
    url: api.url,
    async close(force = false) {
      // bots first, while the API can still take their last reports
      await bots?.close(force);
      await scheduler?.close(force);
      await api.close(force);
      await worker.close(force);
    },
  };
}
