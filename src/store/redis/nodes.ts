/** Live nodes (store.nodes: heartbeats by Redis's clock) and locks (the reaper's, the scheduler leader's). */
import type { NodesStore } from '../concerns';
import type { NodeInfo } from '../types';
import type { RedisConn } from './conn';

export class RedisNodes implements NodesStore {
  private readonly nodeKeys;
  private readonly lockKeys;

  constructor(private readonly c: RedisConn) {
    this.nodeKeys = c.group('nodes');
    this.lockKeys = c.group('locks');
  }

  /** heartbeatNode.lua: live for ttlMs from Redis's time, so a node's own clock does not matter */
  async heartbeat(role: string, nodeId: string, ttlMs: number, info: Record<string, unknown> = {}): Promise<void> {
    await this.c.run('heartbeatNode', [role, nodeId, ttlMs, JSON.stringify(info)], this.nodeKeys);
  }

  async remove(role: string, nodeId: string): Promise<void> {
    const k = this.nodeKeys;
    await Promise.all([this.c.cmd(['DEL', k.node(role, nodeId)]), this.c.cmd(['ZREM', k.nodes(role), nodeId])]);
  }

  /** liveNodes.lua: the nodes whose heartbeat has not lapsed by Redis's time */
  async live(role: string): Promise<NodeInfo[]> {
    const flat = await this.c.run<string[]>('liveNodes', [role], this.nodeKeys);
    const nodes: NodeInfo[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const { seenAt, ...info } = JSON.parse(flat[i + 1]) as { seenAt: number } & Record<string, unknown>;
      nodes.push({ nodeId: flat[i], role, seenAt, info });
    }
    return nodes;
  }

  async tryLock(name: string, holder: string, ttlMs: number): Promise<boolean> {
    return (await this.c.cmd<string | null>(['SET', this.lockKeys.lock(name), holder, 'NX', 'PX', ttlMs])) === 'OK';
  }

  async holdLock(name: string, holder: string, ttlMs: number): Promise<boolean> {
    return (await this.c.run<number>('holdLock', [name, holder, ttlMs], this.lockKeys)) === 1;
  }

  async releaseLock(name: string, holder: string): Promise<void> {
    await this.c.run('releaseLock', [name, holder], this.lockKeys);
  }

  async lockHolder(name: string): Promise<string | null> {
    return this.c.cmd<string | null>(['GET', this.lockKeys.lock(name)]);
  }
}
