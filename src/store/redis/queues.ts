/** The queues (store.queues): known, declared, paused and resumed, removed, and their depth over every shard. */
import type { QueuesStore } from '../concerns';
import type { QueueInfo } from '../types';
import { CONFLICT, OK } from './shared';
import type { RedisConn } from './conn';
import type { RedisKeys } from '../keys';
import { waitLists } from './placement';

export class RedisQueues implements QueuesStore {
  constructor(private readonly c: RedisConn) {}

  /** the paused flag is the member 'paused' of the queue's ready set in every shard (lib.lua's claimFrom reads it with the priorities) */
  async pause(queue: string): Promise<void> {
    await Promise.all([
      ...this.c.shards.map((k) => this.c.durable(['ZADD', k.ready(queue), -1, 'paused'])),
      this.c.cmd(['SADD', this.c.keys.queues, queue]),
    ]);
  }

  /** shard 0's set of known queues (every shard's is read: a queue a job was put on in shard N is in shard N's) */
  async declare(queue: string): Promise<void> {
    await this.c.durable(['SADD', this.c.keys.queues, queue]);
  }

  async isKnown(queue: string): Promise<boolean> {
    return (await this.c.perShard((k) => this.c.cmd<number>(['SISMEMBER', k.queues, queue]))).some((n) => n === 1);
  }

  /** removeQueue.lua in every shard: each forgets the queue unless it holds jobs there */
  async remove(queue: string): Promise<'removed' | 'unknown' | 'busy'> {
    const codes = await this.c.perShard((k) => this.c.run<number>('removeQueue', [queue], k, true));
    if (codes.includes(CONFLICT)) return 'busy';
    if (!codes.includes(OK)) return 'unknown';
    // its limits live in every shard, also those that never held one of its jobs (docs/flow-control.md)
    await this.c.perShard((k) =>
      this.c.durable(['DEL', k.flow(queue), k.heldBack(queue), k.heldBackRate(queue), k.rateLog(queue)]),
    );
    return 'removed';
  }

  async resume(queue: string): Promise<void> {
    await this.c.perShard((k) => this.c.durable(['ZREM', k.ready(queue), 'paused']));
    await this.c.perShard((k) =>
      Promise.all([this.c.cmd(['ZADD', k.marker(queue), 0, 'm']), this.c.cmd(['ZADD', k.cpuMarker(queue), 0, 'm'])]),
    );
  }

  /** paused as shard 0 says (pause and resume set every shard) */
  async list(): Promise<QueueInfo[]> {
    const names = await this.known();
    return Promise.all(
      names.map(async (name) => {
        const [depth, paused] = await Promise.all([
          this.depth(name),
          this.c.cmd<string | null>(['ZSCORE', this.c.keys.ready(name), 'paused']),
        ]);
        return { name, ...depth, paused: paused !== null };
      }),
    );
  }

  async depth(queue: string): Promise<{ waiting: number; active: number; delayed: number }> {
    const per = await this.c.perShard((k) =>
      Promise.all([
        Promise.all([
          ...waitLists(k, queue).map((list) => this.c.cmd<number>(['LLEN', list])),
          this.groupedWaiting(k, queue),
        ]).then((ls) => ls.reduce((a, b) => a + b, 0)),
        this.c.cmd<number>(['ZCARD', k.active(queue)]),
        this.c.cmd<number>(['ZCARD', k.delayed(queue)]),
      ]),
    );
    const sum = (i: number) => per.reduce((t, p) => t + p[i], 0);
    return { waiting: sum(0), active: sum(1), delayed: sum(2) };
  }

  /** the jobs waiting in a shard's groups (docs/flow-control.md): none without one LLEN per kind */
  private async groupedWaiting(k: RedisKeys, queue: string): Promise<number> {
    let n = 0;
    for (const cpu of ['', '1']) {
      const groups = await this.c.cmd<string[]>(['LRANGE', k.groups(queue, cpu), 0, -1]);
      const sizes = await Promise.all(groups.map((g) => this.c.cmd<number>(['ZCARD', k.groupWait(queue, cpu, g)])));
      n += sizes.reduce((a, b) => a + b, 0);
    }
    return n;
  }

  async known(): Promise<string[]> {
    const per = await this.c.perShard((k) => this.c.cmd<string[]>(['SMEMBERS', k.queues]));
    return [...new Set(per.flat())].sort();
  }
}
