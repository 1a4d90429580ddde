/** Reading the event log back in tests: every event after a position, in order. */
import type { JobEvent, Store } from '../../src/store/types';

export async function eventsSince(store: Store, from: string): Promise<JobEvent[]> {
  const all: JobEvent[] = [];
  for (let after = from; ;) {
    const batch = await store.events.read(after, 0, 1000);
    if (batch.length === 0) return all;
    all.push(...batch);
    after = batch[batch.length - 1].id;
  }
}

/** how many SUCCESS events each job has after a position */
export async function successCounts(store: Store, from: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const e of await eventsSince(store, from))
    if (e.state === 'SUCCESS') counts.set(e.jobId, (counts.get(e.jobId) ?? 0) + 1);
  return counts;
}
