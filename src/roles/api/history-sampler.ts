/**
 * The dashboard's samples: every HISTORY.sampleMs one API node of the cluster (a lock decides
 * which) writes the queue depth of every queue together and the abacus sum into the current
 * history bucket. Any node may be the one; the lock keeps it to about one write per interval.
 */
import { HISTORY } from '../../core/history';
import type { Store } from '../../store/types';

export const SAMPLE_LOCK = 'history:sample';

/** one sample (when this node gets the lock); the store being away only skips it */
export async function sampleHistory(store: Store, nodeId: string): Promise<boolean> {
  try {
    if (!(await store.nodes.tryLock(SAMPLE_LOCK, nodeId, HISTORY.sampleMs - 500))) return false;
    const [depths, sum] = await Promise.all([
      store.queues.known().then((qs) => Promise.all(qs.map((q) => store.queues.depth(q)))),
      store.abacus.sum(),
    ]);
    const total = (k: 'waiting' | 'active' | 'delayed') => String(depths.reduce((n, d) => n + d[k], 0));
    await store.history.record(
      HISTORY.bucketMs,
      HISTORY.keepMs,
      {},
      { waiting: total('waiting'), active: total('active'), delayed: total('delayed'), sum: sum.toString() },
    );
    return true;
  } catch {
    return false; // the store is away: the next interval tries again
  }
}

export function startHistorySampler(store: Store, nodeId: string): { close(): void } {
  const timer = setInterval(() => void sampleHistory(store, nodeId), HISTORY.sampleMs);
  timer.unref();
  void sampleHistory(store, nodeId);
  return { close: () => clearInterval(timer) };
}
