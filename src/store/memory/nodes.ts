/** Live nodes (store.nodes) and locks, as the Redis adapter's redis/nodes.ts (heartbeatNode.lua, holdLock.lua, ...). */
import type { NodesStore } from '../concerns';
import type { NodeInfo } from '../types';
import type { MemoryCore } from './core';
import { getOr, zsorted } from './structures';

export class MemoryNodes implements NodesStore {
  constructor(private readonly m: MemoryCore) {}

  async heartbeat(role: string, nodeId: string, ttlMs: number, info: Record<string, unknown> = {}): Promise<void> {
    const now = this.m.clock();
    getOr(this.m.nodes, role, () => new Map()).set(nodeId, {
      until: now + ttlMs,
      value: JSON.stringify({ ...info, seenAt: now }),
    });
  }

  async remove(role: string, nodeId: string): Promise<void> {
    this.m.nodes.get(role)?.delete(nodeId);
  }

  async live(role: string): Promise<NodeInfo[]> {
    const now = this.m.clock();
    const nodes = this.m.nodes.get(role) ?? new Map<string, { until: number; value: string }>();
    for (const [id, n] of nodes) if (n.until <= now) nodes.delete(id);
    return zsorted([...nodes].map(([id, n]) => [id, n.until])).map(([nodeId]) => {
      const { seenAt, ...info } = JSON.parse(nodes.get(nodeId)!.value) as { seenAt: number } & Record<string, unknown>;
      return { nodeId, role, seenAt, info };
    });
  }

  async tryLock(name: string, holder: string, ttlMs: number): Promise<boolean> {
    const now = this.m.clock();
    const lock = this.m.locks.get(name);
    if (lock && now <= lock.until) return false;
    this.m.locks.set(name, { holder, until: now + ttlMs });
    return true;
  }

  async holdLock(name: string, holder: string, ttlMs: number): Promise<boolean> {
    const now = this.m.clock();
    const lock = this.m.locks.get(name);
    if (lock && now <= lock.until && lock.holder !== holder) return false;
    this.m.locks.set(name, { holder, until: now + ttlMs });
    return true;
  }

  async releaseLock(name: string, holder: string): Promise<void> {
    if (this.m.locks.get(name)?.holder === holder) this.m.locks.delete(name);
  }

  async lockHolder(name: string): Promise<string | null> {
    const lock = this.m.locks.get(name);
    return lock && this.m.clock() <= lock.until ? lock.holder : null;
  }
}
