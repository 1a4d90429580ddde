/**
 * The memory adapter's one shared part (each concern's module holds it; src/store/memory.ts says
 * what the adapter is): every structure a Redis key holds, the records with their lazy expiry,
 * and lib.lua's helpers, the moves every transition makes (setState, finish, the index and the
 * event log).
 */
import { checkTransition, type DedupeMode, Job, JobState, MAX_PRIORITY } from '../../core/job';
import { JobCancelledError, LeaseLostError, NotFoundError } from '../../core/errors';
import { decodeJob } from '../codec';
import { LakeData } from './lake-data';
import type { JobEvent, StoreOptions } from '../types';
import { DEFAULT_STORE_OPTIONS } from '../types';
import {
  pushGrouped,
  Rec,
  Reaper,
  ZSet,
  Queue,
  Waiter,
  StreamId,
  RUNNABLE,
  FINAL,
  COUNTED_NOT_INDEXED,
  priorityOf,
  waitsOf,
  waitingInLists,
  MAX_EVENTS,
  MAX_TIMER_MS,
  getOr,
} from './structures';

export class MemoryCore {
  readonly options: StoreOptions;

  readonly jobs = new Map<string, Rec>();
  /** job:<id>:log: each job's log lines and when they expire */
  readonly jobLogs = new Map<string, { lines: string[]; until: number }>();
  /** parent id → child ids, in chunk order */
  readonly children = new Map<string, string[]>();
  /** parent id → chunk index → chunk result (recorded once per index) */
  readonly chunkResults = new Map<string, Map<string, string>>();
  /** job id → when it expires (PEXPIRE), with its children list and chunk results */
  readonly expiry = new Map<string, number>();
  readonly queues = new Map<string, Queue>();
  /** state → top-level job id → time of its last change */
  readonly states = new Map<string, ZSet>();
  /** PENDING, STARTED → how many queued top-level jobs are in that state (the counts hash) */
  readonly counts = new Map<string, number>();
  /** top-level job id → created at */
  readonly allJobs: ZSet = new Map();
  readonly dlq: ZSet = new Map();
  readonly events: JobEvent[] = [];
  lastId: StreamId = [0, 0];
  readonly readers: Waiter[] = [];
  /** role → node id → {until, info as JSON with seenAt} */
  readonly nodes = new Map<string, Map<string, { until: number; value: string }>>();
  readonly locks = new Map<string, { holder: string; until: number }>();
  /** queues ever enqueued to, once-keys → until, bots, the datalake */
  readonly knownQueueNames = new Set<string>();
  readonly onceKeys = new Map<string, number>();
  /** idempotency key → its job, the type and params it was made with, and when it expires (null: while the job runs) */
  readonly idemKeys = new Map<string, { jobId: string; fp: string; until: number | null }>();
  /** a debounce or throttle window (dedupeScope) → its job, mode, type, cap and when it expires (the dedupe keys) */
  readonly dedupeKeys = new Map<
    string,
    { jobId: string; mode: DedupeMode; type: string; cap: number | null; until: number }
  >();
  /** how many windows dedupeKeys may hold before its lapsed ones are swept out (twice what stayed at the last sweep) */
  dedupeSweepAt = 1000;
  /** name → the schedule as JSON (the schedules hash) */
  readonly schedules = new Map<string, string>();
  readonly botRecs = new Map<string, Rec>();
  /** sha256 of a bot token → bot id */
  readonly botTokens = new Map<string, string>();
  /** bot id → registered at */
  readonly botsRegistered: ZSet = new Map();
  /** bot id → last heartbeat, for the bots that are up */
  readonly botsUp: ZSet = new Map();
  readonly lake = new LakeData();
  /** the abacus's running sum (the `abacus` key) */
  sum = 0n;
  /** rate-limit bucket → times of the requests it let through in the window, oldest first */
  readonly rates = new Map<string, number[]>();
  rateHits = 0;
  rateWindowMs = 0;
  /** a quota's budgets (the budget keys): bucket → what it holds and when */
  readonly budgets = new Map<string, { tokens: number; at: number }>();
  /** a principal's jobs that may not have finished (the owned keys): owner → job id → when last looked at, in that order */
  readonly owned = new Map<string, Map<string, number>>();
  /** the dashboard's history: bucket start → its fields and when it expires (the PEXPIRE) */
  readonly history = new Map<number, { fields: Rec; until: number }>();
  /** the reapers' looks, by queue ('q:<queue>') and for the bots ('bots'): lib-state.lua's reaper hashes */
  readonly reapers = new Map<string, Reaper>();
  /** a flow's node finished (lib-state.lua's finish calls lib-flow.lua's flowNodeFinished): set by MemoryFlows */
  onFlowNode: (flowId: string, id: string, to: JobState) => void = () => {};
  /** a DEAD flow node retried by hand (memory/flows.ts sets it: lib-flow.lua's reopenNode) */
  onFlowNodeRetried: (flowId: string, id: string) => void = () => {};
  /** whether a flow is still running (K.flowRecord's state): set by MemoryFlows */
  flowRunning: (flowId: string) => boolean = () => false;
  /** the time of the step in progress: a script's `now` */
  at = 0;
  closed = false;

  /** the store's clock (a script's TIME) */
  readonly clock: () => number;

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
      windows: this.dedupeKeys as ReadonlyMap<
        string,
        Readonly<{ jobId: string; mode: string; type: string; cap: number | null }>
      >,
    };
  }

  /** start an atomic step: read the clock once */
  step(): number {
    return (this.at = this.clock());
  }

  // ---- records, with lazy expiry ----

  /** drop a finished job whose time is up, with its children list and chunk results */
  expireIfDue(id: string): void {
    const until = this.expiry.get(id);
    if (until === undefined || this.clock() <= until) return;
    for (const m of [this.expiry, this.jobs, this.children, this.chunkResults]) m.delete(id);
  }

  rec(id: string): Rec | undefined {
    this.expireIfDue(id);
    return this.jobs.get(id);
  }

  getJobs(ids: string[]): Job[] {
    return ids.flatMap((id) => {
      const r = this.rec(id);
      return r ? [decodeJob(r, id)] : [];
    });
  }

  /**
   * lib-state.lua's reapableUpTo (the gap rule): a look more than graceMs / 2 after the one before
   * gives what lapsed since that look graceMs more; answers the deadline up to which lapsed holds
   * may be taken back now
   */
  reapableUpTo(reaper: Reaper, graceMs: number, now: number): number {
    if (reaper.at !== null && now - reaper.at > graceMs / 2) {
      reaper.gapFrom = reaper.at;
      reaper.graceUntil = now + graceMs;
    }
    reaper.at = now;
    return reaper.graceUntil !== null && now < reaper.graceUntil ? reaper.gapFrom : now;
  }

  reaper(name: string): Reaper {
    return getOr(this.reapers, name, () => ({ at: null, gapFrom: 0, graceUntil: null, leaseMs: null }));
  }

  queue(name: string): Queue {
    const lists = () => Array.from({ length: MAX_PRIORITY + 1 }, (): string[] => []);
    return getOr(this.queues, name, () => ({
      waits: lists(),
      cpuWaits: lists(),
      paused: false,
      active: new Map(),
      delayed: new Map(),
      marker: false,
      cpuMarker: false,
      waiters: [],
      cpuWaiters: [],
      lanes: { '': { ring: [], waits: new Map() }, '1': { ring: [], waits: new Map() } },
      groupHeld: new Map(),
      groupRunning: new Map(),
      flow: null,
      heldBack: 0,
      heldBackRate: 0,
      rateLogs: new Map(),
    }));
  }

  stateIndex(state: string): ZSet {
    return getOr(this.states, state, () => new Map());
  }

  /** wait in each of these lists until woken from one (true), or ms pass or `signal` aborts (false) */
  block(lists: Waiter[][], ms: number, signal?: AbortSignal): Promise<boolean> {
    return new Promise((resolve) => {
      const done: Waiter = (woken) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', aborted);
        for (const waiters of lists) {
          const i = waiters.indexOf(done);
          if (i >= 0) waiters.splice(i, 1);
        }
        resolve(woken);
      };
      const aborted = () => done(false);
      const timer = setTimeout(() => done(false), Math.min(ms, MAX_TIMER_MS));
      signal?.addEventListener('abort', aborted, { once: true });
      for (const waiters of lists) waiters.push(done);
    });
  }

  // ---- lib.lua ----

  /**
   * ZADD marker 0 m (cpu: the CPU lists' marker): one pending wake-up at most, served to one
   * waiter (of CPU work: one that waits for it) once the step is over
   */
  signal(name: string, cpu = false): void {
    const q = this.queue(name);
    const marker = cpu ? 'cpuMarker' : 'marker';
    const waiters = cpu ? q.cpuWaiters : q.waiters;
    if (q[marker]) return;
    q[marker] = true;
    queueMicrotask(() => {
      if (!q[marker] || waiters.length === 0) return;
      q[marker] = false;
      waiters[0](true);
    });
  }

  emit(id: string, state: JobState, completed = '', total = ''): void {
    const ms = Math.floor(this.at);
    this.lastId = ms > this.lastId[0] ? [ms, 0] : [this.lastId[0], this.lastId[1] + 1];
    const progress = total ? { completed: Number(completed), total: Number(total) } : null;
    this.events.push({ id: this.lastId.join('-'), jobId: id, state, progress, at: this.at });
    if (this.events.length > MAX_EVENTS) this.events.splice(0, this.events.length - MAX_EVENTS);
    for (const wake of [...this.readers]) wake(true);
  }

  /** lib.lua's setState: move a job to a new state in one write (with `extra` fields), then moved() */
  setState(id: string, rec: Rec, to: JobState, extra: Rec = {}): void {
    const from = rec.state as JobState;
    checkTransition(from, to); // before anything is written, as lib.lua's setState
    Object.assign(rec, { state: to, updated_at: String(this.at) }, extra);
    this.moved(id, rec, from, to);
  }

  /** lib.lua's moved: the index move (as its flush writes it) and the event */
  moved(id: string, rec: Rec, from: JobState | null, to: JobState): void {
    if (!rec.parent_id) this.indexMove(id, from, to, rec.queue !== '');
    if (rec.total) this.emit(id, to, rec.completed, rec.total);
    else this.emit(id, to);
  }

  /**
   * lib.lua's indexMove and flush: a top-level job's entry in the per-state index, except where a
   * queue holds it (a queued PENDING or STARTED job: COUNTED_NOT_INDEXED), which is only counted
   */
  indexMove(id: string, from: JobState | null, to: JobState, queued: boolean): void {
    if (from === to) return;
    if (from !== null) {
      if (queued && COUNTED_NOT_INDEXED.has(from)) this.counts.set(from, (this.counts.get(from) ?? 0) - 1);
      else this.stateIndex(from).delete(id);
    }
    if (queued && COUNTED_NOT_INDEXED.has(to)) this.counts.set(to, (this.counts.get(to) ?? 0) + 1);
    else this.stateIndex(to).set(id, this.at);
  }

  requeueAtHead(id: string, rec: Rec): void {
    this.pushWaiting(id, rec, true);
    this.signal(rec.queue, rec.cpu === '1');
  }

  /** a job waits in its queue: at the head or the tail of its list, or of its group's (pushGrouped) */
  pushWaiting(id: string, rec: Rec, head: boolean): void {
    const q = this.queue(rec.queue);
    if (rec.group) return pushGrouped(q, id, rec, head);
    const list = waitsOf(q, rec)[priorityOf(rec)];
    if (head) list.unshift(id);
    else list.push(id);
  }

  /** a held job of a queue is held no more (lib-state.lua's unlease and flush's freeSlots) */
  unlease(queue: string, id: string): void {
    const q = this.queue(queue);
    q.active.delete(id);
    const group = q.groupHeld.get(id);
    if (group !== undefined) {
      q.groupHeld.delete(id);
      const n = (q.groupRunning.get(group) ?? 0) - 1;
      if (n <= 0) q.groupRunning.delete(group);
      else q.groupRunning.set(group, n);
    }
    if (q.flow) {
      this.signal(queue);
      this.signal(queue, true);
    }
  }

  /** lib.lua's unqueue: out of its wait list (LREM) and the delayed set */
  unqueue(id: string, rec: Rec): void {
    const q = this.queue(rec.queue);
    q.delayed.delete(id);
    if (rec.group) {
      const lane = q.lanes[rec.cpu === '1' ? '1' : ''];
      const waits = lane.waits.get(rec.group);
      if (waits) waits[priorityOf(rec)] = waits[priorityOf(rec)].filter((w) => w !== id);
      if (!waits || waitingInLists(waits) === 0) {
        lane.waits.delete(rec.group);
        lane.ring = lane.ring.filter((g) => g !== rec.group); // a group left with no job leaves the ring
      }
      return;
    }
    const waits = waitsOf(q, rec);
    const p = priorityOf(rec);
    waits[p] = waits[p].filter((w) => w !== id);
    q.delayed.delete(id);
  }

  /** fields that end a hold: the token is cleared ('' means not held) */
  released(extra: Rec): Rec {
    return { token: '', ...extra };
  }

  /** the job reaches SUCCESS, FAILURE or DEAD; then it expires or, DEAD, waits in the DLQ */
  finish(id: string, rec: Rec, to: JobState, extra: Rec = {}): void {
    this.setState(id, rec, to, { ...this.released(extra), finished_at: String(this.at) });
    if (rec.queue) this.unlease(rec.queue, id);
    if (to === 'DEAD') this.dlq.set(id, this.at);
    else {
      this.expiry.set(id, this.at + this.options.resultTtlMs);
      const idem = rec.idem_key ? this.idemKeys.get(rec.idem_key) : undefined;
      if (idem) idem.until = this.at + this.options.resultTtlMs; // the key lives as long as the record
    }
    this.lake.append(id, rec, to, this.at, extra);
    if (rec.flow_id) this.onFlowNode(rec.flow_id, id, to);
  }

  /** lib.lua's failParent: the parent fails, its other unfinished chunks (waiting or held) are cancelled */
  failParent(child: Rec, reason: string): void {
    const parentId = child.parent_id;
    const parent = parentId ? this.rec(parentId) : undefined;
    if (!parent || FINAL.has(parent.state)) return;
    this.finish(parentId, parent, 'FAILURE', { error: `chunk ${child.chunk_index} failed: ${reason}` });
    this.endChunks(parentId, 'FAILURE', `cancelled: parent job ${parentId} failed`);
  }

  /** lib.lua's endChunks: a parent's unfinished chunks, waiting or held, end `to` */
  endChunks(parentId: string, to: JobState, reason: string): void {
    for (const chunk of [...(this.children.get(parentId) ?? [])]) {
      const c = this.rec(chunk);
      if (!c || FINAL.has(c.state)) continue;
      if (RUNNABLE.has(c.state)) this.unqueue(chunk, c);
      this.finish(chunk, c, to, { error: reason }); // a held one: unleased, its token cleared
    }
  }

  /** the record `token` holds, or the error the script's code maps to (MISSING, TOKEN_MISMATCH) */
  holder(id: string, token: string): Rec {
    const rec = this.rec(id);
    if (!rec) throw new NotFoundError(`job ${id} not found`);
    if (!rec.token || rec.token !== token)
      throw rec.state === 'CANCELLED' ? new JobCancelledError(id) : new LeaseLostError(id);
    return rec;
  }
}
