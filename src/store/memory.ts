/**
 * The in-memory adapter: `wizard up` with no Redis (one process, every role in it). A second
 * adapter, not the scripts run in-process (README "Why the embedded store is a second adapter"):
 * it does transition by transition what its Lua script (src/store/lua, lib.lua) does, on the
 * same data. A job's record holds exactly the hash fields the scripts write (strings; a field
 * the scripts leave out is absent here too, so read one as `rec.x ?? ''` or by its truth); per
 * queue a wait list per priority, a lease and a delayed set, a marker; per-state indexes that,
 * as in Redis, leave queued PENDING and STARTED jobs to their queues and only count them; an
 * event log. test/integration/store-twins.test.ts runs both adapters in lock step and compares
 * their raw data after every step: Lua is the truth. Moves follow src/core/job.ts TRANSITIONS
 * (checkTransition), as the scripts do.
 * By concern: a part per concern of the store (src/store/concerns.ts), each the twin of the Redis
 * adapter's module of the same name (memory/jobs.ts ~ redis/jobs.ts, ...), all holding the one
 * shared part, memory/core.ts (the data, and lib.lua's helpers); memory/structures.ts has the
 * Redis-shaped structures (a hash, a sorted set, a queue's keys).
 * Every change happens synchronously inside one call, so it is atomic like a script.
 * Its clock is this process's (Date.now), or a test's (options.now): one process, one clock.
 * Finished jobs expire lazily (checked on read against that clock) and are swept by reap:
 * no timer keeps the process alive.
 */
import type { StoreParts } from './concerns';
import type { Store, StoreOptions } from './types';
import { MemoryAbacus } from './memory/abacus';
import { MemoryBots } from './memory/bots';
import { MemoryCore } from './memory/core';
import { MemoryDead } from './memory/dead';
import { MemoryEvents } from './memory/events';
import { MemoryHistory } from './memory/history';
import { MemoryJobs } from './memory/jobs';
import { MemoryLake } from './memory/lake';
import { MemoryLimits } from './memory/limits';
import { MemoryNodes } from './memory/nodes';
import { MemoryQueues } from './memory/queues';
import { MemoryGroups } from './memory/groups';
import { MemoryReads } from './memory/reads';
import { MemorySchedules } from './memory/schedules';
import { MemoryServer } from './memory/server';

/** count every call of a part's interface (its async methods), by wrapping them on the instance */
function countCalls(part: object, count: () => void): void {
  const proto = Object.getPrototypeOf(part) as Record<string, unknown>;
  for (const name of Object.getOwnPropertyNames(proto)) {
    const fn = proto[name];
    if (typeof fn !== 'function' || fn.constructor.name !== 'AsyncFunction') continue;
    const counted = function (this: unknown, ...args: unknown[]) {
      count();
      return fn.apply(this, args);
    };
    Object.defineProperty(part, name, { value: counted, configurable: true, writable: true });
  }
}

export class MemoryStore implements Store, StoreParts {
  readonly kind = 'memory' as const;
  readonly location = 'memory';
  readonly options: StoreOptions;
  private readonly m: MemoryCore;
  readonly jobs: MemoryJobs;
  readonly reads: MemoryReads;
  readonly queues: MemoryQueues;
  readonly groups: MemoryGroups;
  readonly dead: MemoryDead;
  readonly events: MemoryEvents;
  readonly nodes: MemoryNodes;
  readonly schedules: MemorySchedules;
  readonly bots: MemoryBots;
  readonly lake: MemoryLake;
  readonly abacus: MemoryAbacus;
  readonly limits: MemoryLimits;
  readonly history: MemoryHistory;
  readonly server: MemoryServer;

  constructor(opts: Partial<StoreOptions> = {}) {
    const m = (this.m = new MemoryCore(opts));
    this.options = m.options;
    this.jobs = new MemoryJobs(m);
    this.reads = new MemoryReads(m);
    this.queues = new MemoryQueues(m);
    this.groups = new MemoryGroups(m);
    this.dead = new MemoryDead(m, this.jobs);
    this.events = new MemoryEvents(m);
    this.nodes = new MemoryNodes(m);
    this.schedules = new MemorySchedules(m, this.jobs);
    this.bots = new MemoryBots(m, this.jobs);
    this.lake = new MemoryLake(m);
    this.abacus = new MemoryAbacus(m);
    this.limits = new MemoryLimits(m);
    this.history = new MemoryHistory(m);
    this.server = new MemoryServer(m);
    const server = this.server;
    for (const part of [
      this.jobs,
      this.reads,
      this.queues,
      this.dead,
      this.events,
      this.nodes,
      this.schedules,
      this.bots,
      this.lake,
      this.abacus,
      this.limits,
      this.history,
      server,
    ])
      countCalls(part, () => void server.commands++);
  }

  /** the raw structures, for the tests that compare them with Redis's keys (test/helpers/twins.ts) */
  inside() {
    return this.m.inside();
  }

  async close(): Promise<void> {
    this.server.commands++;
    this.m.closed = true;
    for (const q of this.m.queues.values()) for (const w of [...q.waiters]) w(false);
    for (const w of [...this.m.readers]) w(false);
  }
}
