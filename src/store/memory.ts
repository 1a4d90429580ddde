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
 * Every change happens synchronously inside one call, so it is atomic like a script.
 * Its clock is this process's (Date.now), or a test's (options.now): one process, one clock.
 * Finished jobs expire lazily (checked on read against that clock) and are swept by reap:
 * no timer keeps the process alive.
 */
import { AbacusAddResult, addWithinInt64, toAddend } from '../core/abacus';
import type { Bot } from '../core/bots';
import type { DatalakeConfig, LakeDay, LakeRecord } from '../core/datalake';
import type { HistoryBucket } from '../core/history';
import { checkTransition, DEFAULT_PRIORITY, Job, JOB_STATES, JobState, MAX_PRIORITY, NewJob } from '../core/job';
import { ConflictError, JobCancelledError, LeaseLostError, NotFoundError, ValidationError } from '../core/errors';
import type { Schedule } from '../core/schedule';
import { claimView, decodeBot, decodeJob, decodeSchedule, encodeSchedule } from './codec';
import { botErrors, cancelConflict, createdJob, fingerprint, flowRows, idempotencyConflict, jobRow, JobRow, newJobFields, notRetryable, tokenBase } from './common';
import { MemoryLake } from './memory-lake';
import type {
  BotsDown, ClaimedJob, ClaimOptions, ClaimResult, CompleteAndClaimResult, Completion, FailTarget, FinishedCounts, FlowSpec, JobEvent, ListQuery, ListResult,
  NodeInfo, QueueInfo, RateLimitHit, ReapResult, ServerInfo, ServerStats, StoreState, Store, StoreOptions, Submitted,
} from './types';
import { DEFAULT_STORE_OPTIONS } from './types';

/** a job record: hash field → value, exactly as the Lua scripts write it */
type Rec = Record<string, string>;
/** a sorted set: member → score */
type ZSet = Map<string, number>;
type Waiter = (woken: boolean) => void;
type StreamId = [ms: number, seq: number];

interface Queue {
  waits: string[][]; // per priority 0..9, ids ready to run; [0] is the head (claimed next)
  paused: boolean;
  active: ZSet; // held id → lease deadline
  delayed: ZSet; // RETRY id → when it may run again
  marker: boolean; // the marker zset's one member: a pending wake-up
  waiters: Waiter[]; // consumers blocked in waitForWork, first come first woken
}

const RUNNABLE = new Set(['PENDING', 'RETRY']);
const HELD = new Set(['STARTED', 'PROGRESS']);
const FINAL = new Set(['SUCCESS', 'FAILURE', 'DEAD', 'CANCELLED']);
/** lib.lua's QUEUE_HELD: a queued top-level job in these states is only counted (its queue holds it) */
const QUEUE_HELD = new Set<string>(['PENDING', 'STARTED']);

/** a record's priority (its field is '' for the default) */
const priorityOf = (rec: Rec): number => (rec.priority ? Number(rec.priority) : DEFAULT_PRIORITY);
const waitingIn = (q: Queue): number => q.waits.reduce((n, w) => n + w.length, 0);
const MAX_EVENTS = 100_000; // XADD MAXLEN
const MAX_TIMER_MS = 2 ** 31 - 1;

function getOr<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let v = map.get(key);
  if (v === undefined) map.set(key, (v = make()));
  return v;
}

/** ZRANGE order: by score, then by member */
function zsorted(entries: Iterable<[string, number]>): [string, number][] {
  return [...entries].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

/** ZRANGEBYSCORE z -inf max LIMIT 0 limit (a negative limit: all) */
function zrangeByScore(z: ZSet, max: number, limit: number): string[] {
  const ids = zsorted([...z].filter(([, score]) => score <= max)).map(([id]) => id);
  return limit < 0 ? ids : ids.slice(0, limit);
}

/** ZRANGE z start stop REV, with Redis's index rules (negative counts from the end) */
function zrangeRev(z: ZSet, start: number, stop: number): string[] {
  start = Math.max(start < 0 ? start + z.size : start, 0);
  stop = stop < 0 ? stop + z.size : stop;
  if (start > stop || start >= z.size) return [];
  return zsorted(z).reverse().slice(start, stop + 1).map(([id]) => id);
}

/** a stream id "<ms>-<seq>" (or "<ms>": seq 0) */
function parseId(id: string): StreamId {
  const [ms, seq] = id.split('-');
  return [Number(ms), Number(seq ?? 0)];
}
const idAfter = (a: StreamId, b: StreamId) => a[0] > b[0] || (a[0] === b[0] && a[1] > b[1]);

/** Redis's used_memory_human format: 1023B, 1.50K, 12.34M, ... */
function bytesToHuman(n: number): string {
  let i = 0;
  while (i < 5 && n >= 1024 ** (i + 1)) i++;
  return i === 0 ? `${n}B` : `${(n / 1024 ** i).toFixed(2)}${'BKMGTP'[i]}`;
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
  /** job id → when it expires (PEXPIRE), with its children list and chunk results */
  private readonly expiry = new Map<string, number>();
  private readonly queues = new Map<string, Queue>();
  /** state → top-level job id → time of its last change */
  private readonly states = new Map<string, ZSet>();
  /** PENDING, STARTED → how many queued top-level jobs are in that state (the counts hash) */
  private readonly counts = new Map<string, number>();
  /** top-level job id → created at */
  private readonly allJobs: ZSet = new Map();
  private readonly dlq: ZSet = new Map();
  private readonly events: JobEvent[] = [];
  private lastId: StreamId = [0, 0];
  private readonly readers: Waiter[] = [];
  /** role → node id → {until, info as JSON with seenAt} */
  private readonly nodes = new Map<string, Map<string, { until: number; value: string }>>();
  private readonly locks = new Map<string, { holder: string; until: number }>();
  /** seed 004: queues ever enqueued to, once-keys → until, bots, the datalake */
  private readonly knownQueueNames = new Set<string>();
  private readonly onceKeys = new Map<string, number>();
  /** idempotency key → its job, the type and params it was made with, and when it expires (null: while the job runs) */
  private readonly idemKeys = new Map<string, { jobId: string; fp: string; until: number | null }>();
  /** name → the schedule as JSON (the schedules hash) */
  private readonly schedules = new Map<string, string>();
  private readonly botRecs = new Map<string, Rec>();
  /** sha256 of a bot token → bot id */
  private readonly botTokens = new Map<string, string>();
  /** bot id → registered at */
  private readonly botsRegistered: ZSet = new Map();
  /** bot id → last heartbeat, for the bots that are up */
  private readonly botsUp: ZSet = new Map();
  private readonly lake = new MemoryLake();
  /** the abacus's running sum (the `abacus` key) */
  private sum = 0n;
  /** rate-limit bucket → times of the requests it let through in the window, oldest first */
  private readonly rates = new Map<string, number[]>();
  private rateHits = 0;
  private rateWindowMs = 0;
  /** the dashboard's history: bucket start → its fields and when it expires (the PEXPIRE) */
  private readonly history = new Map<number, { fields: Rec; until: number }>();
  /** the time of the step in progress: a script's `now` */
  private at = 0;
  private closed = false;

  /** the store's clock (a script's TIME) */
  private readonly clock: () => number;

  constructor(opts: Partial<StoreOptions> = {}) {
    this.options = { ...DEFAULT_STORE_OPTIONS, ...opts };
    this.clock = this.options.now ?? Date.now;
  }

  /** the raw structures, for the tests that compare them with Redis's keys (test/helpers/twins.ts) */
  inside() {
    return {
      record: (id: string): Readonly<Rec> | undefined => this.rec(id),
      children: this.children as ReadonlyMap<string, readonly string[]>,
      queues: this.queues as ReadonlyMap<string, Readonly<Queue>>,
      states: this.states as ReadonlyMap<string, ZSet>,
      counts: this.counts as ReadonlyMap<string, number>,
      allJobs: this.allJobs,
      dlq: this.dlq,
      bots: this.botRecs as ReadonlyMap<string, Readonly<Rec>>,
    };
  }

  /** start an atomic step: read the clock once */
  private step(): number {
    return (this.at = this.clock());
  }

  async time(): Promise<number> {
    return this.clock();
  }

  // ---- records, with lazy expiry ----

  /** drop a finished job whose time is up, with its children list and chunk results */
  private expireIfDue(id: string): void {
    const until = this.expiry.get(id);
    if (until === undefined || this.clock() <= until) return;
    for (const m of [this.expiry, this.jobs, this.children, this.chunkResults]) m.delete(id);
  }

  private rec(id: string): Rec | undefined {
    this.expireIfDue(id);
    return this.jobs.get(id);
  }

  private getJobs(ids: string[]): Job[] {
    return ids.flatMap((id) => {
      const r = this.rec(id);
      return r ? [decodeJob(r, id)] : [];
    });
  }

  private queue(name: string): Queue {
    return getOr(this.queues, name, () => ({
      waits: Array.from({ length: MAX_PRIORITY + 1 }, () => []), paused: false, active: new Map(), delayed: new Map(), marker: false, waiters: [],
    }));
  }

  private stateIndex(state: string): ZSet {
    return getOr(this.states, state, () => new Map());
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

  /** ZADD marker 0 m: one pending wake-up at most, served to one waiter once the step is over */
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
    const ms = Math.floor(this.at);
    this.lastId = ms > this.lastId[0] ? [ms, 0] : [this.lastId[0], this.lastId[1] + 1];
    const progress = total ? { completed: Number(completed), total: Number(total) } : null;
    this.events.push({ id: this.lastId.join('-'), jobId: id, state, progress, at: this.at });
    if (this.events.length > MAX_EVENTS) this.events.splice(0, this.events.length - MAX_EVENTS);
    for (const wake of [...this.readers]) wake(true);
  }

  /** lib.lua's setState: move a job to a new state in one write (with `extra` fields), then moved() */
  private setState(id: string, rec: Rec, to: JobState, extra: Rec = {}): void {
    const from = rec.state as JobState;
    checkTransition(from, to); // before anything is written, as lib.lua's setState
    Object.assign(rec, { state: to, updated_at: String(this.at) }, extra);
    this.moved(id, rec, from, to);
  }

  /** lib.lua's moved: the index move (as its flush writes it) and the event */
  private moved(id: string, rec: Rec, from: JobState | null, to: JobState): void {
    if (!rec.parent_id) this.indexMove(id, from, to, rec.queue !== '');
    if (rec.total) this.emit(id, to, rec.completed, rec.total);
    else this.emit(id, to);
  }

  /**
   * lib.lua's indexMove and flush: a top-level job's entry in the per-state index, except where a
   * queue holds it (a queued PENDING or STARTED job: QUEUE_HELD), which is only counted
   */
  private indexMove(id: string, from: JobState | null, to: JobState, queued: boolean): void {
    if (from === to) return;
    if (from !== null) {
      if (queued && QUEUE_HELD.has(from)) this.counts.set(from, (this.counts.get(from) ?? 0) - 1);
      else this.stateIndex(from).delete(id);
    }
    if (queued && QUEUE_HELD.has(to)) this.counts.set(to, (this.counts.get(to) ?? 0) + 1);
    else this.stateIndex(to).set(id, this.at);
  }

  private requeueAtHead(id: string, rec: Rec): void {
    this.queue(rec.queue).waits[priorityOf(rec)].unshift(id);
    this.signal(rec.queue);
  }

  /** lib.lua's unqueue: out of its wait list (LREM) and the delayed set */
  private unqueue(id: string, rec: Rec): void {
    const q = this.queue(rec.queue);
    const p = priorityOf(rec);
    q.waits[p] = q.waits[p].filter((w) => w !== id);
    q.delayed.delete(id);
  }

  /** fields that end a hold: the token is cleared ('' means not held) */
  private released(extra: Rec): Rec {
    return { token: '', ...extra };
  }

  /** the job reaches SUCCESS, FAILURE or DEAD; then it expires or, DEAD, waits in the DLQ */
  private finish(id: string, rec: Rec, to: JobState, extra: Rec = {}): void {
    this.setState(id, rec, to, { ...this.released(extra), finished_at: String(this.at) });
    if (rec.queue) this.queue(rec.queue).active.delete(id);
    if (to === 'DEAD') this.dlq.set(id, this.at);
    else {
      this.expiry.set(id, this.at + this.options.resultTtlMs);
      const idem = rec.idem_key ? this.idemKeys.get(rec.idem_key) : undefined;
      if (idem) idem.until = this.at + this.options.resultTtlMs; // the key lives as long as the record
    }
    this.lake.append(id, rec, to, this.at, extra);
  }

  /** lib.lua's failParent: the parent fails, its other unfinished chunks (waiting or held) are cancelled */
  private failParent(child: Rec, reason: string): void {
    const parentId = child.parent_id;
    const parent = parentId ? this.rec(parentId) : undefined;
    if (!parent || FINAL.has(parent.state)) return;
    this.finish(parentId, parent, 'FAILURE', { error: `chunk ${child.chunk_index} failed: ${reason}` });
    this.endChunks(parentId, 'FAILURE', `cancelled: parent job ${parentId} failed`);
  }

  /** lib.lua's endChunks: a parent's unfinished chunks, waiting or held, end `to` */
  private endChunks(parentId: string, to: JobState, reason: string): void {
    for (const chunk of [...(this.children.get(parentId) ?? [])]) {
      const c = this.rec(chunk);
      if (!c || FINAL.has(c.state)) continue;
      if (RUNNABLE.has(c.state)) this.unqueue(chunk, c);
      this.finish(chunk, c, to, { error: reason }); // a held one: unleased, its token cleared
    }
  }

  /** the record `token` holds, or the error the script's code maps to (MISSING, TOKEN_MISMATCH) */
  private holder(id: string, token: string): Rec {
    const rec = this.rec(id);
    if (!rec) throw new NotFoundError(`job ${id} not found`);
    if (!rec.token || rec.token !== token) throw rec.state === 'CANCELLED' ? new JobCancelledError(id) : new LeaseLostError(id);
    return rec;
  }

  // ---- enqueueJobs.lua ----

  /** write new jobs; answers them as created, like the Redis adapter */
  private insert(rows: JobRow[], idem?: { key: string; fp: string }): Job[] {
    const now = this.step();
    for (const j of rows) {
      // HSET: an existing record keeps the fields not named here (and its TTL)
      const rec = Object.assign(this.rec(j.id) ?? {}, newJobFields(j, now));
      this.jobs.set(j.id, rec);
      if (j.parent_id === '') {
        this.allJobs.set(j.id, now);
        this.indexMove(j.id, null, 'PENDING', j.queue !== '');
      } else {
        this.expireIfDue(j.parent_id);
        getOr(this.children, j.parent_id, () => []).push(j.id);
      }
      if (j.queue !== '') {
        const q = this.queue(j.queue);
        if (j.delay_ms !== '' && Number(j.delay_ms) > 0) q.delayed.set(j.id, now + Number(j.delay_ms));
        else q.waits[j.priority === '' ? DEFAULT_PRIORITY : Number(j.priority)].push(j.id);
        this.knownQueueNames.add(j.queue);
        this.signal(j.queue);
      }
      this.emit(j.id, 'PENDING', j.total === '' ? '' : '0', j.total);
    }
    if (idem) this.idemKeys.set(idem.key, { jobId: rows[0].id, fp: idem.fp, until: null }); // enqueueJobs.lua's HSET idem
    return rows.map((r) => createdJob(r, now));
  }

  async enqueue(jobs: NewJob[]): Promise<Job[]> {
    return this.insert(jobs.map((j) => jobRow(j)));
  }

  async enqueueFlow(flow: FlowSpec): Promise<{ parent: Job; children: Job[] }> {
    const [parent, ...children] = this.insert(flowRows(flow));
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
    if (q.paused) return { jobs: [], nextRunAt: null, now };
    for (const id of zrangeByScore(q.delayed, now, 1000).reverse()) {
      q.delayed.delete(id);
      const rec = this.rec(id);
      if (rec?.state === 'PENDING') rec.run_at = ''; // a delayed job is due (a retry keeps its run_at until it is claimed)
      q.waits[rec ? priorityOf(rec) : DEFAULT_PRIORITY].unshift(id);
    }
    const jobs: ClaimedJob[] = [];
    // the most urgent non-empty wait list first, FIFO within it
    const nextReady = () => q.waits.find((w) => w.length > 0)?.shift();
    while (jobs.length < opts.max) {
      const id = nextReady();
      if (id === undefined) break;
      const rec = this.rec(id);
      if (!rec || !RUNNABLE.has(rec.state)) continue; // cancelled or expired while waiting
      const token = `${base}.${jobs.length + 1}`;
      const fields: Rec = { attempts: String(Number(rec.attempts ?? 0) + 1), token, handled_by: opts.consumer, started_at: String(now) };
      if (rec.state === 'RETRY') fields.run_at = ''; // the only state with a run_at here (a delayed job's is cleared when it is due)
      this.setState(id, rec, 'STARTED', fields);
      q.active.set(id, now + opts.leaseMs);
      const parent = rec.parent_id ? this.rec(rec.parent_id) : undefined;
      if (parent?.state === 'PENDING') this.setState(rec.parent_id, parent, 'STARTED', { started_at: String(now) });
      jobs.push({ token, job: claimView({ ...rec, id }, { queue, consumer: opts.consumer, now }) });
    }
    if (waitingIn(q) > 0) this.signal(queue);
    const next = zsorted(q.delayed)[0];
    return { jobs, nextRunAt: next ? next[1] : null, now };
  }

  async waitForWork(queue: string, timeoutMs: number): Promise<boolean> {
    if (this.closed) return false;
    const q = this.queue(queue);
    if (!q.marker) return this.block(q.waiters, Math.max(10, Math.round(timeoutMs)));
    q.marker = false;
    return true;
  }

  // ---- renewLease.lua, completeJobs.lua (one job per call), failJob.lua, releaseJob.lua ----

  async renew(jobId: string, token: string, leaseMs: number): Promise<void> {
    const now = this.step();
    this.extendLease(jobId, this.holder(jobId, token), now + leaseMs);
  }

  /** renewLease.lua's ZADD XX: the lease set alone holds the deadline */
  private extendLease(jobId: string, rec: Rec, until: number): void {
    const active = this.queue(rec.queue).active;
    if (active.has(jobId)) active.set(jobId, until); // ZADD XX
  }

  async complete(jobId: string, token: string, result: unknown): Promise<void> {
    this.step();
    this.completeJob(jobId, token, result);
  }

  // ---- completeAndClaim.lua ----

  async completeAndClaim(completions: Completion[], queue: string, opts: ClaimOptions): Promise<CompleteAndClaimResult> {
    const base = tokenBase(opts.consumer);
    this.step();
    const errors = completions.map((c) => {
      try {
        this.completeJob(c.jobId, c.token, c.result);
        return null;
      } catch (err) {
        return err as Error;
      }
    });
    return { errors, claim: this.claimFrom(queue, opts, base) };
  }

  /** lib.lua's completeJob (completeJobs.lua, completeBotJob.lua) */
  private completeJob(jobId: string, token: string, result: unknown): void {
    const value = JSON.stringify(result ?? null);
    const now = this.at;
    const rec = this.holder(jobId, token);
    if (rec.parent_id && !isLuaNumber(value)) throw new ValidationError(`the result of chunk ${jobId} must be a number`);
    this.finish(jobId, rec, 'SUCCESS', { result: value });

    const parentId = rec.parent_id ?? '';
    const parent = parentId === '' ? undefined : this.rec(parentId);
    if (!parent || FINAL.has(parent.state)) return;
    const results = getOr(this.chunkResults, parentId, () => new Map<string, string>());
    if (results.has(rec.chunk_index)) return; // HSETNX: once per chunk index
    results.set(rec.chunk_index, value);
    parent.completed = String(Number(parent.completed) + 1);
    if (Number(parent.completed) < Number(parent.total)) return this.setState(parentId, parent, 'PROGRESS');

    let sum = 0;
    for (const v of results.values()) sum += Number(v);
    const duration = (now - Number(parent.created_at)) / 1000;
    this.finish(parentId, parent, 'SUCCESS', { result: `{"prime_count":${sum.toFixed(0)},"duration_sec":${duration.toFixed(3)}}` });
  }

  async fail(jobId: string, token: string, error: string, target: FailTarget): Promise<void> {
    this.step();
    this.failJob(jobId, token, error, target);
  }

  /** lib.lua's failJob (failJob.lua, failBotJob.lua) */
  private failJob(jobId: string, token: string, error: string, target: FailTarget): void {
    const now = this.at;
    const rec = this.holder(jobId, token);
    if (target.to !== 'RETRY') {
      this.finish(jobId, rec, target.to, { error });
      return this.failParent(rec, error);
    }
    const q = this.queue(rec.queue);
    const runAt = now + target.delayMs;
    this.setState(jobId, rec, 'RETRY', this.released({ error, run_at: String(runAt) }));
    q.active.delete(jobId);
    if (runAt <= now) this.requeueAtHead(jobId, rec);
    else q.delayed.set(jobId, runAt);
  }

  async release(jobId: string, token: string): Promise<void> {
    this.step();
    this.releaseHeld(jobId, this.holder(jobId, token));
  }

  /** lib.lua's releaseHeld: back to the head of its queue, the attempt not counted */
  private releaseHeld(jobId: string, rec: Rec): void {
    this.setState(jobId, rec, 'PENDING', this.released({ attempts: String(Number(rec.attempts) - 1), handled_by: '' }));
    this.queue(rec.queue).active.delete(jobId);
    this.requeueAtHead(jobId, rec);
  }

  /** lib.lua's reclaim: take a held job back from a holder that is gone (RETRY, or DEAD) */
  private reclaim(id: string, rec: Rec, why: string): 'RETRY' | 'DEAD' {
    const reason = `${why} (held by ${rec.handled_by}, attempt ${rec.attempts} of ${rec.max_attempts})`;
    if (Number(rec.attempts) >= Number(rec.max_attempts)) {
      this.finish(id, rec, 'DEAD', { error: reason });
      this.failParent(rec, reason);
      return 'DEAD';
    }
    this.setState(id, rec, 'RETRY', this.released({ error: reason, run_at: String(this.at) }));
    this.queue(rec.queue).active.delete(id);
    this.requeueAtHead(id, rec);
    return 'RETRY';
  }

  // ---- reapExpiredLeases.lua ----

  async reap(queue: string, limit = 500): Promise<ReapResult> {
    const now = this.step();
    const q = this.queue(queue);
    const result: ReapResult = { requeued: [], dead: [] };
    for (const id of zrangeByScore(q.active, now, limit)) {
      const rec = this.rec(id);
      if (!rec || !HELD.has(rec.state)) {
        q.active.delete(id);
        continue;
      }
      if (this.reclaim(id, rec, 'lease expired') === 'DEAD') result.dead.push(id);
      else result.requeued.push(id);
    }
    // housekeeping (up to 10 × limit ids): expired jobs leave the indexes, old events the log
    for (const s of ['SUCCESS', 'FAILURE', 'CANCELLED']) {
      for (const id of zrangeByScore(this.stateIndex(s), now - this.options.resultTtlMs, limit * 10)) {
        this.stateIndex(s).delete(id);
        this.allJobs.delete(id);
      }
    }
    for (const id of [...this.expiry.keys()]) this.expireIfDue(id);
    const minMs = now - this.options.eventRetentionMs; // XTRIM MINID
    const keep = this.events.findIndex((e) => parseId(e.id)[0] >= minMs);
    this.events.splice(0, keep < 0 ? this.events.length : keep);
    return result;
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
    return decodeJob(rec, jobId);
  }

  async listJobs(query: ListQuery): Promise<ListResult> {
    const z = query.state && QUEUE_HELD.has(query.state) ? this.queueHeld(query.state) : query.state ? this.stateIndex(query.state) : this.allJobs;
    const offset = query.offset ?? 0;
    const limit = query.limit ?? 50;
    return { total: z.size, jobs: limit > 0 ? this.getJobs(zrangeRev(z, offset, offset + limit - 1)) : [] };
  }

  /**
   * the PENDING or STARTED top-level jobs → the time of their last change: those the index holds
   * (jobs on no queue) and those the queues hold (their wait lists and delayed sets, their lease
   * sets), as the Redis adapter lists them
   */
  private queueHeld(state: string): ZSet {
    const out: ZSet = new Map(this.stateIndex(state));
    const add = (id: string) => {
      const rec = this.rec(id);
      if (rec?.state === state && !rec.parent_id) out.set(id, Number(rec.updated_at ?? rec.created_at));
    };
    for (const q of this.queues.values()) {
      if (state === 'STARTED') for (const id of q.active.keys()) add(id);
      else for (const id of [...q.waits.flat(), ...q.delayed.keys()]) add(id);
    }
    return out;
  }

  async listDead(offset = 0, limit = 50): Promise<ListResult> {
    return { total: this.dlq.size, jobs: limit > 0 ? this.getJobs(zrangeRev(this.dlq, offset, offset + limit - 1)) : [] };
  }

  /** retryDeadJob.lua */
  async retryDead(jobId: string): Promise<Job> {
    this.step();
    const rec = this.rec(jobId);
    if (!rec) throw new NotFoundError(`job ${jobId} not found`);
    const parent = rec.parent_id ? this.rec(rec.parent_id) : undefined;
    if (rec.state !== 'DEAD' || (rec.parent_id && (!parent || FINAL.has(parent.state)))) {
      throw new ConflictError(`job ${jobId} is not in the dead-letter queue, or its parent job has finished`);
    }
    this.dlq.delete(jobId);
    return this.requeueAnew(jobId, rec);
  }

  /** retryFailedJob.lua */
  async retryFailed(jobId: string): Promise<Job> {
    this.step();
    const rec = this.rec(jobId);
    if (!rec) throw new NotFoundError(`job ${jobId} not found`);
    if (rec.state !== 'FAILURE' || rec.queue === '' || rec.parent_id) throw notRetryable(jobId);
    this.expiry.delete(jobId); // PERSIST
    return this.requeueAnew(jobId, rec);
  }

  /** lib.lua's requeueAnew: a finished job back at the tail of its queue as if new */
  private requeueAnew(jobId: string, rec: Rec): Job {
    this.setState(jobId, rec, 'PENDING', { attempts: '0', error: '', finished_at: '', handled_by: '', run_at: '' });
    const idem = rec.idem_key ? this.idemKeys.get(rec.idem_key) : undefined;
    if (idem) idem.until = null; // the key lives as long as the job again
    this.queue(rec.queue).waits[priorityOf(rec)].push(jobId);
    this.signal(rec.queue);
    return decodeJob(rec, jobId);
  }

  /** purgeDeadJobs.lua */
  async purgeDead(): Promise<number> {
    const ids = [...this.dlq.keys()];
    for (const id of ids) {
      this.jobs.delete(id);
      this.stateIndex('DEAD').delete(id);
      this.allJobs.delete(id);
      this.dlq.delete(id);
    }
    return ids.length;
  }

  async listChildren(parentId: string): Promise<Job[]> {
    this.expireIfDue(parentId);
    return this.getJobs(this.children.get(parentId) ?? []);
  }

  async countByState(): Promise<Record<JobState, number>> {
    return Object.fromEntries(JOB_STATES.map((s) => [s, (this.states.get(s)?.size ?? 0) + (this.counts.get(s) ?? 0)])) as Record<JobState, number>;
  }

  async queueDepth(queue: string): Promise<{ waiting: number; active: number; delayed: number }> {
    const q = this.queues.get(queue);
    return { waiting: q ? waitingIn(q) : 0, active: q?.active.size ?? 0, delayed: q?.delayed.size ?? 0 };
  }

  async pauseQueue(queue: string): Promise<void> {
    this.queue(queue).paused = true;
    this.knownQueueNames.add(queue);
  }

  async resumeQueue(queue: string): Promise<void> {
    this.queue(queue).paused = false;
    this.signal(queue);
  }

  async listQueues(): Promise<QueueInfo[]> {
    return Promise.all([...this.knownQueueNames].sort().map(async (name) => ({ name, ...(await this.queueDepth(name)), paused: this.queues.get(name)?.paused ?? false })));
  }

  // ---- enqueueJobs.lua with an idempotency key, cancelJob.lua ----

  async submit(work: NewJob | FlowSpec): Promise<Submitted> {
    const first = 'parent' in work ? work.parent : work;
    const rows = 'parent' in work ? flowRows(work) : [jobRow(work)];
    const key = first.idempotencyKey;
    if (key) {
      const used = this.idemKeys.get(key);
      const job = used && (used.until === null || this.clock() <= used.until) ? this.rec(used.jobId) : undefined;
      if (used && job) {
        if (used.fp !== fingerprint(first)) throw idempotencyConflict(key, used.jobId);
        return { job: decodeJob(job, used.jobId), children: [], existing: true };
      }
    }
    const [job, ...children] = this.insert(rows, key ? { key, fp: fingerprint(first) } : undefined);
    return { job, children, existing: false };
  }

  async cancel(jobId: string): Promise<Job> {
    this.step();
    let id = jobId;
    let rec = this.rec(id);
    if (rec?.parent_id) rec = this.rec((id = rec.parent_id));
    if (!rec) throw new NotFoundError(`job ${jobId} not found`);
    if (FINAL.has(rec.state)) throw cancelConflict(jobId, rec.state);
    if (RUNNABLE.has(rec.state) && rec.queue !== '') this.unqueue(id, rec);
    this.finish(id, rec, 'CANCELLED', { error: 'cancelled' });
    if (rec.total) this.endChunks(id, 'CANCELLED', `cancelled: parent job ${id} was cancelled`);
    return decodeJob(rec, id);
  }

  async cancelledAmong(jobIds: string[]): Promise<string[]> {
    return jobIds.filter((id) => this.rec(id)?.state === 'CANCELLED');
  }

  // ---- events ----

  async lastEventId(): Promise<string> {
    return this.events.at(-1)?.id ?? '0';
  }

  private eventsAfter(after: StreamId, count: number): JobEvent[] {
    let [lo, hi] = [0, this.events.length];
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (idAfter(parseId(this.events[mid].id), after)) hi = mid;
      else lo = mid + 1;
    }
    return this.events.slice(lo, lo + count);
  }

  async readEvents(afterId: string, blockMs: number, count = 500): Promise<JobEvent[]> {
    const after = afterId === '$' ? this.lastId : parseId(afterId);
    const found = this.eventsAfter(after, count);
    if (found.length > 0 || blockMs <= 0 || this.closed) return found;
    return (await this.block(this.readers, blockMs)) ? this.eventsAfter(after, count) : [];
  }

  // ---- nodes and locks ----

  async heartbeat(role: string, nodeId: string, ttlMs: number, info: Record<string, unknown> = {}): Promise<void> {
    const now = this.clock();
    getOr(this.nodes, role, () => new Map()).set(nodeId, { until: now + ttlMs, value: JSON.stringify({ ...info, seenAt: now }) });
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

  // ---- seed 004: batches and leadership (enqueueJobs.lua with a once-key, holdLock.lua, releaseLock.lua) ----

  async enqueueOnce(onceKey: string, ttlMs: number, jobs: NewJob[]): Promise<Job[] | null> {
    return this.insertOnce(onceKey, ttlMs, jobs);
  }

  // ---- enqueueScheduled.lua, and the schedules hash ----

  async enqueueScheduled(schedule: string, slot: string, onceKey: string, ttlMs: number, jobs: NewJob[]): Promise<Job[] | null> {
    const made = this.insertOnce(onceKey, ttlMs, jobs);
    for (const j of made ?? []) Object.assign(this.jobs.get(j.id)!, { schedule, slot });
    return made && made.map((j) => ({ ...j, schedule, slot }));
  }

  private insertOnce(onceKey: string, ttlMs: number, jobs: NewJob[]): Job[] | null {
    const rows = jobs.map((j) => jobRow(j));
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

  // ---- seed 004: bots (registerBot.lua, heartbeatBot.lua, claimJobForBot.lua, startJob.lua, ...) ----

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

  private sweepRates(now: number): void {
    for (const [bucket, log] of this.rates) if (log.length === 0 || log[log.length - 1] <= now - this.rateWindowMs) this.rates.delete(bucket);
  }

  // ---- the dashboard's history (recordHistory.lua, readHistory.lua) ----

  async recordHistory(bucketMs: number, keepMs: number, add: Record<string, number>, set: Record<string, string> = {}): Promise<void> {
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
    return { connected_clients: null, total_commands_processed: null, used_memory_human: bytesToHuman(process.memoryUsage().heapUsed) };
  }

  /** memory is always there (the process's heap is not bounded like maxmemory) */
  async condition(): Promise<StoreState> {
    return { condition: null, message: null };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const q of this.queues.values()) for (const w of [...q.waiters]) w(false);
    for (const w of [...this.readers]) w(false);
  }
}

/** what Lua's tonumber accepts here: a JSON number (chunk results are counts) */
function isLuaNumber(json: string): boolean {
  return json.trim() !== '' && Number.isFinite(Number(json));
}
