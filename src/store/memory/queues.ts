/** The queues (store.queues), as the Redis adapter's redis/queues.ts: known, declared, paused and resumed, removed, and their depth. */
import type { QueuesStore } from '../concerns';
import type { QueueInfo } from '../types';
import type { MemoryCore } from './core';
import { waitingIn } from './structures';

export class MemoryQueues implements QueuesStore {
  constructor(private readonly m: MemoryCore) {}

  async depth(queue: string): Promise<{ waiting: number; active: number; delayed: number }> {
    const q = this.m.queues.get(queue);
    return { waiting: q ? waitingIn(q) : 0, active: q?.active.size ?? 0, delayed: q?.delayed.size ?? 0 };
  }

  async pause(queue: string): Promise<void> {
    this.m.queue(queue).paused = true;
    this.m.knownQueueNames.add(queue);
  }

  async resume(queue: string): Promise<void> {
    this.m.queue(queue).paused = false;
    this.m.signal(queue);
    this.m.signal(queue, true);
  }

  async declare(queue: string): Promise<void> {
    this.m.knownQueueNames.add(queue);
  }

  async isKnown(queue: string): Promise<boolean> {
    return this.m.knownQueueNames.has(queue);
  }

  /** removeQueue.lua */
  async remove(queue: string): Promise<'removed' | 'unknown' | 'busy'> {
    if (!this.m.knownQueueNames.has(queue)) return 'unknown';
    const q = this.m.queues.get(queue);
    if (q && (waitingIn(q) > 0 || q.active.size > 0 || q.delayed.size > 0)) return 'busy';
    if (q) {
      // DEL ready, the markers, the rings and the limits (the object stays: a worker may wait on it)
      Object.assign(q, { paused: false, marker: false, cpuMarker: false, flow: null, heldBack: 0, heldBackRate: 0 });
      q.rateLogs.clear();
      for (const lane of Object.values(q.lanes)) [lane.ring, lane.waits] = [[], new Map()];
    }
    this.m.knownQueueNames.delete(queue);
    return 'removed';
  }

  async list(): Promise<QueueInfo[]> {
    return Promise.all(
      [...this.m.knownQueueNames].sort().map(async (name) => ({
        name,
        ...(await this.depth(name)),
        paused: this.m.queues.get(name)?.paused ?? false,
      })),
    );
  }

  async known(): Promise<string[]> {
    return [...this.m.knownQueueNames].sort();
  }
}
