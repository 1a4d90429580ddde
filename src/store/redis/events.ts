/** The event log (store.events): a stream per shard, read after a position, merged by time. */
import type { EventsStore } from '../concerns';
import { RedisKeys } from '../keys';
import type { JobEvent } from '../types';
import { sleep } from '../../util/time';
import { decodeEvents, EVENTS_POLL_MS } from './shared';
import type { RedisConn } from './conn';

export class RedisEvents implements EventsStore {
  constructor(private readonly c: RedisConn) {}

  /** the position in the event log: a stream id, or with several shards one per shard, joined by commas */
  async lastId(): Promise<string> {
    const ids = await this.c.perShard(async (k) => {
      const last = await this.c.cmd<[string, string[]][]>(['XREVRANGE', k.events, '+', '-', 'COUNT', 1]);
      return last.length ? last[0][0] : '0';
    });
    return ids.join(',');
  }

  /**
   * events after a position. One shard: XREAD (blocking up to blockMs). Several: every shard's
   * stream read after its own part of the position, merged by time; each event's id is the
   * position after it. They block by reading again every EVENTS_POLL_MS while nothing came
   * (only while someone watches a job: the API's event hub).
   */
  async read(afterId: string, blockMs: number, count = 500): Promise<JobEvent[]> {
    if (this.c.shards.length === 1) return this.readShard(this.c.keys, afterId.split(',')[0], blockMs, count);
    const cursor = afterId.split(',');
    const until = Date.now() + blockMs;
    for (;;) {
      const per = await this.c.perShard((k, i) => this.readShard(k, cursor[i] ?? '0', 0, count));
      const all = per.flatMap((events, shard) => events.map((e) => ({ e, shard }))).sort((a, b) => a.e.at - b.e.at);
      if (all.length > 0 || Date.now() >= until) {
        return all.map(({ e, shard }) => {
          cursor[shard] = e.id;
          return { ...e, id: this.c.shards.map((_, i) => cursor[i] ?? '0').join(',') };
        });
      }
      await sleep(Math.min(EVENTS_POLL_MS, Math.max(1, until - Date.now())));
    }
  }

  private async readShard(k: RedisKeys, afterId: string, blockMs: number, count: number): Promise<JobEvent[]> {
    const args: (string | number)[] = ['XREAD', 'COUNT', count];
    if (blockMs > 0) args.push('BLOCK', blockMs);
    args.push('STREAMS', k.events, afterId);
    const link = blockMs > 0 ? await this.c.blockingLink('events') : this.c.main;
    const reply = await this.c.cmd<[string, [string, string[]][]][] | null>(
      args,
      link,
      blockMs + this.c.options.commandTimeoutMs,
    );
    if (!reply) return [];
    return reply[0][1].flatMap(([id, flat]) => decodeEvents(id, flat));
  }
}
