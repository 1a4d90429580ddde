/** The shard layout (README "Architecture: keys and shards"): how many, their keys, where a new job goes, the order a claim tries them. */
import { randomUUID } from 'node:crypto';
import { DEFAULT_PRIORITY, MAX_PRIORITY, MIN_PRIORITY } from '../../core/job';
import { DEFAULT_BOT_QUEUE } from '../../core/batch';
import { ClusterLink } from '../cluster';
import { keysAt, RedisKeys, shardIdPrefix, tagBase } from '../keys';
import { SET_SHARDS, LAKE_FIELDS, URGENCY_MS, LAYOUT_EVERY_MS, withTimeout } from './shared';
import { RedisConnection } from './connection';

export class RedisShards extends RedisConnection {
  /** resolves when connected or after waitMs, whichever is first */
  async connect(waitMs = 5000): Promise<this> {
    await withTimeout(this.main.connected, waitMs);
    await this.loadLayout().catch(() => undefined); // away: read again in LAYOUT_EVERY_MS
    if (this.cluster) void this.lost.settle();
    this.layoutTimer ??= setInterval(() => void this.loadLayout().catch(() => undefined), LAYOUT_EVERY_MS);
    this.layoutTimer.unref();
    return this;
  }

  /** how many shards new jobs go to, and how many are known */
  get shardLayout(): { count: number; known: number; bases: string[] } {
    return { count: this.shardCount, known: this.shards.length, bases: this.shards.map((k) => k.base) };
  }

  /**
   * read the shard count and tags from shard 0's config; set them when this role was told a
   * count (options.shards) that is not the one set, or when the prefix has none yet
   */
  protected async loadLayout(): Promise<void> {
    const [count, tags] = await this.cmd<(string | null)[]>(['HMGET', this.keys.config, 'shards', 'shard_tags']);
    let list: string[] = tags ? (JSON.parse(tags) as string[]) : [''];
    let n = count === null ? null : Number(count);
    const want = this.options.shards ?? n ?? (this.cluster ? 2 * (this.main as ClusterLink).cluster.masters.length : 1);
    // one shard and none set: today's layout, implied; nothing is written (a prefix a role has not joined yet stays empty)
    const implied = n === null && want === 1 && list.length === 1;
    if (!implied && (n !== want || list.length < want)) {
      const grown = await this.growTags(list, want);
      const [setCount, setTags] = await this.evalOnce<(string | null)[]>(
        SET_SHARDS,
        [this.keys.config],
        [n === want ? '' : want, JSON.stringify(grown)],
      );
      n = Number(setCount);
      list = JSON.parse(setTags!) as string[];
    }
    const known = list.map((tag) => (tag === '' ? this.keys : keysAt(tagBase(this.options.prefix, tag))));
    if (known.length > this.shards.length) await this.copyLakeSettings(known.slice(this.shards.length));
    this.shards = known;
    this.shardCount = Math.max(1, Math.min(n ?? 1, known.length));
    if (this.cluster && this.abacusSlot < 0)
      this.abacusSlot = Number(await this.cmd(['CLUSTER', 'KEYSLOT', this.groups.abacus.abacus]));
  }

  /**
   * the tag list grown to `want` shards. On a plain Redis shard N is `s<N>`; on a Cluster shard
   * N's tag is the first of `s<N>`, `s<N>.1`, `s<N>.2`, ... whose slot is on the master N places
   * after shard 0's (masters in address order), so the shards spread over every master. Every
   * role computes the same tags from the same layout, and SET_SHARDS keeps the first list written.
   */
  protected async growTags(list: string[], want: number): Promise<string[]> {
    const out = [...list];
    const link = this.main;
    if (!(link instanceof ClusterLink)) {
      for (let i = out.length; i < want; i++) out.push(`s${i}`);
      return out;
    }
    const masters = link.cluster.masters.map((m) => `${m.host}:${m.port}`).sort();
    const masterOf = async (tag: string): Promise<string> => {
      const slot = Number(await this.cmd(['CLUSTER', 'KEYSLOT', tagBase(this.options.prefix, tag)]));
      const m = link.cluster.slots[slot]?.master;
      return m ? `${m.host}:${m.port}` : '';
    };
    const first = masters.indexOf(await masterOf(''));
    for (let i = out.length; i < want; i++) {
      const target = masters[(Math.max(0, first) + i) % masters.length];
      let tag = `s${i}`;
      for (let k = 1; k < 256 && (await masterOf(tag)) !== target; k++) tag = `s${i}.${k}`;
      out.push(tag);
    }
    return out;
  }

  /** new shards get the datalake settings shard 0 has (lib.lua reads its own shard's copy) */
  protected async copyLakeSettings(shards: RedisKeys[]): Promise<void> {
    const values = await this.cmd<(string | null)[]>(['HMGET', this.keys.config, ...LAKE_FIELDS]);
    const fields = LAKE_FIELDS.flatMap((f, i) => (values[i] === null ? [] : [f, values[i]!]));
    if (fields.length) await Promise.all(shards.map((k) => this.cmd(['HSET', k.config, ...fields])));
  }

  /** the shard a new job of `queue` goes to: round-robin, but the bot queue stays in shard 0 (with the bots) */
  protected pickShard(queue: string | undefined): number {
    if (this.shardCount <= 1 || queue === (this.options.botQueue ?? DEFAULT_BOT_QUEUE)) return 0;
    return this.nextShard++ % this.shardCount;
  }

  /** a new job's id in shard n (it names its shard: shardOfJob) */
  protected static newId(shard: number): string {
    return shardIdPrefix(shard) + randomUUID();
  }

  /** the shards in the order one claim tries them: every known one, from a rotating start */
  protected claimOrder(): number[] {
    const n = this.shards.length;
    const start = this.claimCursor++ % n;
    return Array.from({ length: n }, (_, i) => (start + i) % n);
  }

  /** every wait list of a queue in a shard, most urgent first: the ordinary ones, then the CPU ones */
  protected static waitLists(k: RedisKeys, queue: string): string[] {
    const lists: string[] = [];
    for (let p = MIN_PRIORITY; p <= MAX_PRIORITY; p++) lists.push(k.waitAt(queue, p));
    for (let p = MIN_PRIORITY; p <= MAX_PRIORITY; p++) lists.push(k.cpuWaitAt(queue, p));
    return lists;
  }

  /**
   * the shards in the order one claim tries them: the most urgent first (each shard's most urgent
   * waiting priority, as looked at in the last URGENCY_MS), from a rotating start among equals
   */
  protected async urgentOrder(queue: string): Promise<number[]> {
    const order = this.claimOrder();
    if (order.length === 1) return order;
    let u = this.urgency.get(queue);
    if (!u || Date.now() - u.at > URGENCY_MS) {
      const ranks = await this.perShard(async (k) => {
        const [ready, waiting] = await Promise.all([
          this.cmd<string[]>(['ZRANGE', k.ready(queue), 0, 1, 'WITHSCORES']),
          this.cmd<number>(['LLEN', k.wait(queue)]),
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
