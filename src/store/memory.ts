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
 * By concern: memory/structures.ts (a hash, a sorted set, a queue's keys), memory/core.ts (the
 * data and lib.lua's helpers), memory/jobs.ts (the job scripts and reads), memory/lake.ts (the
 * datalake); this file the rest (nodes, locks, schedules, bots, abacus, rate limits, history).
 * Every change happens synchronously inside one call, so it is atomic like a script.
 * Its clock is this process's (Date.now), or a test's (options.now): one process, one clock.
 * Finished jobs expire lazily (checked on read against that clock) and are swept by reap:
 * no timer keeps the process alive.
 */
import { AbacusAddResult, addWithinInt64, toAddend } from '../core/abacus';
import type { Bot } from '../core/bots';
import type { DatalakeConfig, LakeDay, LakeRecord } from '../core/datalake';
import type { HistoryBucket } from '../core/history';
import { FINAL_STATES, Job, JobState, NewJob } from '../core/job';
import { JobCancelledError, NotFoundError } from '../core/errors';
import type { Schedule } from '../core/schedule';
import { decodeBot, decodeSchedule, encodeSchedule, withSchedule } from './codec';
import { botErrors, OPEN_JOBS_SCAN, spendFromBucket, tokenBase } from './common';
import { scheduledRows, ScheduledWork } from './scheduled-work';
import type {
  BotsDown,
  BudgetSpend,
  EvictionState,
  FailTarget,
  FinishedCounts,
  NodeInfo,
  RateLimitHit,
  ServerInfo,
  ServerStats,
  StoreOptions,
  StoreState,
  Store,
} from './types';
import { Rec, HELD, getOr, zsorted, zrangeByScore, bytesToHuman } from './memory/structures';
import { MemoryJobs } from './memory/jobs';

/** count every call of a store's interface (its async methods), by wrapping them on the instance */
function countCalls(store: object, count: () => void): void {
  const seen = new Set<string>();
  for (
    let proto = Object.getPrototypeOf(store);
    proto && proto !== Object.prototype;
    proto = Object.getPrototypeOf(proto)
  ) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      const fn = (proto as Record<string, unknown>)[name];
      if (seen.has(name) || typeof fn !== 'function' || fn.constructor.name !== 'AsyncFunction') continue;
      seen.add(name);
      const counted = function (this: unknown, ...args: unknown[]) {
        count();
        return fn.apply(this, args);
      };
      Object.defineProperty(store, name, { value: counted, configurable: true, writable: true });
    }
  }
}

export class MemoryStore extends MemoryJobs implements Store {
  /** the calls this store served, as Redis's total_commands_processed counts its commands */
  private commands = 0;
  /** the connections of the API that serves this store's clients (countClients) */
  private openClients: () => number = () => 0;

  constructor(opts: Partial<StoreOptions> = {}) {
    super(opts);
    countCalls(this, () => void this.commands++);
  }

  countClients(open: () => number): void {
    this.openClients = open;
  }

  // ---- nodes and locks ----

  async heartbeat(role: string, nodeId: string, ttlMs: number, info: Record<string, unknown> = {}): Promise<void> {
    const now = this.clock();
    getOr(this.nodes, role, () => new Map()).set(nodeId, {
      until: now + ttlMs,
      value: JSON.stringify({ ...info, seenAt: now }),
    });
  }

  async removeNode(role: string, nodeId: string): Promise<void> {
    this.nodes.get(role)?.delete(nodeId);
  }

  async liveNodes(role: string): Promise<NodeInfo[]> {
    const now = this.clock();
    const nodes = this.nodes.get(role) ?? new Map<string, { until: number; value: string }>();
    for (const [id, n] of nodes) if (n.until <= now) nodes.delete(id);
    return zsorted([...nodes].map(([id, n]) => [id, n.until])).map(([nodeId]) => {
      const { seenAt, ...info } = JSON.parse(nodes.get(nodeId)!.value) as { seenAt: number } & Record<string, unknown>;
      return { nodeId, role, seenAt, info };
    });
  }

  async tryLock(name: string, holder: string, ttlMs: number): Promise<boolean> {
    const now = this.clock();
    const lock = this.locks.get(name);
    if (lock && now <= lock.until) return false;
    this.locks.set(name, { holder, until: now + ttlMs });
    return true;
  }

  // ---- the bot batch and leadership (enqueueJobs.lua with a once-key, holdLock.lua, releaseLock.lua) ----

  async enqueueOnce(onceKey: string, ttlMs: number, jobs: NewJob[]): Promise<Job[] | null> {
    return this.insertOnce(onceKey, ttlMs, jobs);
  }

  // ---- enqueueScheduled.lua, and the schedules hash ----

  async enqueueScheduled(
    schedule: string,
    slot: string,
    onceKey: string,
    ttlMs: number,
    jobs: ScheduledWork,
  ): Promise<Job[] | null> {
    const made = this.insertOnce(onceKey, ttlMs, jobs);
    for (const j of made ?? []) Object.assign(this.jobs.get(j.id)!, { schedule, slot });
    return made && made.map((j) => ({ ...j, schedule, slot }));
  }

  private insertOnce(onceKey: string, ttlMs: number, jobs: ScheduledWork): Job[] | null {
    const rows = scheduledRows(jobs);
    const now = this.clock();
    for (const [key, until] of this.onceKeys) if (until <= now) this.onceKeys.delete(key);
    if (this.onceKeys.has(onceKey)) return rows.length > 0 ? null : [];
    this.onceKeys.set(onceKey, now + ttlMs);
    return this.insert(rows);
  }

  async saveSchedule(schedule: Schedule, replace = false): Promise<boolean> {
    if (!replace && this.schedules.has(schedule.name)) return false;
    this.schedules.set(schedule.name, encodeSchedule(schedule));
    return true;
  }

  async listSchedules(): Promise<Schedule[]> {
    return [...this.schedules.values()].map(decodeSchedule).sort((a, b) => a.name.localeCompare(b.name));
  }

  async removeSchedule(name: string): Promise<boolean> {
    return this.schedules.delete(name);
  }

  async knownQueues(): Promise<string[]> {
    return [...this.knownQueueNames].sort();
  }

  async finishedSince(sinceMs: number): Promise<FinishedCounts> {
    const count = (state: JobState) => [...this.stateIndex(state).values()].filter((at) => at >= sinceMs).length;
    return { SUCCESS: count('SUCCESS'), FAILURE: count('FAILURE'), DEAD: count('DEAD'), CANCELLED: count('CANCELLED') };
  }

  async holdLock(name: string, holder: string, ttlMs: number): Promise<boolean> {
    const now = this.clock();
    const lock = this.locks.get(name);
    if (lock && now <= lock.until && lock.holder !== holder) return false;
    this.locks.set(name, { holder, until: now + ttlMs });
    return true;
  }

  async releaseLock(name: string, holder: string): Promise<void> {
    if (this.locks.get(name)?.holder === holder) this.locks.delete(name);
  }

  async lockHolder(name: string): Promise<string | null> {
    const lock = this.locks.get(name);
    return lock && this.clock() <= lock.until ? lock.holder : null;
  }

  // ---- bots (registerBot.lua, heartbeatBot.lua, claimJobForBot.lua, startJob.lua, ...) ----

  /** lib.lua's botToken: the claim token the bot holds the job with */
  private botToken(botId: string, jobId: string): string {
    const bot = this.botRecs.get(botId);
    if (!bot) throw botErrors.unknown(botId);
    if (bot.current_job !== jobId) {
      const rec = this.rec(jobId);
      if (!rec) throw new NotFoundError(`job ${jobId} not found`);
      if (rec.state === 'CANCELLED') throw new JobCancelledError(jobId); // forgotten at a heartbeat: still said as cancelled
      throw botErrors.notHolder(botId, jobId);
    }
    return bot.job_token;
  }

  /** lib.lua's botDone */
  private botDone(botId: string, counter: 'jobs_done' | 'jobs_failed'): void {
    const bot = this.botRecs.get(botId)!;
    Object.assign(bot, { current_job: '', job_token: '', [counter]: String(Number(bot[counter]) + 1) });
  }

  /** the bot's job, when the bot still holds it under its token */
  private heldByBot(bot: Rec): Rec | undefined {
    const job = bot.current_job === '' ? undefined : this.rec(bot.current_job);
    return job && job.token === bot.job_token ? job : undefined;
  }

  async registerBot(botId: string, name: string, tokenHash: string): Promise<Bot> {
    const now = String(this.step());
    const bot: Rec = {
      id: botId,
      name,
      token_hash: tokenHash,
      status: 'up',
      registered_at: now,
      last_heartbeat: now,
      down_at: '',
      current_job: '',
      job_token: '',
      jobs_done: '0',
      jobs_failed: '0',
    };
    this.botRecs.set(botId, bot);
    this.botTokens.set(tokenHash, botId);
    this.botsRegistered.set(botId, this.at);
    this.botsUp.set(botId, this.at);
    return decodeBot(bot);
  }

  async botIdForToken(tokenHash: string): Promise<string | null> {
    return this.botTokens.get(tokenHash) ?? null;
  }

  async getBot(botId: string): Promise<Bot | null> {
    const bot = this.botRecs.get(botId);
    return bot ? decodeBot(bot) : null;
  }

  async listBots(): Promise<Bot[]> {
    return zsorted(this.botsRegistered).map(([id]) => decodeBot(this.botRecs.get(id)!));
  }

  async botHeartbeat(botId: string, leaseMs: number): Promise<Bot | null> {
    const now = this.step();
    const bot = this.botRecs.get(botId);
    if (!bot) return null;
    Object.assign(bot, { last_heartbeat: String(now), status: 'up', down_at: '' });
    this.botsUp.set(botId, now);
    if (bot.current_job !== '') {
      const job = this.heldByBot(bot);
      if (job) this.extendLease(bot.current_job, job, now + leaseMs);
      else Object.assign(bot, { current_job: '', job_token: '' });
    }
    return decodeBot(bot);
  }

  async claimForBot(botId: string, queue: string, leaseMs: number): Promise<Job | null> {
    const base = tokenBase(botId);
    const now = this.step();
    const bot = this.botRecs.get(botId);
    if (!bot) throw botErrors.unknown(botId);
    if (this.heldByBot(bot)) throw botErrors.busy(botId, bot.current_job);
    Object.assign(bot, { last_heartbeat: String(now), status: 'up', down_at: '', current_job: '', job_token: '' });
    this.botsUp.set(botId, now);
    const [claimed] = this.claimFrom(queue, { consumer: botId, max: 1, leaseMs }, base).jobs;
    if (!claimed) return null;
    Object.assign(bot, { current_job: claimed.job.id, job_token: claimed.token });
    const rec = this.rec(claimed.job.id)!;
    return withSchedule(claimed.job, [rec.schedule, rec.slot]);
  }

  async startBotJob(botId: string, jobId: string): Promise<void> {
    const now = this.step();
    const rec = this.holder(jobId, this.botToken(botId, jobId));
    if (rec.state === 'STARTED') this.setState(jobId, rec, 'PROGRESS', { started_at: String(now) });
  }

  async completeBotJob(botId: string, jobId: string, result: unknown): Promise<void> {
    this.step();
    this.completeJob(jobId, this.botToken(botId, jobId), result);
    this.botDone(botId, 'jobs_done');
  }

  async failBotJob(botId: string, jobId: string, error: string, target: FailTarget): Promise<void> {
    this.step();
    this.failJob(jobId, this.botToken(botId, jobId), error, target);
    this.botDone(botId, 'jobs_failed');
  }

  async removeBot(botId: string): Promise<boolean> {
    this.step();
    const bot = this.botRecs.get(botId);
    if (!bot) return false;
    const job = this.heldByBot(bot);
    if (job) this.releaseHeld(bot.current_job, job);
    this.botTokens.delete(bot.token_hash);
    this.botRecs.delete(botId);
    this.botsRegistered.delete(botId);
    this.botsUp.delete(botId);
    return true;
  }

  async markBotsDown(downAfterMs: number, limit = 500): Promise<BotsDown> {
    const now = this.step();
    const down: string[] = [];
    const reclaimed: string[] = [];
    const silentSince = this.reapableUpTo(this.reaper('bots'), downAfterMs, now) - downAfterMs;
    for (const botId of zrangeByScore(this.botsUp, silentSince, limit)) {
      this.botsUp.delete(botId);
      const bot = this.botRecs.get(botId);
      if (!bot) continue;
      const [jobId, job, silentMs] = [bot.current_job, this.heldByBot(bot), now - Number(bot.last_heartbeat)];
      Object.assign(bot, { status: 'down', down_at: String(now), current_job: '', job_token: '' });
      down.push(botId);
      if (job && HELD.has(job.state)) {
        this.reclaim(jobId, job, `bot down: no heartbeat for ${silentMs} ms`);
        reclaimed.push(jobId);
      }
    }
    return { down, reclaimed };
  }

  // ---- the datalake (appended by finish; memory/lake.ts) ----

  async datalakeConfig(): Promise<DatalakeConfig> {
    return this.lake.config();
  }

  async configureDatalake(config: Partial<DatalakeConfig>): Promise<void> {
    this.lake.configure(config);
  }

  async datalakeDays(): Promise<LakeDay[]> {
    return this.lake.dayStats();
  }

  async readDatalake(day: string, offset: number, count: number): Promise<LakeRecord[]> {
    return this.lake.read(day, offset, count);
  }

  async pruneDatalake(): Promise<string[]> {
    return this.lake.prune(this.step());
  }

  // ---- abacus ----

  /** one process: every add is one synchronous step, so both strategies are atomic and never conflict */
  async abacusAdd(n: bigint | number): Promise<AbacusAddResult> {
    this.sum = addWithinInt64(this.sum, toAddend(n));
    return { sum: this.sum, conflicts: 0 };
  }

  async abacusSum(): Promise<bigint> {
    return this.sum;
  }

  async abacusReset(): Promise<void> {
    this.sum = 0n;
  }

  // ---- rate limits ----

  /** hitRateLimit.lua: per bucket the times of the requests let through, oldest first */
  async hitRateLimit(buckets: string[], max: number, windowMs: number): Promise<RateLimitHit> {
    const now = this.step();
    this.rateWindowMs = Math.max(this.rateWindowMs, windowMs);
    if (++this.rateHits % 1000 === 0) this.sweepRates(now); // PEXPIRE's part: drop buckets gone quiet
    let allowed = true;
    let retryAfterMs = 0;
    let remaining = max;
    const logs = buckets.map((bucket) => {
      const log = (this.rates.get(bucket) ?? []).filter((t) => t > now - windowMs);
      this.rates.set(bucket, log);
      if (log.length >= max) {
        allowed = false;
        retryAfterMs = Math.max(retryAfterMs, log[log.length - max] + windowMs - now);
        remaining = 0;
      } else {
        remaining = Math.min(remaining, max - log.length - 1);
      }
      return log;
    });
    if (allowed) for (const log of logs) log.push(now);
    return { allowed, retryAfterMs, remaining };
  }

  // ---- quotas (spendBudget.lua; the owned zsets) ----

  async spendBudget(bucket: string, cost: number, capacity: number, windowMs: number): Promise<BudgetSpend> {
    const now = this.step();
    const { tokens, ...spent } = spendFromBucket(this.budgets.get(bucket), now, cost, capacity, windowMs);
    if (tokens >= capacity)
      this.budgets.delete(bucket); // full: its key expires
    else this.budgets.set(bucket, { tokens, at: now });
    return spent;
  }

  async addOpenJob(owner: string, jobId: string): Promise<void> {
    getOr(this.owned, owner, () => new Map<string, number>()).set(jobId, this.clock());
  }

  async openJobs(owner: string, atMost: number): Promise<number> {
    const jobs = this.owned.get(owner);
    if (!jobs || jobs.size < atMost) return jobs?.size ?? 0;
    const now = this.clock();
    for (const id of [...jobs.keys()].slice(0, OPEN_JOBS_SCAN)) {
      const rec = this.rec(id);
      jobs.delete(id);
      if (rec && !FINAL_STATES.has(rec.state as JobState)) jobs.set(id, now); // still open: looked at last
    }
    return jobs.size;
  }

  private sweepRates(now: number): void {
    for (const [bucket, log] of this.rates)
      if (log.length === 0 || log[log.length - 1] <= now - this.rateWindowMs) this.rates.delete(bucket);
  }

  // ---- the dashboard's history (recordHistory.lua, readHistory.lua) ----

  async recordHistory(
    bucketMs: number,
    keepMs: number,
    add: Record<string, number>,
    set: Record<string, string> = {},
  ): Promise<void> {
    const now = this.step();
    this.sweepHistory(now);
    const start = now - (now % bucketMs);
    const bucket = getOr(this.history, start, () => ({ fields: {} as Rec, until: 0 }));
    for (const [field, n] of Object.entries(add)) bucket.fields[field] = String(Number(bucket.fields[field] ?? 0) + n);
    Object.assign(bucket.fields, set);
    bucket.until = now + keepMs;
  }

  async readHistory(bucketMs: number, windowMs: number): Promise<HistoryBucket[]> {
    const now = this.step();
    this.sweepHistory(now);
    const last = now - (now % bucketMs);
    return [...this.history]
      .filter(([start]) => start > now - windowMs && start <= last)
      .sort(([a], [b]) => a - b)
      .map(([at, { fields }]) => ({ at, fields: { ...fields } }));
  }

  private sweepHistory(now: number): void {
    for (const [start, { until }] of this.history) if (until <= now) this.history.delete(start);
  }

  // ---- server ----

  async ping(): Promise<ServerInfo> {
    return { latency_ms: 0, version: 'memory', role: 'master', mode: 'memory' };
  }

  async stats(): Promise<ServerStats> {
    return {
      connected_clients: this.openClients(),
      total_commands_processed: this.commands,
      used_memory_human: bytesToHuman(process.memoryUsage().heapUsed),
    };
  }

  /** memory is always there (the process's heap is not bounded like maxmemory) */
  async condition(): Promise<StoreState> {
    return { condition: null, message: null };
  }

  /** no policy: memory evicts nothing (a job leaves only when it expires or is purged) */
  async eviction(): Promise<EvictionState> {
    return { nodes: [], evictedKeys: 0, single: true };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const q of this.queues.values()) for (const w of [...q.waiters]) w(false);
    for (const w of [...this.readers]) w(false);
  }
}
