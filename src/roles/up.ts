/** `wizard up`: every role in one process. Its first line says which store it runs on. */
import type { AbacusStrategy } from '../core/abacus';
import type { Store } from '../store/types';
import { startApi } from './api';
import { startWorker } from './worker';

export interface UpOptions {
  nodeId: string;
  port: number;
  host: string;
  threads: number;
  abacusStrategy: AbacusStrategy;
  adminToken?: string;
}

export async function startUp(store: Store, o: UpOptions): Promise<{ url: string; close(force?: boolean): Promise<void> }> {
  const where =
    store.kind === 'memory'
      ? 'in-memory store (no --redis or REDIS_URL given): state lives in this process only; pass --redis to join a cluster'
      : `Redis at ${store.location}: other wizard processes can join this cluster`;
  process.stdout.write(`wizard up: every role in one process, on the ${where}\n`);
  const worker = startWorker(store, { nodeId: `${o.nodeId}-worker`, threads: o.threads });
  const api = await startApi(store, { nodeId: `${o.nodeId}-api`, port: o.port, host: o.host, abacusStrategy: o.abacusStrategy, adminToken: o.adminToken });
  process.stdout.write(`wizard up: API and dashboard at ${api.url}\n`);
  return {
    url: api.url,
    async close(force = false) {
      await api.close(force);
      await worker.close(force);
    },
  };
}
