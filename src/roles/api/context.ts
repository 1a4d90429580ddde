/** What every route module gets: the store, who this node is, and settings. */
import type { Store } from '../../store/types';
import type { Logger } from '../../util/log';

export interface ApiContext {
  store: Store;
  nodeId: string;
  log: Logger;
  startedAt: number;
}
