/** What every route module gets: the store, who this node is, and settings. */
import { BATCH_DEFAULTS, BatchSettings, DEFAULT_BOT_DOWN_AFTER_MS, DEFAULT_BOT_QUEUE } from '../../core/batch';
import type { AbacusStrategy } from '../../core/abacus';
import type { Store } from '../../store/types';
import type { Logger } from '../../util/log';
import type { HistoryRecorder } from '../../core/history';
import type { EventHub } from './events-hub';
import type { ApiMetrics } from './metrics';
import type { ApiSecurity } from './security';
import type { Limits } from '../../core/quotas';
import type { DayFiles } from '../datalake/files';

export interface ApiContext {
  store: Store;
  nodeId: string;
  log: Logger;
  startedAt: number;
  events: EventHub;
  /** the bots' work: their queue, their jobs' lease, the default bot batch (defaults: BOT_WORK_DEFAULTS) */
  botWork?: BotWorkSettings;
  /** how POST /abacus/number adds (ABACUS_STRATEGY) */
  abacusStrategy: AbacusStrategy;
  /** ADMIN_TOKEN: while unset, admin routes are refused (see admin.ts) */
  adminToken?: string;
  metrics: ApiMetrics;
  /** tokens, the rate limit, CORS, trusted proxies (security.ts); unset: open, no limit */
  security?: ApiSecurity;
  /** the address the node listens on (open mode accepts a Host that names it; default 127.0.0.1) */
  listen?: string;
  /** the cluster's history: the bots' finished jobs, counted by the node they report to */
  history?: HistoryRecorder;
  /** --queues: queues this node declares besides default, the bot queue and the --handlers types' (queues.ts) */
  queues?: string[];
  /** the bounds of a request and the quotas of a token (quotas.ts); unset: LIMIT_DEFAULTS */
  limits?: Limits;
  /** --datalake-dir's files of this prefix, read beside the store's buffers; unset: the store's alone */
  lakeFiles?: DayFiles;
}

/** what an API node knows of the bots' work (--bot-queue, --bot-down-after-ms, the batch flags) */
export interface BotWorkSettings {
  /** the queue bots claim from */
  botQueue: string;
  /** the lease of a bot's job, renewed by its heartbeats: BOT_DOWN_AFTER_MS */
  botLeaseMs: number;
  /** what POST /jobs/populate makes when its body does not say */
  batch: BatchSettings;
}

export const BOT_WORK_DEFAULTS: BotWorkSettings = {
  botQueue: DEFAULT_BOT_QUEUE,
  botLeaseMs: DEFAULT_BOT_DOWN_AFTER_MS,
  batch: BATCH_DEFAULTS,
};
