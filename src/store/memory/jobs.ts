/** The queue path (store.jobs), as the Redis adapter's redis/jobs.ts: what enqueueJobs.lua, claimJobs.lua and the other job scripts do. */
import {
  checkTransition,
  type DedupedJob,
  DEFAULT_PRIORITY,
  Job,
  JobState,
  NewJob,
  Progress,
  scopedIdempotencyKey,
} from '../../core/job';
import { NotFoundError } from '../../core/errors';
import { newJobId } from '../../core/ids';
import { EXPIRING_LIST } from '../../core/states';
import { claimView, decodeJob, logAttempt } from '../codec';
import {
  badChunkResult,
  cancelConflict,
  chunkResultFits,
  createdJob,
  dedupedOf,
  fingerprint,
  flowRows,
  idempotencyConflict,
  jobRow,
  JobRow,
  logLine,
  newJobFields,
  tokenBase,
  tokenBaseOf,
} from '../common';
import {
  DEFAULT_LEASE_MS,
  JOB_LOG_LINES,
  JOB_LOG_TTL_MS,
  type ClaimedJob,
  type ClaimOptions,
  type ClaimResult,
  type CompleteAndClaimResult,
  type Completion,
  type FailTarget,
  type FlowSpec,
  type ReapOptions,
  type ReapResult,
  type Submitted,
  type WaitAndClaimOptions,
  type WaitOptions,
} from '../types';
import {
  Rec,
  RUNNABLE,
  HELD,
  FINAL,
  priorityOf,
  waitsOf,
  pushGrouped,
  waitingInLists,
  getOr,
  noLimits,
  noneSet,
  rateRoom,
  zsorted,
  zrangeByScore,
  parseId,
} from './structures';
import type { JobsStore } from '../concerns';
import { BULK_KEY_TTL_MS, bulkRows, firstOf, madeRun, planBulk, repeatedRun, type BulkItem } from '../bulk';
import type { GroupLane } from './structures';
import { dedupedJob, submitDeduped } from './dedupe';
import type { MemoryCore } from './core';

export class MemoryJobs implements JobsStore {
  constructor(private readonly m: MemoryCore) {}

  // ---- enqueueJobs.lua ----

  /** write new jobs; answers them as created, like the Redis adapter */
  insert(rows: JobRow[], idem?: { key: string; fp: string }): Job[] {
    const now = this.m.step();
    for (const j of rows) {
      // HSET: an existing record keeps the fields not named here (and its TTL)
      const rec = Object.assign(this.m.rec(j.id) ?? {}, newJobFields(j, now));
      this.m.jobs.set(j.id, rec);
      if (j.parent_id === '') {
        this.m.allJobs.set(j.id, now);
        this.m.indexMove(j.id, null, 'PENDING', j.queue !== '');
      } else {
        this.m.expireIfDue(j.parent_id);
        getOr(this.m.children, j.parent_id, () => []).push(j.id);
      }
      if (j.queue !== '' && j.deps_left === '') {
        const q = this.m.queue(j.queue);
        const delayed = j.delay_ms !== '' && Number(j.delay_ms) > 0;
        if (delayed) q.delayed.set(j.id, now + Number(j.delay_ms));
        else if (j.group !== '') pushGrouped(q, j.id, rec, false);
        else waitsOf(q, j)[j.priority === '' ? DEFAULT_PRIORITY : Number(j.priority)].push(j.id);
        this.m.knownQueueNames.add(j.queue);
        this.m.signal(j.queue, !delayed && j.cpu === '1'); // a delayed one: a consumer learns its due time
      }
      // no event for a job's creation (lib-queue.lua says why)
    }
    if (idem) this.m.idemKeys.set(idem.key, { jobId: rows[0].id, fp: idem.fp, until: null }); // enqueueJobs.lua's HSET idem
    return rows.map((r) => createdJob(r, now));
  }

  async enqueue(jobs: NewJob[]): Promise<Job[]> {
    return this.insert(jobs.map((j) => jobRow(j)));
  }

  /** one run (one shard), once under a key, as enqueueBatch.lua keeps its once-key */
  async enqueueBulk(items: BulkItem[], key?: string): Promise<Submitted[]> {
    const [g] = planBulk(items, { shards: 1, start: 0, botQueue: '', key, newId: newJobId });
    if (!g) return [];
    const now = this.m.clock();
    for (const [k, until] of this.m.onceKeys) if (until <= now) this.m.onceKeys.delete(k);
    if (g.onceKey && this.m.onceKeys.has(g.onceKey)) {
      const found = g.items.map((item) => {
        const rec = this.m.rec(firstOf(item).id!);
        return rec ? decodeJob(rec, firstOf(item).id!) : null;
      });
      return repeatedRun(g, found, key!);
    }
    if (g.onceKey) this.m.onceKeys.set(g.onceKey, now + BULK_KEY_TTL_MS);
    return madeRun(g, this.insert(bulkRows(g.items)));
  }

  async enqueueFlow(flow: FlowSpec): Promise<{ parent: Job; children: Job[] }> {
    const [parent, ...children] = this.insert(flowRows(flow));
    return { parent, children };
  }

  // ---- claimJobs.lua ----

  async claim(queue: string, opts: ClaimOptions): Promise<ClaimResult> {
    const base = tokenBase(opts.consumer);
    this.m.step();
    return this.claimFrom(queue, opts, base);
  }

  /** lib.lua's claimFrom (claimJobs.lua, claimJobForBot.lua): up to max ordinary jobs, then up to maxCpu CPU jobs (none given: CPU jobs count in max) */
  claimFrom(queue: string, opts: ClaimOptions, base: string): ClaimResult {
    const now = this.m.at;
    const q = this.m.queue(queue);
    if (q.paused) return { jobs: [], nextRunAt: null, now };
    let cpuDue = false;
    for (const id of zrangeByScore(q.delayed, now, 1000).reverse()) {
      q.delayed.delete(id);
      const rec = this.m.rec(id);
      if (rec?.state === 'PENDING') rec.run_at = ''; // a delayed job is due (a retry keeps its run_at until it is claimed)
      if (rec?.cpu === '1') cpuDue = true;
      if (rec?.group) pushGrouped(q, id, rec, true);
      else waitsOf(q, rec)[rec ? priorityOf(rec) : DEFAULT_PRIORITY].unshift(id);
    }
    const jobs: ClaimedJob[] = [];
    /** lib-queue.lua's claimOne: hold one waiting job, unless it is no longer runnable */
    const claimOne = (id: string): boolean => {
      const rec = this.m.rec(id);
      if (!rec || !RUNNABLE.has(rec.state)) return false; // cancelled or expired while waiting
      const token = `${base}.${jobs.length + 1}`;
      const fields: Rec = {
        attempts: String(Number(rec.attempts ?? 0) + 1),
        token,
        handled_by: opts.consumer,
        started_at: String(now),
      };
      if (rec.state === 'RETRY') fields.run_at = ''; // the only state with a run_at here (a delayed job's is cleared when it is due)
      this.m.setState(id, rec, 'STARTED', fields);
      q.active.set(id, now + opts.leaseMs);
      const parent = rec.parent_id ? this.m.rec(rec.parent_id) : undefined;
      if (parent?.state === 'PENDING') this.m.setState(rec.parent_id, parent, 'STARTED', { started_at: String(now) });
      // the trace, group and flow only when asked for, as claimJobs.lua answers them
      const { trace: _trace, group: _group, flow_id: _flow, ...plain } = rec;
      const seen = opts.trace ? { ...rec, id } : { ...plain, id };
      jobs.push({ token, job: claimView(seen, { queue, consumer: opts.consumer, now }) });
      return true;
    };
    /** up to max jobs of one kind's lists (lib.lua's takeFrom): the most urgent non-empty wait list first, FIFO within it */
    const take = (waits: string[][], max: number): number => {
      let taken = 0;
      while (taken < max) {
        const id = waits.find((w) => w.length > 0)?.shift();
        if (id === undefined) break;
        if (claimOne(id)) taken++;
      }
      return taken;
    };
    const flow = q.flow;
    let heldBack = 0;
    let rateHeld = 0;
    /** lib-queue.lua's wakeAt: the earliest time something held back by a rate or a hold may start */
    let wake: number | null = null;
    const wakeAt = (at: number | null) => {
      if (at !== null && (wake === null || at < wake)) wake = at;
    };
    /** a hold that is over is dropped (lib-queue.lua's dropHold); answers whether one holds now */
    const holding = (f: NonNullable<typeof flow>, key: string): boolean => {
      const until = f.holds.get(key);
      if (until === undefined) return false;
      if (until > now) return (wakeAt(until), true);
      f.holds.delete(key);
      if (noneSet(f)) q.flow = null;
      return false;
    };
    const logOf = (key: string) => getOr(q.rateLogs, key, (): number[] => []);
    /** lib-queue.lua's takeGroups: one pass over the ring, each group at its limit (or its rate, or held) passed over */
    const takeGroups = (lane: GroupLane, max: number): number => {
      let taken = 0;
      for (let i = 0, len = lane.ring.length; i < len && taken < max; i++) {
        const g = lane.ring.shift()!;
        lane.ring.push(g);
        const limit = flow ? (flow.groups.get(g) ?? flow.groupConcurrency) : null;
        const rate = flow ? (flow.groupRates.get(g) ?? flow.groupRate) : null;
        if (limit !== null && (q.groupRunning.get(g) ?? 0) >= limit) {
          heldBack++;
          continue;
        }
        if (flow && holding(flow, `g:${g}`)) {
          rateHeld++;
          continue;
        }
        if (rate) {
          const { room, at } = rateRoom(logOf(`g:${g}`), rate, now);
          if (room <= 0) {
            rateHeld++;
            wakeAt(at);
            continue;
          }
        }
        const waits = lane.waits.get(g);
        const id = waits?.find((w) => w.length > 0)?.shift();
        if (!waits || waitingInLists(waits) === 0) {
          lane.ring.pop();
          lane.waits.delete(g);
        }
        if (id !== undefined && claimOne(id)) {
          taken++;
          q.groupRunning.set(g, (q.groupRunning.get(g) ?? 0) + 1);
          q.groupHeld.set(id, g);
          if (rate) logOf(`g:${g}`).push(now);
        }
      }
      return taken;
    };
    /** lib-queue.lua's takeKind: the lists alone, or rounds of one ungrouped job and one of each group */
    const takeKind = (waits: string[][], lane: GroupLane, max: number): number => {
      if (max <= 0 || lane.ring.length === 0) return take(waits, max);
      let taken = 0;
      let plain = true;
      while (taken < max) {
        const t1: number = plain ? take(waits, 1) : 0;
        plain = t1 > 0;
        const t2 = takeGroups(lane, max - taken - t1);
        taken += t1 + t2;
        if (t1 + t2 === 0) break;
      }
      return taken;
    };
    let max = opts.max;
    let maxCpu = opts.maxCpu ?? -1;
    let capped = false;
    let rateBound = false;
    let free = max + Math.max(maxCpu, 0);
    let cap: number | null = flow?.concurrency != null ? Math.max(0, flow.concurrency - q.active.size) : null;
    const rate = flow?.rate ?? null;
    if (flow && holding(flow, '')) [cap, rateBound] = [0, true];
    else if (rate) {
      const { room, at } = rateRoom(logOf(''), rate, now);
      if (cap === null || room < cap) [cap, rateBound] = [room, true];
      wakeAt(at);
    }
    if (cap !== null) {
      free = cap;
      if (free < max) [max, capped] = [free, true];
      if (maxCpu > free) [maxCpu, capped] = [free, true];
    }
    const taken = takeKind(q.waits, q.lanes[''], max);
    if (capped) {
      // the queue's limit, not the work, ended the claim
      if (taken >= max && rateBound) rateHeld++;
      else if (taken >= max) heldBack++;
      maxCpu = Math.min(maxCpu, free - taken);
    } else if (q.lanes[''].ring.length > 0) {
      if (taken >= max) this.m.signal(queue);
    } else if (waitingInLists(q.waits) > 0) this.m.signal(queue);
    if (maxCpu < 0) maxCpu = max - taken;
    const cpuTaken = maxCpu > 0 ? takeKind(q.cpuWaits, q.lanes['1'], maxCpu) : 0;
    // CPU work left: a consumer with a free thread looks (one with none does not wait for it)
    const cpuLeft = waitingInLists(q.cpuWaits) > 0 || q.lanes['1'].ring.length > 0;
    if (cpuLeft && !capped && (maxCpu > 0 ? cpuTaken >= maxCpu : cpuDue)) this.m.signal(queue, true);
    q.heldBack += heldBack;
    q.heldBackRate += rateHeld;
    if (rate && jobs.length > 0) {
      const log = logOf('');
      log.push(...jobs.map(() => now));
      if (jobs.length >= free) wakeAt(rateRoom(log, rate, now).at);
    }
    const next = zsorted(q.delayed)[0];
    // held back by a rate or a hold: the claimer looks again when one may start (no signal is left)
    const due = next ? next[1] : null;
    return { jobs, nextRunAt: wake !== null && (due === null || wake < due) ? wake : due, now };
  }

  async waitForWork(queue: string, timeoutMs: number, opts: WaitOptions = {}): Promise<boolean> {
    if (this.m.closed || opts.signal?.aborted) return false;
    const q = this.m.queue(queue);
    const ordinary = opts.ordinary !== false;
    if (ordinary && q.marker) q.marker = false;
    else if (opts.cpu && q.cpuMarker) q.cpuMarker = false;
    else
      return this.m.block(
        [...(ordinary ? [q.waiters] : []), ...(opts.cpu ? [q.cpuWaiters] : [])],
        Math.max(10, Math.round(timeoutMs)),
        opts.signal,
      );
    return true;
  }

  async waitAndClaim(queue: string, timeoutMs: number, opts: WaitAndClaimOptions): Promise<ClaimResult> {
    await this.waitForWork(queue, timeoutMs, opts);
    return this.claim(queue, opts);
  }

  // ---- renewLease.lua, completeJobs.lua (one job per call), failJob.lua, releaseJob.lua ----

  async renew(jobId: string, token: string, leaseMs: number): Promise<void> {
    const now = this.m.step();
    this.extendLease(jobId, this.m.holder(jobId, token), now + leaseMs);
  }

  // ---- reportProgress.lua ----

  async reportProgress(jobId: string, token: string, p: Progress): Promise<void> {
    this.m.step();
    const rec = this.m.holder(jobId, token);
    const from = rec.state as JobState;
    const to: JobState = from === 'STARTED' ? 'PROGRESS' : from; // the first report: reportProgress.lua
    if (to !== from) checkTransition(from, to);
    Object.assign(rec, {
      state: to,
      hp_completed: String(p.completed),
      hp_total: String(p.total),
      updated_at: String(this.m.at),
    });
    if (to !== from && !rec.parent_id) this.m.indexMove(jobId, from, to, rec.queue !== '');
    this.m.emit(jobId, to, String(p.completed), String(p.total));
  }

  /** renewLease.lua's ZADD XX: the lease set alone holds the deadline */
  extendLease(jobId: string, rec: Rec, until: number): void {
    const active = this.m.queue(rec.queue).active;
    if (active.has(jobId)) active.set(jobId, until); // ZADD XX
  }

  async complete(jobId: string, token: string, result: unknown): Promise<void> {
    this.m.step();
    this.completeJob(jobId, token, result);
  }

  // ---- completeAndClaim.lua ----

  async completeAndClaim(
    completions: Completion[],
    queue: string,
    opts: ClaimOptions,
  ): Promise<CompleteAndClaimResult> {
    const base = tokenBase(opts.consumer);
    this.m.step();
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
  completeJob(jobId: string, token: string, result: unknown): void {
    const value = JSON.stringify(result ?? null);
    const now = this.m.at;
    const rec = this.m.holder(jobId, token);
    if (rec.parent_id && !chunkResultFits(value, rec.params)) throw badChunkResult(jobId);
    this.m.finish(jobId, rec, 'SUCCESS', { result: value });

    const parentId = rec.parent_id ?? '';
    const parent = parentId === '' ? undefined : this.m.rec(parentId);
    if (!parent || FINAL.has(parent.state)) return;
    const results = getOr(this.m.chunkResults, parentId, () => new Map<string, string>());
    if (results.has(rec.chunk_index)) return; // HSETNX: once per chunk index
    results.set(rec.chunk_index, value);
    parent.completed = String(Number(parent.completed) + 1);
    if (Number(parent.completed) < Number(parent.total)) return this.m.setState(parentId, parent, 'PROGRESS');

    let sum = 0;
    for (const v of results.values()) sum += Number(v);
    const duration = Math.max(0, now - Number(parent.created_at)) / 1000;
    this.m.finish(parentId, parent, 'SUCCESS', {
      result: `{"prime_count":${sum.toFixed(0)},"duration_sec":${duration.toFixed(3)}}`,
    });
  }

  async fail(jobId: string, token: string, error: string, target: FailTarget): Promise<void> {
    this.m.step();
    this.failJob(jobId, token, error, target);
  }

  /** lib.lua's failJob (failJob.lua, failBotJob.lua) */
  failJob(jobId: string, token: string, error: string, target: FailTarget): void {
    const now = this.m.at;
    const rec = this.m.holder(jobId, token);
    if (target.to !== 'RETRY') {
      this.m.finish(jobId, rec, target.to, { error });
      return this.m.failParent(rec, error);
    }
    const q = this.m.queue(rec.queue);
    const runAt = now + target.delayMs;
    const log = logAttempt(rec, 'RETRY', error, now);
    this.m.setState(jobId, rec, 'RETRY', this.m.released({ error, run_at: String(runAt), attempts_log: log }));
    this.m.unlease(rec.queue, jobId);
    if (runAt <= now) this.m.requeueAtHead(jobId, rec);
    else q.delayed.set(jobId, runAt);
  }

  async release(jobId: string, token: string, holdMs?: number): Promise<void> {
    this.m.step();
    if (holdMs === undefined) this.releaseHeld(jobId, this.m.holder(jobId, token));
    else this.releaseHolding(jobId, token, holdMs);
  }

  /** lib-queue.lua's releaseHolding and holdFlow: its group (or its queue) starts nothing for holdMs; a longer hold wins */
  releaseHolding(jobId: string, token: string, holdMs: number): void {
    const rec = this.m.holder(jobId, token);
    this.releaseHeld(jobId, rec);
    if (rec.queue) {
      const q = this.m.queue(rec.queue);
      const f = q.flow ?? noLimits();
      const key = rec.group ? `g:${rec.group}` : '';
      const until = this.m.at + Math.max(0, Math.round(holdMs));
      if ((f.holds.get(key) ?? -Infinity) < until) f.holds.set(key, until);
      q.flow = f;
    }
  }

  /** lib.lua's releaseHeld: back to the head of its queue, the attempt not counted */
  releaseHeld(jobId: string, rec: Rec): void {
    this.m.setState(
      jobId,
      rec,
      'PENDING',
      this.m.released({ attempts: String(Number(rec.attempts) - 1), handled_by: '' }),
    );
    this.m.unlease(rec.queue, jobId);
    this.m.requeueAtHead(jobId, rec);
  }

  /** lib.lua's reclaim: take a held job back from a holder that is gone (RETRY, or DEAD) */
  reclaim(id: string, rec: Rec, why: string): JobState {
    const reason = `${why} (held by ${rec.handled_by}, attempt ${rec.attempts} of ${rec.max_attempts})`;
    if (Number(rec.attempts) >= Number(rec.max_attempts)) {
      this.m.finish(id, rec, 'DEAD', { error: reason });
      this.m.failParent(rec, reason);
      return 'DEAD';
    }
    const log = logAttempt(rec, 'RETRY', reason, this.m.at);
    this.m.setState(id, rec, 'RETRY', this.m.released({ error: reason, run_at: String(this.m.at), attempts_log: log }));
    this.m.unlease(rec.queue, id);
    this.m.requeueAtHead(id, rec);
    return 'RETRY';
  }

  // ---- reapExpiredLeases.lua ----

  async reap(queue: string, o: ReapOptions = {}): Promise<ReapResult> {
    const now = this.m.step();
    const q = this.m.queue(queue);
    const reaper = this.m.reaper(`q:${queue}`);
    if (o.leaseMs !== undefined) reaper.leaseMs = o.leaseMs;
    const upTo = this.m.reapableUpTo(reaper, reaper.leaseMs ?? DEFAULT_LEASE_MS, now);
    const mine = new Set(o.holding ?? []);
    const limit = o.limit ?? 500;
    const result: ReapResult = { requeued: [], dead: [] };
    for (const id of zrangeByScore(q.active, upTo, limit)) {
      const rec = this.m.rec(id);
      if (!rec || !HELD.has(rec.state)) {
        this.m.unlease(queue, id);
        continue;
      }
      if (mine.has(tokenBaseOf(rec.token ?? ''))) continue; // held by the caller, which is alive
      if (this.reclaim(id, rec, 'lease expired') === 'DEAD') result.dead.push(id);
      else result.requeued.push(id);
    }
    // housekeeping (up to 10 × limit ids): expired jobs leave the indexes, old events the log
    for (const s of EXPIRING_LIST) {
      for (const id of zrangeByScore(this.m.stateIndex(s), now - this.m.options.resultTtlMs, limit * 10)) {
        this.m.stateIndex(s).delete(id);
        this.m.allJobs.delete(id);
      }
    }
    for (const id of [...this.m.expiry.keys()]) this.m.expireIfDue(id);
    const minMs = now - this.m.options.eventRetentionMs; // XTRIM MINID
    const keep = this.m.events.findIndex((e) => parseId(e.id)[0] >= minMs);
    this.m.events.splice(0, keep < 0 ? this.m.events.length : keep);
    return result;
  }

  /** lib.lua's requeueAnew: a finished job back at the tail of its queue as if new */
  requeueAnew(jobId: string, rec: Rec): Job {
    const log = logAttempt(rec, rec.state as JobState, rec.error ?? '', this.m.at);
    this.m.setState(jobId, rec, 'PENDING', {
      attempts: '0',
      error: '',
      finished_at: '',
      handled_by: '',
      run_at: '',
      attempts_log: log,
    });
    const idem = rec.idem_key ? this.m.idemKeys.get(rec.idem_key) : undefined;
    if (idem) idem.until = null; // the key lives as long as the job again
    this.m.pushWaiting(jobId, rec, false);
    this.m.signal(rec.queue, rec.cpu === '1');
    return decodeJob(rec, jobId);
  }

  // ---- enqueueJobs.lua with an idempotency key, cancelJob.lua ----

  async submit(work: NewJob | FlowSpec): Promise<Submitted> {
    const deduped = dedupedOf(work);
    if (deduped) return submitDeduped(this.m, (rows) => this.insert(rows), deduped);
    const first = 'parent' in work ? work.parent : work;
    const rows = 'parent' in work ? flowRows(work) : [jobRow(work)];
    const key = first.idempotencyKey ? scopedIdempotencyKey(first.idempotencyKey, first.principal) : undefined;
    if (key) {
      const used = this.m.idemKeys.get(key);
      const job = used && (used.until === null || this.m.clock() <= used.until) ? this.m.rec(used.jobId) : undefined;
      if (used && job) {
        if (used.fp !== fingerprint(first)) throw idempotencyConflict(first.idempotencyKey!, used.jobId);
        return { job: decodeJob(job, used.jobId), children: [], existing: true };
      }
    }
    const [job, ...children] = this.insert(rows, key ? { key, fp: fingerprint(first) } : undefined);
    return { job, children, existing: false };
  }

  async dedupedJob(job: DedupedJob): Promise<string | null> {
    return dedupedJob(this.m, job);
  }

  async idempotentJob(scopedKey: string): Promise<string | null> {
    const used = this.m.idemKeys.get(scopedKey);
    return used && (used.until === null || this.m.clock() <= used.until) && this.m.rec(used.jobId) ? used.jobId : null;
  }

  async cancel(jobId: string): Promise<Job> {
    this.m.step();
    let id = jobId;
    let rec = this.m.rec(id);
    if (rec?.parent_id) rec = this.m.rec((id = rec.parent_id));
    if (!rec) throw new NotFoundError(`job ${jobId} not found`);
    if (FINAL.has(rec.state)) throw cancelConflict(jobId, rec.state);
    if (RUNNABLE.has(rec.state) && rec.queue !== '') this.m.unqueue(id, rec);
    this.m.finish(id, rec, 'CANCELLED', { error: 'cancelled' });
    if (rec.total) this.m.endChunks(id, 'CANCELLED', `cancelled: parent job ${id} was cancelled`);
    return decodeJob(rec, id);
  }

  async appendLog(jobId: string, line: string): Promise<void> {
    const now = this.m.clock();
    const kept = this.m.jobLogs.get(jobId);
    const lines = kept && kept.until > now ? kept.lines : [];
    lines.push(logLine(line));
    this.m.jobLogs.set(jobId, { lines: lines.slice(-JOB_LOG_LINES), until: now + JOB_LOG_TTL_MS });
  }

  async cancelledAmong(jobIds: string[]): Promise<string[]> {
    return jobIds.filter((id) => this.m.rec(id)?.state === 'CANCELLED');
  }
}
