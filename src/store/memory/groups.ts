/** Groups, concurrency and rate limits (store.groups), as the Redis adapter's redis/groups.ts: one shard, so the limits are whole. */
import type { GroupLimits, GroupsStore, GroupInfo, QueueLimits } from '../concerns';
import type { MemoryCore } from './core';
import { noLimits, noneSet, waitingInLists, type QueueLimits as Flow } from './structures';

export class MemoryGroups implements GroupsStore {
  constructor(private readonly m: MemoryCore) {}

  async limits(queue: string): Promise<QueueLimits> {
    const f = this.m.queues.get(queue)?.flow;
    return {
      concurrency: f?.concurrency ?? null,
      groupConcurrency: f?.groupConcurrency ?? null,
      rate: f?.rate ?? null,
      groupRate: f?.groupRate ?? null,
    };
  }

  async setLimits(queue: string, patch: Partial<QueueLimits>): Promise<QueueLimits> {
    const f = this.m.queue(queue).flow ?? noLimits();
    if (patch.concurrency !== undefined) f.concurrency = patch.concurrency;
    if (patch.groupConcurrency !== undefined) f.groupConcurrency = patch.groupConcurrency;
    if (patch.rate !== undefined) f.rate = patch.rate;
    if (patch.groupRate !== undefined) f.groupRate = patch.groupRate;
    this.keep(queue, f);
    return this.limits(queue);
  }

  async group(queue: string, group: string): Promise<GroupInfo> {
    const q = this.m.queues.get(queue);
    const waiting = q
      ? Object.values(q.lanes).reduce((n, lane) => n + waitingInLists(lane.waits.get(group) ?? []), 0)
      : 0;
    return {
      group,
      concurrency: q?.flow?.groups.get(group) ?? null,
      rate: q?.flow?.groupRates.get(group) ?? null,
      waiting,
      running: q?.groupRunning.get(group) ?? 0,
    };
  }

  async setGroupLimit(queue: string, group: string, patch: Partial<GroupLimits>): Promise<GroupInfo> {
    const f = this.m.queue(queue).flow ?? noLimits();
    if (patch.concurrency === null) f.groups.delete(group);
    else if (patch.concurrency !== undefined) f.groups.set(group, patch.concurrency);
    if (patch.rate === null) f.groupRates.delete(group);
    else if (patch.rate !== undefined) f.groupRates.set(group, patch.rate);
    this.keep(queue, f);
    return this.group(queue, group);
  }

  async busiest(queue: string, top: number): Promise<GroupInfo[]> {
    const q = this.m.queues.get(queue);
    if (!q) return [];
    const names = new Set([...q.lanes[''].ring, ...q.lanes['1'].ring, ...q.groupRunning.keys()]);
    const all = await Promise.all([...names].map((g) => this.group(queue, g)));
    return all
      .sort((a, b) => b.waiting + b.running - (a.waiting + a.running) || (a.group < b.group ? -1 : 1))
      .slice(0, top);
  }

  async groupCount(queue: string): Promise<number> {
    return this.m.queues.get(queue)?.lanes[''].ring.length ?? 0;
  }

  async heldBack(queue: string, limit: 'concurrency' | 'rate' = 'concurrency'): Promise<number> {
    const q = this.m.queues.get(queue);
    return (limit === 'rate' ? q?.heldBackRate : q?.heldBack) ?? 0;
  }

  /** no limit left: no limits at all (K.flow deleted); a consumer wakes */
  private keep(queue: string, f: Flow): void {
    const q = this.m.queue(queue);
    q.flow = noneSet(f) ? null : f;
    this.m.signal(queue);
    this.m.signal(queue, true);
  }
}
