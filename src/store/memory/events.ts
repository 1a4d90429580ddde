/** The event log (store.events), as the Redis adapter's redis/events.ts. */
import type { EventsStore } from '../concerns';
import type { JobEvent } from '../types';
import type { MemoryCore } from './core';
import { StreamId, parseId, idAfter } from './structures';

export class MemoryEvents implements EventsStore {
  constructor(private readonly m: MemoryCore) {}

  async lastId(): Promise<string> {
    return this.m.events.at(-1)?.id ?? '0';
  }

  private eventsAfter(after: StreamId, count: number): JobEvent[] {
    let [lo, hi] = [0, this.m.events.length];
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (idAfter(parseId(this.m.events[mid].id), after)) hi = mid;
      else lo = mid + 1;
    }
    return this.m.events.slice(lo, lo + count);
  }

  async read(afterId: string, blockMs: number, count = 500): Promise<JobEvent[]> {
    const after = afterId === '$' ? this.m.lastId : parseId(afterId);
    const found = this.eventsAfter(after, count);
    if (found.length > 0 || blockMs <= 0 || this.m.closed) return found;
    return (await this.m.block([this.m.readers], blockMs)) ? this.eventsAfter(after, count) : [];
  }
}
