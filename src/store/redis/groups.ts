/**
 * Groups, concurrency and rate limits (store.groups, docs/flow-control.md): the limits each shard's
 * claim reads (K.flow) and the groups' counts. On a Cluster with sharded queues the queue's
 * concurrency is cut into one share per shard (their sum is the limit); its rate is one log, the
 * first shard's, in which the other shards' claims reserve their starts (RedisJobs.reserved); a
 * group's jobs all live in one shard (Placement.pickShard), so its limits are whole there.
 */
import { ValidationError } from '../../core/errors';
import type { GroupLimits, GroupsStore, GroupInfo, QueueLimits, Rate } from '../concerns';
import type { RedisKeys } from '../keys';
import type { RedisConn } from './conn';

const num = (v: string | null | undefined): number | null => (v === null || v === undefined ? null : Number(v));

/** a rate as K.flow keeps it, 'max:per_ms' (lib-queue.lua rateOf) */
export const rateText = (r: Rate): string => `${r.max}:${r.perMs}`;
export const rateOf = (v: string | null | undefined): Rate | null => {
  const m = /^(\d+):(\d+)$/.exec(v ?? '');
  return m ? { max: Number(m[1]), perMs: Number(m[2]) } : null;
};

/** shard i's share of a limit cut over n shards: the shares add up to the limit */
export const shareOf = (limit: number, i: number, n: number): number => Math.floor(limit / n) + (i < limit % n ? 1 : 0);

export class RedisGroups implements GroupsStore {
  constructor(private readonly c: RedisConn) {}

  /** as shard 0 keeps them (limit: the whole queue's, concurrency: its share) */
  async limits(queue: string): Promise<QueueLimits> {
    const [limit, group, rate, groupRate] = await this.c.cmd<(string | null)[]>([
      'HMGET',
      this.c.keys.flow(queue),
      'limit',
      'group_concurrency',
      'rate_all',
      'group_rate',
    ]);
    return { concurrency: num(limit), groupConcurrency: num(group), rate: rateOf(rate), groupRate: rateOf(groupRate) };
  }

  async setLimits(queue: string, patch: Partial<QueueLimits>): Promise<QueueLimits> {
    const now = { ...(await this.limits(queue)), ...patch };
    const n = this.c.shards.length;
    if (now.concurrency !== null && now.concurrency > 0 && now.concurrency < n)
      throw new ValidationError(
        `concurrency: at least ${n} on this store, whose queues are cut into ${n} shards, each with a share of the limit`,
      );
    await this.c.perShard(async (k, i) => {
      const set: (string | number)[] = [];
      const del: string[] = [];
      if (now.concurrency === null) del.push('limit', 'concurrency');
      else set.push('limit', now.concurrency, 'concurrency', shareOf(now.concurrency, i, n));
      if (now.groupConcurrency === null) del.push('group_concurrency');
      else set.push('group_concurrency', now.groupConcurrency);
      // the queue's rate is one log, the first shard's: the others' claims reserve in it (reserveRate.lua)
      if (now.rate === null) del.push('rate', 'rate_all', 'rate_shared');
      else if (i === 0) set.push('rate_all', rateText(now.rate), 'rate', rateText(now.rate));
      else set.push('rate_all', rateText(now.rate), 'rate_shared', '1');
      if (now.rate !== null) del.push(i === 0 ? 'rate_shared' : 'rate');
      if (now.groupRate === null) del.push('group_rate');
      else set.push('group_rate', rateText(now.groupRate));
      await this.write(k, queue, set, del);
    });
    return now;
  }

  async group(queue: string, group: string): Promise<GroupInfo> {
    const per = await this.c.perShard((k) => this.read(k, queue, [group]));
    return sumGroups(per.flat())[0];
  }

  async setGroupLimit(queue: string, group: string, patch: Partial<GroupLimits>): Promise<GroupInfo> {
    const set: (string | number)[] = [];
    const del: string[] = [];
    if (patch.concurrency === null) del.push(`g:${group}`);
    else if (patch.concurrency !== undefined) set.push(`g:${group}`, patch.concurrency);
    if (patch.rate === null) del.push(`gr:${group}`);
    else if (patch.rate !== undefined) set.push(`gr:${group}`, rateText(patch.rate));
    if (set.length + del.length > 0) await this.c.perShard((k) => this.write(k, queue, set, del));
    return this.group(queue, group);
  }

  async busiest(queue: string, top: number): Promise<GroupInfo[]> {
    const per = await this.c.perShard(async (k) => {
      const [ring, cpuRing, running] = await Promise.all([
        this.c.cmd<string[]>(['LRANGE', k.groups(queue), 0, 999]),
        this.c.cmd<string[]>(['LRANGE', k.groups(queue, '1'), 0, 999]),
        this.c.cmd<string[]>(['HKEYS', k.groupRunning(queue)]),
      ]);
      return this.read(k, queue, [...new Set([...ring, ...cpuRing, ...running.slice(0, 1000)])]);
    });
    return sumGroups(per.flat())
      .sort((a, b) => b.waiting + b.running - (a.waiting + a.running) || (a.group < b.group ? -1 : 1))
      .slice(0, top);
  }

  async groupCount(queue: string): Promise<number> {
    const per = await this.c.perShard((k) => this.c.cmd<number>(['LLEN', k.groups(queue)]));
    return per.reduce((a, b) => a + b, 0);
  }

  async heldBack(queue: string, limit: 'concurrency' | 'rate' = 'concurrency'): Promise<number> {
    const per = await this.c.perShard((k) =>
      this.c.cmd<string | null>(['GET', limit === 'rate' ? k.heldBackRate(queue) : k.heldBack(queue)]),
    );
    return per.reduce((a, b) => a + Number(b ?? 0), 0);
  }

  /** change a shard's limits hash: v '1' while any limit is left, no key when none is; a consumer wakes */
  private async write(k: RedisKeys, queue: string, set: (string | number)[], del: string[]): Promise<void> {
    const key = k.flow(queue);
    if (set.length > 0) await this.c.durable(['HSET', key, 'v', '1', ...set]);
    if (del.length > 0) await this.c.durable(['HDEL', key, ...del]);
    if ((await this.c.cmd<number>(['HLEN', key])) <= 1) await this.c.durable(['DEL', key]);
    await Promise.all([
      this.c.cmd(['ZADD', k.marker(queue), 0, 'm']),
      this.c.cmd(['ZADD', k.cpuMarker(queue), 0, 'm']),
    ]);
  }

  /** these groups in one shard: each one's own limit, waiting (both kinds) and running */
  private async read(k: RedisKeys, queue: string, groups: string[]): Promise<GroupInfo[]> {
    return Promise.all(
      groups.map(async (group) => {
        const [[limit, rate], running, waiting, cpuWaiting] = await Promise.all([
          this.c.cmd<(string | null)[]>(['HMGET', k.flow(queue), `g:${group}`, `gr:${group}`]),
          this.c.cmd<string | null>(['HGET', k.groupRunning(queue), group]),
          this.c.cmd<number>(['ZCARD', k.groupWait(queue, '', group)]),
          this.c.cmd<number>(['ZCARD', k.groupWait(queue, '1', group)]),
        ]);
        return {
          group,
          concurrency: num(limit),
          rate: rateOf(rate),
          waiting: waiting + cpuWaiting,
          running: Number(running ?? 0),
        };
      }),
    );
  }
}

/** one entry per group, the shards' counts added (a group's own limit is the same in each) */
export function sumGroups(list: GroupInfo[]): GroupInfo[] {
  const by = new Map<string, GroupInfo>();
  for (const g of list) {
    const seen = by.get(g.group);
    if (!seen) by.set(g.group, { ...g });
    else {
      seen.waiting += g.waiting;
      seen.running += g.running;
      seen.concurrency ??= g.concurrency;
      seen.rate ??= g.rate;
    }
  }
  return [...by.values()];
}
