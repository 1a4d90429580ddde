/**
 * --durability replica and a Redis's replicas: a write is answered only once a replica has it
 * (WAIT 1), so with no replica connected every write is a 503. The store's condition says so,
 * and GET /health is degraded with it.
 */
import type { StoreState } from './types';

/** from a master's INFO replication: the 'no replica' condition when none is connected, else null */
export function replicaCondition(info: Record<string, string>, location: string): StoreState | null {
  const connected = Number(info.connected_slaves ?? 0);
  if (connected > 0) return null;
  return {
    condition: 'no replica',
    message: `--durability replica: no replica is connected to Redis at ${location}, so writes are not confirmed and answer 503`,
  };
}
