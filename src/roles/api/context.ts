/** What every route module gets: the store, who this node is, and settings. */
import type { AbacusStrategy } from '../../core/abacus';
import type { Store } from '../../store/types';
import type { Logger } from '../../util/log';
import type { EventHub } from './events-hub';
import type { ApiMetrics } from './metrics';

export interface ApiContext {
  store: Store;
  nodeId: string;
  log: Logger;
  startedAt: number;
  events: EventHub;
  /** how POST /abacus/number adds (ABACUS_STRATEGY) */
  abacusStrategy: AbacusStrategy;
  /** ADMIN_TOKEN: admin routes need it once it is set */
  adminToken?: string;
  metrics: ApiMetrics;
}
