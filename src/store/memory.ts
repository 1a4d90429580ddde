/**
 * The in-memory adapter: `wizard up` with no Redis (one process, every role in it). It mirrors
 * the Redis adapter transition by transition: each public method below does what its Lua script
 * (src/store/lua) does, on the same data (a job is a record of the same hash fields, as strings;
 * a wait deque, an active, a delayed map and a marker per queue; per-state indexes; an event log).
 * Every change happens synchronously inside one call, so each is atomic like a script.
 * Finished jobs expire lazily (checked on read against options.now()) and are swept by reap:
 * no timer keeps the process alive.
 */
import type { Bot } from '../core/bots';
import type { DatalakeConfig, LakeDay } from '../core/datalake';
import { Job, JOB_STATES, JobState, NewJob } from '../core/job';
import { LeaseLostError, NotFoundError } from '../core/errors';
import { decodeBot, decodeJob } from './codec';
import { botErrors, flowRows, jobRow, JobRow, newJobFields, tokenBase } from './common';
import { MemoryLake } from './memory-lake';
import type {
  BotsDown, ClaimedJob, ClaimOptions, ClaimResult, FailTarget, FinishedCounts, FlowSpec, JobEvent, ListQuery, ListResult,
  NodeInfo, ReapResult, ServerInfo, ServerStats, Store, StoreOptions,
} from './types';
import { DEFAULT_STORE_OPTIONS } from './types';

/** a job record: hash field → value, exactly as the Lua scripts write it */
type Rec = Record<string, string>;
/** a sorted set: member → score */
type ZSet = Map<string, number>;
type Waiter = (woken: boolean) => void;

interface Queue {
  /** ids ready to run; index 0 is the head (claimed next) */
  wait: string[];
  /** held id → lease deadline */
  active: ZSet;
  /** RETRY id → when it may run again */
  delayed: ZSet;
  /** the marker zset's one member: a pending wake-up */
  marker: boolean;
  waiters: Waiter[];
}

const RUNNABLE = new Set(['PENDING', 'RETRY']);
const HELD = new Set(['STARTED', 'PROGRESS']);
const FINAL = new Set(['SUCCESS', 'FAILURE', 'DEAD']);
const MAX_EVENTS = 100_000; // XADD MAXLEN
const MAX_TIMER_MS = 2 ** 31 - 1;

/** members by score, then by member (ZRANGE order) */
function zsorted(z: ZSet): [string, number][] {
  return [...z].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

/** ZRANGEBYSCORE z -inf max LIMIT 0 limit (a negative limit: all) */
function zrangeByScore(z: ZSet, max: number, limit: number): string[] {
  const ids = zsorted(z).filter(([, score]) => score <= max).map(([id]) => id);
  return limit < 0 ? ids : ids.slice(0, limit);
}

/** ZRANGE z start stop REV, with Redis's index rules (negative counts from the end) */
function zrangeRev(z: ZSet, start: number, stop: number): string[] {
  const n = z.size;
  if (start < 0) start += n;
  if (stop < 0) stop += n;
  if (start < 0) start = 0;
  if (start > stop || start >= n) return [];
  return zsorted(z).reverse().slice(start, stop + 1).map(([id]) => id);
}

/** a stream id "<ms>-<seq>" (or "<ms>", seq 0) as numbers */
function parseId(id: string): [number, number] {
  const [ms, seq] = id.split('-');
  return [Number(ms), Number(seq ?? 0)];
}
const idAfter = (a: [number, number], b: [number, number]) => a[0] > b[0] || (a[0] === b[0] && a[1] > b[1]);

/** Redis's used_memory_human format */
function bytesToHuman(n: number): string {
  if (n < 1024) return `${n}B`;
  const units = ['K', 'M', 'G', 'T', 'P'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(2)}${units[i]}`;
}

export class MemoryStore implements Store {
  readonly kind = 'memory' as const;
  readonly location = 'memory';
  readonly options: StoreOptions;

  private readonly jobs = new Map<string, Rec>();
  /** parent id → child ids, in chunk order */
  private readonly children = new Map<string, string[]>();
  /** parent id → chunk index → chunk result (recorded once per index) */
  private readonly chunkResults = new Map<string, Map<string, string>>();
  /** job id → when it (and its children list and chunk results) expires: PEXPIRE */
  private readonly expiry = new Map<string, number>();
  private readonly queues = new Map<string, Queue>();
  /** state → top-level job id → time of its last change */
  private readonly states = new Map<string, ZSet>();
  /** top-level job id → created at */
  private readonly allJobs: ZSet = new Map();
  private readonly dlq: ZSet = new Map();
  private events: JobEvent[] = [];
  private lastMs = 0;
  private lastSeq = 0;
  private readonly readers: Waiter[] = [];
  /** role → node id → {until, info JSON with seenAt} */
  private readonly nodes = new Map<string, Map<string, { until: number; value: string }>>();
  private readonly locks = new Map<string, { holder: string; until: number }>();
  /** seed 004: queues ever enqueued to, once-keys → until, bots, the datalake */
  private readonly knownQueueNames = new Set<string>();
  private readonly onceKeys = new Map<string, number>();
  private readonly botRecs = new Map<string, Rec>();
  /** sha256 of a bot token → bot id */
  private readonly botTokens = new Map<string, string>();
  /** bot id → registered at */
  private readonly botsRegistered: ZSet = new Map();
  /** bot id → last heartbeat, for the bots that are up */
  private readonly botsUp: ZSet = new Map();
  private readonly lake = new MemoryLake();
  /** the time of the step in progress: ARGV[1] of a script */
  private at = 0;
  private closed = false;

  constructor(opts: Partial<StoreOptions> = {}) {
    this.options = { ...DEFAULT_STORE_OPTIONS, ...opts };
  }

  /** start an atomic step: read the clock once, like a script's `now` */
  private step(): number {
    return (this.at = this.options.now());
  }

  // ---- data access (with lazy expiry) ----

  /** drop a finished job whose time is up (and its children list and chunk results) */
  private expireIfDue(id: string): void {
    const until = this.expiry.get(id);
    if (until === undefined || this.options.now() <= until) return;
    for (const m of [this.expiry, this.jobs, this.children, this.chunkResults]) m.delete(id);
  }

  private rec(id: string): Rec | undefined {
    this.expireIfDue(id);
    return this.jobs.get(id);
  }

  private getJobs(ids: string[]): Job[] {
    return ids.map((id) => this.rec(id)).filter((r): r is Rec => r !== undefined).map(decodeJob);
  }

  private queue(name: string): Queue {
    let q = this.queues.get(name);
    if (!q) this.queues.set(name, (q = { wait: [], active: new Map(), delayed: new Map(), marker: false, waiters: [] }));
    return q;
  }

  private stateIndex(state: string): ZSet {
    let z = this.states.get(state);
    if (!z) this.states.set(state, (z = new Map()));
    return z;
  }

  /** wait until woken (true) or ms pass (false) */
  private block(waiters: Waiter[], ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const done: Waiter = (woken) => {
        clearTimeout(timer);
        const i = waiters.indexOf(done);
        if (i >= 0) waiters.splice(i, 1);
        resolve(woken);
      };
      const timer = setTimeout(() => done(false), Math.min(ms, MAX_TIMER_MS));
      waiters.push(done);
    });
  }

  // ---- lib.lua ----

  /** ZADD marker 0 m: one pending wake-up at most, served to one waiter after the step */
  private signal(name: string): void {
    const q = this.queue(name);
    if (q.marker) return;
    q.marker = true;
    queueMicrotask(() => {
      if (!q.marker || q.waiters.length === 0) return;
      q.marker = false;
      q.waiters[0](true);
    });
  }

  private emit(id: string, state: JobState, completed = '', total = ''): void {
    let ms = Math.floor(this.at);
    let seq = 0;
    if (ms <= this.lastMs) [ms, seq] = [this.lastMs, this.lastSeq + 1];
    [this.lastMs, this.lastSeq] = [ms, seq];
    const progress = total ? { completed: Number(completed), total: Number(total) } : null;
    this.events.push({ id: `${ms}-${seq}`, jobId: id, state, progress, at: this.at });
    if (this.events.length > MAX_EVENTS) this.events.splice(0, this.events.length - MAX_EVENTS);
    for (const wake of [...this.readers]) wake(true);
  }

  private setState(id: string, rec: Rec, from: string | undefined, to: JobState): void {
    rec.state = to;
    rec.updated_at = String(this.at);
    if (rec.parent_id === '') {
      if (from) this.stateIndex(from).delete(id);
      this.stateIndex(to).set(id, this.at);
    }
    if (rec.total) this.emit(id, to, rec.completed, rec.total);
    else this.emit(id, to);
  }

  private requeueAtHead(id: string, queue: string): void {
    this.queue(queue).wait.unshift(id);
    this.signal(queue);
  }

  private finish(id: string, rec: Rec, to: JobState): void {
    if (rec.queue) {
      const q = this.queue(rec.queue);
      q.active.delete(id);
      q.delayed.delete(id);
    }
    rec.finished_at = String(this.at);
    delete rec.token;
    delete rec.lease_until;
    if (to === 'DEAD') this.dlq.set(id, this.at);
    else this.expiry.set(id, this.at + this.options.resultTtlMs);
    this.lake.append(id, rec, to, this.at);
  }

  private failParent(childId: string, child: Rec, reason: string): void {
    const parentId = child.parent_id;
    if (!parentId) return;
    const parent = this.rec(parentId);
    if (!parent || FINAL.has(parent.state)) return;
    parent.error = `chunk ${child.chunk_index} failed: ${reason}`;
    this.setState(parentId, parent, parent.state, 'FAILURE');
    this.finish(parentId, parent, 'FAILURE');
    for (const sibling of [...(this.children.get(parentId) ?? [])]) {
      const s = this.rec(sibling);
      if (!s || !RUNNABLE.has(s.state)) continue;
      const q = this.queue(s.queue);
      q.wait = q.wait.filter((w) => w !== sibling);
      s.error = `cancelled: parent job ${parentId} failed`;
      this.setState(sibling, s, s.state, 'FAILURE');
      this.finish(sibling, s, 'FAILURE');
    }
  }

  /** the record `token` holds, or the error the script's code maps to */
  private holder(id: string, token: string): Rec {
    const rec = this.rec(id);
    if (!rec) throw new NotFoundError(`job ${id} not found`);
    if (rec.token === undefined || rec.token !== token) throw new LeaseLostError(id);
    return rec;
  }

  // ---- enqueueJobs.lua ----

  private insert(rows: JobRow[]): void {
    const now = this.step();
    for (const j of rows) {
      // HSET: an existing record keeps the fields not named here (and its TTL)
      const rec = this.rec(j.id) ?? {};
      Object.assign(rec, newJobFields(j, now));
      this.jobs.set(j.id, rec);
      if (j.parent_id === '') {
        this.allJobs.set(j.id, this.at);
        this.stateIndex('PENDING').set(j.id, this.at);
      } else {
        this.expireIfDue(j.parent_id);
        const list = this.children.get(j.parent_id) ?? [];
        list.push(j.id);
        this.children.set(j.parent_id, list);
      }
      if (j.queue !== '') {
        this.queue(j.queue).wait.push(j.id);
        this.knownQueueNames.add(j.queue);
        this.signal(j.queue);
      }
      this.emit(j.id, 'PENDING', j.total === '' ? '' : '0', j.total);
    }
  }

  async enqueue(jobs: NewJob[]): Promise<Job[]> {
    const rows = jobs.map((j) => jobRow(j));
    this.insert(rows);
    return this.getJobs(rows.map((r) => r.id));
  }

  async enqueueFlow(flow: FlowSpec): Promise<{ parent: Job; children: Job[] }> {
    const rows = flowRows(flow);
    this.insert(rows);
    const [parent, ...children] = this.getJobs(rows.map((r) => r.id));
    return { parent, children };
  }

  // ---- claimJobs.lua ----

  async claim(queue: string, opts: ClaimOptions): Promise<ClaimResult> {
    const base = tokenBase(opts.consumer);
    this.step();
    return this.claimFrom(queue, opts, base);
  }

  /** lib.lua's claimFrom (claimJobs.lua, claimJobForBot.lua) */
  private claimFrom(queue: string, opts: ClaimOptions, base: string): ClaimResult {
    const now = this.at;
    const q = this.queue(queue);
    for (const id of zrangeByScore(q.delayed, now, 1000)) {
      q.delayed.delete(id);
      q.wait.unshift(id);
    }
    const jobs: ClaimedJob[] = [];
    while (jobs.length < opts.max) {
      const id = q.wait.shift();
      if (id === undefined) break;
      const rec = this.rec(id);
      if (!rec || !RUNNABLE.has(rec.state)) continue;
      const token = `${base}.${jobs.length + 1}`;
      Object.assign(rec, {
        attempts: String(Number(rec.attempts) + 1), token, handled_by: opts.consumer,
        started_at: String(now), lease_until: String(now + opts.leaseMs), run_at: '',
      });
      q.active.set(id, now + opts.leaseMs);
      this.setState(id, rec, rec.state, 'STARTED');
      const parent = rec.parent_id === '' ? undefined : this.rec(rec.parent_id);
      if (parent?.state === 'PENDING') {
        parent.started_at = String(now);
        this.setState(rec.parent_id, parent, 'PENDING', 'STARTED');
      }
      jobs.push({ token, job: decodeJob(rec) });
    }
    if (q.wait.length > 0) this.signal(queue);
    const next = zsorted(q.delayed)[0];
    return { jobs, nextRunAt: next ? next[1] : null };
  }

  async waitForWork(queue: string, timeoutMs: number): Promise<boolean> {
    if (this.closed) return false;
    const q = this.queue(queue);
    if (q.marker) {
      q.marker = false;
      return true;
    }
    return this.block(q.waiters, Math.max(10, Math.round(timeoutMs)));
  }

  // ---- renewLease.lua, completeJob.lua, failJob.lua, releaseJob.lua ----

  async renew(jobId: string, token: string, leaseMs: number): Promise<void> {
    const now = this.step();
    this.extendLease(jobId, this.holder(jobId, token), now + leaseMs);
  }

  private extendLease(jobId: string, rec: Rec, until: number): void {
    rec.lease_until = String(until);
    const active = this.queue(rec.queue).active;
    if (active.has(jobId)) active.set(jobId, until); // ZADD XX
  }

  async complete(jobId: string, token: string, result: unknown): Promise<void> {
    this.completeAs(jobId, token, result);
  }

  /** completeJob.lua; with a bot id, the token is the one the bot's record keeps */
  private completeAs(jobId: string, token: string, result: unknown, botId?: string): void {
    const value = JSON.stringify(result ?? null);
    const now = this.step();
    const rec = this.holder(jobId, botId === undefined ? token : this.botToken(botId, jobId));
    rec.result = value;
    this.setState(jobId, rec, rec.state, 'SUCCESS');
    this.finish(jobId, rec, 'SUCCESS');
    if (botId !== undefined) this.botDone(botId, 'jobs_done');

    const parentId = rec.parent_id;
    if (parentId === '') return;
    const parent = this.rec(parentId);
    if (!parent || FINAL.has(parent.state)) return;
    const results = this.chunkResults.get(parentId) ?? new Map<string, string>();
    this.chunkResults.set(parentId, results);
    if (results.has(rec.chunk_index)) return;
    results.set(rec.chunk_index, value);
    const completed = Number(parent.completed) + 1;
    parent.completed = String(completed);
    if (completed < Number(parent.total)) {
      this.setState(parentId, parent, parent.state, 'PROGRESS');
      return;
    }
    let sum = 0;
    for (const v of results.values()) {
      // Lua: tonumber(v) is nil and the script fails (after the writes above), as here
      if (Number.isNaN(Number(v))) throw new Error(`completeJob: chunk result ${v} of job ${parentId} is not a number`);
      sum += Number(v);
    }
    const duration = (now - Number(parent.created_at)) / 1000;
    parent.result = `{"prime_count":${sum.toFixed(0)},"duration_sec":${duration.toFixed(3)}}`;
    this.setState(parentId, parent, parent.state, 'SUCCESS');
    this.finish(parentId, parent, 'SUCCESS');
  }

  async fail(jobId: string, token: string, error: string, target: FailTarget): Promise<void> {
    this.failAs(jobId, token, error, target);
  }

  /** failJob.lua; with a bot id, the token is the one the bot's record keeps */
  private failAs(jobId: string, token: string, error: string, target: FailTarget, botId?: string): void {
    const runAt = target.to === 'RETRY' ? target.runAt : 0;
    const now = this.step();
    const rec = this.holder(jobId, botId === undefined ? token : this.botToken(botId, jobId));
    if (botId !== undefined) this.botDone(botId, 'jobs_failed');
    const queue = rec.queue;
    rec.error = error;
    if (target.to === 'RETRY') {
      delete rec.token;
      delete rec.lease_until;
      rec.run_at = String(runAt);
      this.queue(queue).active.delete(jobId);
      this.setState(jobId, rec, rec.state, 'RETRY');
      if (runAt <= now) this.requeueAtHead(jobId, queue);
      else this.queue(queue).delayed.set(jobId, runAt);
      return;
    }
    this.setState(jobId, rec, rec.state, target.to);
    this.finish(jobId, rec, target.to);
    this.failParent(jobId, rec, error);
  }

  async release(jobId: string, token: string): Promise<void> {
    this.step();
    this.releaseHeld(jobId, this.holder(jobId, token));
  }

  /** lib.lua's releaseHeld: back to the head of its queue, the attempt not counted */
  private releaseHeld(jobId: string, rec: Rec): void {
    rec.attempts = String(Number(rec.attempts) - 1);
    delete rec.token;
    delete rec.lease_until;
    rec.handled_by = '';
    this.queue(rec.queue).active.delete(jobId);
    this.setState(jobId, rec, rec.state, 'PENDING');
    this.requeueAtHead(jobId, rec.queue);
  }

  // ---- reapExpiredLeases.lua ----

  async reap(queue: string, limit = 500): Promise<ReapResult> {
    const now = this.step();
    const q = this.queue(queue);
    const requeued: string[] = [];
    const dead: string[] = [];
    for (const id of zrangeByScore(q.active, now, limit)) {
      const rec = this.rec(id);
      if (!rec || !HELD.has(rec.state)) {
        q.active.delete(id);
        continue;
      }
      if (this.reclaim(id, rec, 'lease expired') === 'DEAD') dead.push(id);
      else requeued.push(id);
    }

    const cutoff = now - this.options.resultTtlMs;
    for (const s of ['SUCCESS', 'FAILURE']) {
      for (const id of zrangeByScore(this.stateIndex(s), cutoff, limit)) {
        this.stateIndex(s).delete(id);
        this.allJobs.delete(id);
      }
    }
    for (const id of [...this.expiry.keys()]) this.expireIfDue(id); // Redis's active expiry
    this.trimEvents(now - this.options.eventRetentionMs);
    return { requeued, dead };
  }

  /** lib.lua's reclaim: take a held job back from a holder that is gone (RETRY, or DEAD) */
  private reclaim(id: string, rec: Rec, why: string): 'RETRY' | 'DEAD' {
    const reason = `${why} (held by ${rec.handled_by}, attempt ${Number(rec.attempts)} of ${Number(rec.max_attempts)})`;
    rec.error = reason;
    if (Number(rec.attempts) >= Number(rec.max_attempts)) {
      this.setState(id, rec, rec.state, 'DEAD');
      this.finish(id, rec, 'DEAD');
      this.failParent(id, rec, reason);
      return 'DEAD';
    }
    delete rec.token;
    delete rec.lease_until;
    rec.run_at = String(this.at);
    this.queue(rec.queue).active.delete(id);
    this.setState(id, rec, rec.state, 'RETRY');
    this.requeueAtHead(id, rec.queue);
    return 'RETRY';
  }

  /** XTRIM MINID: drop events older than minMs */
  private trimEvents(minMs: number): void {
    const keep = this.events.findIndex((e) => parseId(e.id)[0] >= minMs);
    this.events.splice(0, keep < 0 ? this.events.length : keep);
  }

  // ---- reads ----

  async getJob(jobId: string): Promise<Job | null> {
    return this.getJobs([jobId])[0] ?? null;
  }

  /** checkJob.lua */
  async checkJob(jobId: string, checkedBy: string): Promise<Job | null> {
    const rec = this.rec(jobId);
    if (!rec) return null;
    rec.checked_by = checkedBy;
    return decodeJob(rec);
  }

  async listJobs(query: ListQuery): Promise<ListResult> {
    const z = query.state ? this.stateIndex(query.state) : this.allJobs;
    const offset = query.offset ?? 0;
    const limit = query.limit ?? 50;
    return { total: z.size, jobs: this.getJobs(zrangeRev(z, offset, offset + limit - 1)) };
  }

  async listChildren(parentId: string): Promise<Job[]> {
    this.expireIfDue(parentId);
    return this.getJobs(this.children.get(parentId) ?? []);
  }

  async countByState(): Promise<Record<JobState, number>> {
    return Object.fromEntries(JOB_STATES.map((s) => [s, this.states.get(s)?.size ?? 0])) as Record<JobState, number>;
  }

  async queueDepth(queue: string): Promise<{ waiting: number; active: number; delayed: number }> {
    const q = this.queues.get(queue);
    return { waiting: q?.wait.length ?? 0, active: q?.active.size ?? 0, delayed: q?.delayed.size ?? 0 };
  }

  // ---- events ----

  async lastEventId(): Promise<string> {
    return this.events.length ? this.events[this.events.length - 1].id : '0';
  }

  private eventsAfter(after: [number, number], count: number): JobEvent[] {
    let lo = 0;
    let hi = this.events.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (idAfter(parseId(this.events[mid].id), after)) hi = mid;
      else lo = mid + 1;
    }
    return this.events.slice(lo, lo + count);
  }

  async readEvents(afterId: string, blockMs: number, count = 500): Promise<JobEvent[]> {
    const after: [number, number] = afterId === '$' ? [this.lastMs, this.lastSeq] : parseId(afterId);
    const found = this.eventsAfter(after, count);
    if (found.length > 0 || blockMs <= 0 || this.closed) return found;
    return (await this.block(this.readers, blockMs)) ? this.eventsAfter(after, count) : [];
  }

  // ---- nodes and locks ----

  async heartbeat(role: string, nodeId: string, ttlMs: number, info: Record<string, unknown> = {}): Promise<void> {
    const now = this.options.now();
    const nodes = this.nodes.get(role) ?? new Map<string, { until: number; value: string }>();
    this.nodes.set(role, nodes);
    nodes.set(nodeId, { until: now + ttlMs, value: JSON.stringify({ ...info, seenAt: now }) });
  }

  async removeNode(role: string, nodeId: string): Promise<void> {
    this.nodes.get(role)?.delete(nodeId);
  }

  async liveNodes(role: string): Promise<NodeInfo[]> {
    const now = this.options.now();
    const nodes = this.nodes.get(role) ?? new Map<string, { until: number; value: string }>();
    for (const [id, n] of nodes) if (n.until <= now) nodes.delete(id);
    const byUntil: ZSet = new Map([...nodes].map(([id, n]) => [id, n.until]));
    return zsorted(byUntil).map(([nodeId]) => {
      const { seenAt, ...info } = JSON.parse(nodes.get(nodeId)!.value) as { seenAt: number } & Record<string, unknown>;
      return { nodeId, role, seenAt, info };
    });
  }

  async tryLock(name: string, holder: string, ttlMs: number): Promise<boolean> {
    const now = this.options.now();
    const lock = this.locks.get(name);
    if (lock && now <= lock.until) return false;
    this.locks.set(name, { holder, until: now + ttlMs });
    return true;
  }

  // ---- seed 004: batches and leadership (enqueueJobs.lua with a once-key, holdLock.lua, releaseLock.lua) ----

  async enqueueOnce(onceKey: string, ttlMs: number, jobs: NewJob[]): Promise<Job[] | null> {
    const rows = jobs.map((j) => jobRow(j));
    const now = this.options.now();
    for (const [key, until] of this.onceKeys) if (until <= now) this.onceKeys.delete(key);
    if (this.onceKeys.has(onceKey)) return rows.length > 0 ? null : [];
    this.onceKeys.set(onceKey, now + ttlMs);
    this.insert(rows);
    return this.getJobs(rows.map((r) => r.id));
  }

  async knownQueues(): Promise<string[]> {
    return [...this.knownQueueNames].sort();
  }

  async finishedSince(sinceMs: number): Promise<FinishedCounts> {
    const count = (state: JobState) => [...this.stateIndex(state).values()].filter((at) => at >= sinceMs).length;
    return { SUCCESS: count('SUCCESS'), FAILURE: count('FAILURE'), DEAD: count('DEAD') };
  }

  async holdLock(name: string, holder: string, ttlMs: number): Promise<boolean> {
    const now = this.options.now();
    const lock = this.locks.get(name);
    if (lock && now <= lock.until && lock.holder !== holder) return false;
    this.locks.set(name, { holder, until: now + ttlMs });
    return true;
  }

  async releaseLock(name: string, holder: string): Promise<void> {
    if (this.locks.get(name)?.holder === holder) this.locks.delete(name);
  }

  // ---- seed 004: bots (registerBot.lua, heartbeatBot.lua, claimJobForBot.lua, startJob.lua, ...) ----

  /** lib.lua's botToken: the claim token the bot holds the job with */
  private botToken(botId: string, jobId: string): string {
    const bot = this.botRecs.get(botId);
    if (!bot) throw botErrors.unknown(botId);
    if (bot.current_job !== jobId) {
      if (!this.rec(jobId)) throw new NotFoundError(`job ${jobId} not found`);
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
      id: botId, name, token_hash: tokenHash, status: 'up', registered_at: now, last_heartbeat: now,
      down_at: '', current_job: '', job_token: '', jobs_done: '0', jobs_failed: '0',
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
    return claimed.job;
  }

  async startBotJob(botId: string, jobId: string): Promise<void> {
    const now = this.step();
    const rec = this.holder(jobId, this.botToken(botId, jobId));
    if (rec.state !== 'STARTED') return;
    rec.started_at = String(now);
    this.setState(jobId, rec, 'STARTED', 'PROGRESS');
  }

  async completeBotJob(botId: string, jobId: string, result: unknown): Promise<void> {
    this.completeAs(jobId, '', result, botId);
  }

  async failBotJob(botId: string, jobId: string, error: string, target: FailTarget): Promise<void> {
    this.failAs(jobId, '', error, target, botId);
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
    for (const botId of zrangeByScore(this.botsUp, now - downAfterMs, limit)) {
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

  // ---- seed 004: the datalake (appended by finish; memory-lake.ts) ----

  async datalakeConfig(): Promise<DatalakeConfig> {
    return this.lake.config();
  }

  async configureDatalake(config: Partial<DatalakeConfig>): Promise<void> {
    this.lake.configure(config);
  }

  async datalakeDays(): Promise<LakeDay[]> {
    return this.lake.dayStats();
  }

  async readDatalake(day: string, offset: number, count: number): Promise<string[]> {
    return this.lake.read(day, offset, count);
  }

  async pruneDatalake(): Promise<string[]> {
    return this.lake.prune(this.step());
  }

  // ---- server ----

  async ping(): Promise<ServerInfo> {
    return { latency_ms: 0, version: 'memory', role: 'master', mode: 'memory' };
  }

  async stats(): Promise<ServerStats> {
    return { connected_clients: null, total_commands_processed: null, used_memory_human: bytesToHuman(process.memoryUsage().heapUsed) };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const q of this.queues.values()) for (const w of [...q.waiters]) w(false);
    for (const w of [...this.readers]) w(false);
  }
}
