/**
 * The Redis adapter (node-redis v5): its parts, one per concern (src/store/concerns.ts), each a
 * module of src/store/redis/ holding the one shared connection part (redis/conn.ts). Every
 * multi-key change is one Lua script (src/store/lua); reads are plain commands. The client
 * reconnects by itself forever; while Redis is away every call fails fast with
 * StoreUnavailableError naming the URL (no offline queue), and every call has a deadline that
 * holds after it was written (link.ts): in a partition a call fails after commandTimeoutMs and
 * its connection is replaced, so the API answers 503 and the roles back off and resume on their
 * own. An out-of-memory Redis is a store condition too (StoreOutOfMemoryError): every script is
 * refused whole before it runs, reads go on.
 */
import type { StoreParts } from './concerns';
import type { RedisKeys } from './keys';
import type { Store } from './types';
import { RedisAbacus } from './redis/abacus';
import { RedisBots } from './redis/bots';
import { RedisConn } from './redis/conn';
import { RedisDead } from './redis/dead';
import { RedisEvents } from './redis/events';
import { RedisHistory } from './redis/history';
import { RedisJobs } from './redis/jobs';
import { RedisLake } from './redis/lake';
import { RedisLimits } from './redis/limits';
import { RedisNodes } from './redis/nodes';
import { Placement } from './redis/placement';
import { RedisQueues } from './redis/queues';
import { RedisGroups } from './redis/groups';
import { RedisReads } from './redis/reads';
import { RedisSchedules } from './redis/schedules';
import { FlowOutbox, RedisFlows } from './redis/flows';
import { RedisServer } from './redis/server';
import type { Reply, RedisStoreOptions } from './redis/shared';

export type { RedisStoreOptions, RedisTls } from './redis/shared';
export { decodeEvents, pairsFromInfo, redactUrl } from './redis/shared';

export class RedisStore implements Store, StoreParts {
  readonly kind = 'redis' as const;
  readonly location: string;
  readonly options: RedisStoreOptions;
  /** shard 0's keys, and what the whole prefix shares */
  readonly keys: RedisKeys;
  /** on a Redis Cluster */
  readonly cluster: boolean;
  private readonly c: RedisConn;
  readonly jobs: RedisJobs;
  readonly reads: RedisReads;
  readonly queues: RedisQueues;
  readonly groups: RedisGroups;
  readonly dead: RedisDead;
  readonly events: RedisEvents;
  readonly nodes: RedisNodes;
  readonly schedules: RedisSchedules;
  readonly bots: RedisBots;
  readonly lake: RedisLake;
  readonly abacus: RedisAbacus;
  readonly limits: RedisLimits;
  readonly history: RedisHistory;
  readonly server: RedisServer;
  readonly flows: RedisFlows;

  constructor(opts: Partial<RedisStoreOptions> & { url: string }) {
    const c = (this.c = new RedisConn(opts));
    this.location = c.location;
    this.options = c.options;
    this.keys = c.keys;
    this.cluster = c.cluster;
    this.reads = new RedisReads(c);
    this.jobs = new RedisJobs(c, this.reads, new Placement(c));
    this.queues = new RedisQueues(c);
    this.groups = new RedisGroups(c);
    this.dead = new RedisDead(c, this.reads);
    this.events = new RedisEvents(c);
    this.nodes = new RedisNodes(c);
    this.schedules = new RedisSchedules(c);
    this.bots = new RedisBots(c);
    this.lake = new RedisLake(c);
    this.abacus = new RedisAbacus(c);
    this.limits = new RedisLimits(c);
    this.history = new RedisHistory(c);
    this.server = new RedisServer(c);
    const outbox = new FlowOutbox(c);
    this.jobs.flowOutbox = outbox;
    this.dead.flowOutbox = outbox;
    this.flows = new RedisFlows(c, new Placement(c), outbox);
  }

  /** resolves when connected or after waitMs, whichever is first */
  async connect(waitMs = 5000): Promise<this> {
    await this.c.connect(waitMs);
    return this;
  }

  get isReady(): boolean {
    return this.c.isReady;
  }

  /** how many shards new jobs go to, and how many are known */
  get shardLayout(): { count: number; known: number; bases: string[] } {
    return this.c.shardLayout;
  }

  /** CPU jobs go to the CPU lists: off on a prefix at format 2 (src/store/format.ts) */
  get cpuLists(): boolean {
    return this.c.cpuLists;
  }

  set cpuLists(on: boolean) {
    this.c.cpuLists = on;
  }

  /** a script run once, sent whole (not by SHA, not prefixed with lib.lua): joinFormat.lua */
  evalOnce<T = Reply>(source: string, keys: string[], args: (string | number)[]): Promise<T> {
    return this.c.evalOnce<T>(source, keys, args);
  }

  async close(): Promise<void> {
    this.c.close();
  }
}
