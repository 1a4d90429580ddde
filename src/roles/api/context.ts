/** What every route module gets: the store, who this node is, and settings. */
import type { Store } from '../../store/types';
import type { Logger } from '../../util/log';
import type { EventHub } from './events-hub';

export interface ApiContext {
  store: Store;
  nodeId: string;
  log: Logger;
  startedAt: number;
  events: EventHub;
}
