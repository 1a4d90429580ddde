/** Where a new job goes (its shard, its id) and the order one claim tries the shards in (README "Architecture: keys and shards"). */
import { randomUUID } from 'node:crypto';
import { DEFAULT_PRIORITY, MAX_PRIORITY, MIN_PRIORITY } from '../../core/job';
import { DEFAULT_BOT_QUEUE } from '../../core/batch';
import { newJobId } from '../../core/ids';
import { RedisKeys, shardIdPrefix } from '../keys';
import { keyShard, URGENCY_MS } from './shared';
import type { RedisConn } from './conn';

/** a new job's id in shard n (it names its shard: shardOfId) */
export const newId = (shard: number): string => shardIdPrefix(shard) + newJobId();

/** a new UUID-shaped id in shard n: a flow's and its nodes' (asFlowNodeId marks a UUID) */
export const newUuidId = (shard: number): string => shardIdPrefix(shard) + randomUUID();

/** every wait list of a queue in a shard, most urgent first: the ordinary ones, then the CPU ones */
export function waitLists(k: RedisKeys, queue: string): string[] {
  const lists: string[] = [];
  for (let p = MIN_PRIORITY; p <= MAX_PRIORITY; p++) lists.push(k.waitAt(queue, p));
  for (let p = MIN_PRIORITY; p <= MAX_PRIORITY; p++) lists.push(k.cpuWaitAt(queue, p));
  return lists;
}

export class Placement {
  private nextShard = Math.floor(Math.random() * 1024);
  private claimCursor = Math.floor(Math.random() * 1024);
  /** per queue: each shard's most urgent waiting priority, and when that was looked at (urgentOrder) */
  private readonly urgency = new Map<string, { at: number; ranks: number[] }>();

  constructor(private readonly c: RedisConn) {}

  /** the queue bots claim from: its jobs stay in shard 0, with the bots */
  get botQueue(): string {
    return this.c.options.botQueue ?? DEFAULT_BOT_QUEUE;
  }

  /**
   * the shard a new job of `queue` goes to: round-robin, but the bot queue stays in shard 0 (with
   * the bots), and a job of a group goes to its group's shard, so one shard's claim sees the whole
   * group and its limits (docs/flow-control.md "On a Redis Cluster")
   */
  pickShard(queue: string | undefined, group?: string): number {
    if (this.c.shardCount <= 1 || queue === this.botQueue) return 0;
    if (group) return keyShard(`${queue ?? ''}\n${group}`, this.c.shardCount);
    return this.nextShard++ % this.c.shardCount;
  }

  /** the shards in the order one claim tries them: every known one, from a rotating start */
  private claimOrder(): number[] {
    const n = this.c.shards.length;
    const start = this.claimCursor++ % n;
    return Array.from({ length: n }, (_, i) => (start + i) % n);
  }

  /**
   * the shards in the order one claim tries them: the most urgent first (each shard's most urgent
   * waiting priority, as looked at in the last URGENCY_MS), from a rotating start among equals
   */
  async urgentOrder(queue: string): Promise<number[]> {
    const order = this.claimOrder();
    if (order.length === 1) return order;
    let u = this.urgency.get(queue);
    if (!u || Date.now() - u.at > URGENCY_MS) {
      const ranks = await this.c.perShard(async (k) => {
        const [ready, waiting] = await Promise.all([
          this.c.cmd<string[]>(['ZRANGE', k.ready(queue), 0, 1, 'WITHSCORES']),
          this.c.cmd<number>(['LLEN', k.wait(queue)]),
        ]);
        const urgent = ready[0] === 'paused' ? ready[2] : ready[0];
        return Math.min(
          urgent === undefined ? MAX_PRIORITY + 1 : Number(urgent),
          waiting > 0 ? DEFAULT_PRIORITY : MAX_PRIORITY + 1,
        );
      });
      this.urgency.set(queue, (u = { at: Date.now(), ranks }));
    }
    const ranks = u.ranks;
    return order.sort((a, b) => (ranks[a] ?? MAX_PRIORITY) - (ranks[b] ?? MAX_PRIORITY)); // stable: the rotation among equals
  }
}
