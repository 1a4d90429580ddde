/** What every route module gets: the store, who this node is, and settings. */
import { BATCH_DEFAULTS, BatchSettings, DEFAULT_BOT_DOWN_AFTER_MS, DEFAULT_BOT_QUEUE } from '../../core/batch';
import type { AbacusStrategy } from '../../core/abacus';
import type { Store } from '../../store/types';
import type { Logger } from '../../util/log';
import type { HistoryRecorder } from '../../core/history';
import type { EventHub } from './events-hub';
import type { ApiMetrics } from './metrics';
import type { ApiSecurity } from './security';

export interface ApiContext {
  store: Store;
  nodeId: string;
  log: Logger;
  startedAt: number;
  events: EventHub;
  /** seed 004's jobs and bots (defaults: PROCESSING_DEFAULTS) */
  processing?: ProcessingSettings;
  /** how POST /abacus/number adds (ABACUS_STRATEGY) */
  abacusStrategy: AbacusStrategy;
  /** ADMIN_TOKEN: while unset, admin routes are refused (see admin.ts) */
  adminToken?: string;
  metrics: ApiMetrics;
  /** tokens, the rate limit, CORS, trusted proxies (security.ts); unset: open, no limit */
  security?: ApiSecurity;
  /** the cluster's history: the bots' finished jobs, counted by the node they report to */
  history?: HistoryRecorder;
}

export interface ProcessingSettings {
  /** the queue bots claim from */
  botQueue: string;
  /** the lease of a bot's job, renewed by its heartbeats: BOT_DOWN_AFTER_MS */
  botLeaseMs: number;
  /** what POST /jobs/populate makes when its body does not say */
  batch: BatchSettings;
}

export const PROCESSING_DEFAULTS: ProcessingSettings = { botQueue: DEFAULT_BOT_QUEUE, botLeaseMs: DEFAULT_BOT_DOWN_AFTER_MS, batch: BATCH_DEFAULTS };
