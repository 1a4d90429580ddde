/** The memory adapter's job transitions and reads: what enqueueJobs.lua, claimJobs.lua and the other job scripts do. */
import {
  checkTransition,
  DEFAULT_PRIORITY,
  Job,
  JOB_STATES,
  JobState,
  NewJob,
  Progress,
  scopedIdempotencyKey,
} from '../../core/job';
import { ConflictError, NotFoundError } from '../../core/errors';
import { claimView, decodeJob, logAttempt } from '../codec';
import {
  badChunkResult,
  cancelConflict,
  chunkResultFits,
  createdJob,
  fingerprint,
  flowRows,
  idempotencyConflict,
  jobRow,
  JobRow,
  newJobFields,
  notRetryable,
  tokenBase,
  tokenBaseOf,
} from '../common';
import {
  DEFAULT_LEASE_MS,
  type ClaimedJob,
  type ClaimOptions,
  type ClaimResult,
  type CompleteAndClaimResult,
  type Completion,
  type FailTarget,
  type FlowSpec,
  type JobEvent,
  type ListQuery,
  type ListResult,
  type QueueInfo,
  type ReapOptions,
  type ReapResult,
  type Submitted,
  type WaitOptions,
} from '../types';
import {
  Rec,
  ZSet,
  StreamId,
  RUNNABLE,
  HELD,
  FINAL,
  COUNTED_NOT_INDEXED,
  priorityOf,
  waitsOf,
  waitingIn,
  waitingInLists,
  getOr,
  zsorted,
  zrangeByScore,
  zrangeRev,
  parseId,
  idAfter,
} from './structures';
import { MemoryCore } from './core';

export abstract class MemoryJobs extends MemoryCore {
  // ---- enqueueJobs.lua ----

  /** write new jobs; answers them as created, like the Redis adapter */
  protected insert(rows: JobRow[], idem?: { key: string; fp: string }): Job[] {
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
        const delayed = j.delay_ms !== '' && Number(j.delay_ms) > 0;
        if (delayed) q.delayed.set(j.id, now + Number(j.delay_ms));
        else waitsOf(q, j)[j.priority === '' ? DEFAULT_PRIORITY : Number(j.priority)].push(j.id);
        this.knownQueueNames.add(j.queue);
        this.signal(j.queue, !delayed && j.cpu === '1'); // a delayed one: a consumer learns its due time
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

  /** lib.lua's claimFrom (claimJobs.lua, claimJobForBot.lua): up to max ordinary jobs, then up to maxCpu CPU jobs (none given: CPU jobs count in max) */
  protected claimFrom(queue: string, opts: ClaimOptions, base: string): ClaimResult {
    const now = this.at;
    const q = this.queue(queue);
    if (q.paused) return { jobs: [], nextRunAt: null, now };
    let cpuDue = false;
    for (const id of zrangeByScore(q.delayed, now, 1000).reverse()) {
      q.delayed.delete(id);
      const rec = this.rec(id);
      if (rec?.state === 'PENDING') rec.run_at = ''; // a delayed job is due (a retry keeps its run_at until it is claimed)
      if (rec?.cpu === '1') cpuDue = true;
      waitsOf(q, rec)[rec ? priorityOf(rec) : DEFAULT_PRIORITY].unshift(id);
    }
    const jobs: ClaimedJob[] = [];
    /** up to max jobs of one kind's lists (lib.lua's takeFrom): the most urgent non-empty wait list first, FIFO within it */
    const take = (waits: string[][], max: number): number => {
      let taken = 0;
      while (taken < max) {
        const id = waits.find((w) => w.length > 0)?.shift();
        if (id === undefined) break;
        const rec = this.rec(id);
        if (!rec || !RUNNABLE.has(rec.state)) continue; // cancelled or expired while waiting
        const token = `${base}.${jobs.length + 1}`;
        const fields: Rec = {
          attempts: String(Number(rec.attempts ?? 0) + 1),
          token,
          handled_by: opts.consumer,
          started_at: String(now),
        };
        if (rec.state === 'RETRY') fields.run_at = ''; // the only state with a run_at here (a delayed job's is cleared when it is due)
        this.setState(id, rec, 'STARTED', fields);
        q.active.set(id, now + opts.leaseMs);
        const parent = rec.parent_id ? this.rec(rec.parent_id) : undefined;
        if (parent?.state === 'PENDING') this.setState(rec.parent_id, parent, 'STARTED', { started_at: String(now) });
        jobs.push({ token, job: claimView({ ...rec, id }, { queue, consumer: opts.consumer, now }) });
        taken++;
      }
      return taken;
    };
    const taken = take(q.waits, opts.max);
    const maxCpu = opts.maxCpu ?? opts.max - taken;
    const cpuTaken = maxCpu > 0 ? take(q.cpuWaits, maxCpu) : 0;
    if (waitingInLists(q.waits) > 0) this.signal(queue);
    // CPU work left: a consumer with a free thread looks (one with none does not wait for it)
    if (waitingInLists(q.cpuWaits) > 0 && (maxCpu > 0 ? cpuTaken >= maxCpu : cpuDue)) this.signal(queue, true);
    const next = zsorted(q.delayed)[0];
    return { jobs, nextRunAt: next ? next[1] : null, now };
  }

  async waitForWork(queue: string, timeoutMs: number, opts: WaitOptions = {}): Promise<boolean> {
    if (this.closed || opts.signal?.aborted) return false;
    const q = this.queue(queue);
    const ordinary = opts.ordinary !== false;
    if (ordinary && q.marker) q.marker = false;
    else if (opts.cpu && q.cpuMarker) q.cpuMarker = false;
    else
      return this.block(
        [...(ordinary ? [q.waiters] : []), ...(opts.cpu ? [q.cpuWaiters] : [])],
        Math.max(10, Math.round(timeoutMs)),
        opts.signal,
      );
    return true;
  }

  // ---- renewLease.lua, completeJobs.lua (one job per call), failJob.lua, releaseJob.lua ----

  async renew(jobId: string, token: string, leaseMs: number): Promise<void> {
    const now = this.step();
    this.extendLease(jobId, this.holder(jobId, token), now + leaseMs);
  }

  // ---- reportProgress.lua ----

  async reportProgress(jobId: string, token: string, p: Progress): Promise<void> {
    this.step();
    const rec = this.holder(jobId, token);
    const from = rec.state as JobState;
    const to: JobState = from === 'STARTED' ? 'PROGRESS' : from; // the first report: reportProgress.lua
    if (to !== from) checkTransition(from, to);
    Object.assign(rec, {
      state: to,
      hp_completed: String(p.completed),
      hp_total: String(p.total),
      updated_at: String(this.at),
    });
    if (to !== from && !rec.parent_id) this.indexMove(jobId, from, to, rec.queue !== '');
    this.emit(jobId, to, String(p.completed), String(p.total));
  }

  /** renewLease.lua's ZADD XX: the lease set alone holds the deadline */
  protected extendLease(jobId: string, rec: Rec, until: number): void {
    const active = this.queue(rec.queue).active;
    if (active.has(jobId)) active.set(jobId, until); // ZADD XX
  }

  async complete(jobId: string, token: string, result: unknown): Promise<void> {
    this.step();
    this.completeJob(jobId, token, result);
  }

  // ---- completeAndClaim.lua ----

  async completeAndClaim(
    completions: Completion[],
    queue: string,
    opts: ClaimOptions,
  ): Promise<CompleteAndClaimResult> {
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
  protected completeJob(jobId: string, token: string, result: unknown): void {
    const value = JSON.stringify(result ?? null);
    const now = this.at;
    const rec = this.holder(jobId, token);
    if (rec.parent_id && !chunkResultFits(value, rec.params)) throw badChunkResult(jobId);
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
    const duration = Math.max(0, now - Number(parent.created_at)) / 1000;
    this.finish(parentId, parent, 'SUCCESS', {
      result: `{"prime_count":${sum.toFixed(0)},"duration_sec":${duration.toFixed(3)}}`,
    });
  }

  async fail(jobId: string, token: string, error: string, target: FailTarget): Promise<void> {
    this.step();
    this.failJob(jobId, token, error, target);
  }

  /** lib.lua's failJob (failJob.lua, failBotJob.lua) */
  protected failJob(jobId: string, token: string, error: string, target: FailTarget): void {
    const now = this.at;
    const rec = this.holder(jobId, token);
    if (target.to !== 'RETRY') {
      this.finish(jobId, rec, target.to, { error });
      return this.failParent(rec, error);
    }
    const q = this.queue(rec.queue);
    const runAt = now + target.delayMs;
    const log = logAttempt(rec, 'RETRY', error, now);
    this.setState(jobId, rec, 'RETRY', this.released({ error, run_at: String(runAt), attempts_log: log }));
    q.active.delete(jobId);
    if (runAt <= now) this.requeueAtHead(jobId, rec);
    else q.delayed.set(jobId, runAt);
  }

  async release(jobId: string, token: string): Promise<void> {
    this.step();
    this.releaseHeld(jobId, this.holder(jobId, token));
  }

  /** lib.lua's releaseHeld: back to the head of its queue, the attempt not counted */
  protected releaseHeld(jobId: string, rec: Rec): void {
    this.setState(jobId, rec, 'PENDING', this.released({ attempts: String(Number(rec.attempts) - 1), handled_by: '' }));
    this.queue(rec.queue).active.delete(jobId);
    this.requeueAtHead(jobId, rec);
  }

  /** lib.lua's reclaim: take a held job back from a holder that is gone (RETRY, or DEAD) */
  protected reclaim(id: string, rec: Rec, why: string): 'RETRY' | 'DEAD' {
    const reason = `${why} (held by ${rec.handled_by}, attempt ${rec.attempts} of ${rec.max_attempts})`;
    if (Number(rec.attempts) >= Number(rec.max_attempts)) {
      this.finish(id, rec, 'DEAD', { error: reason });
      this.failParent(rec, reason);
      return 'DEAD';
    }
    const log = logAttempt(rec, 'RETRY', reason, this.at);
    this.setState(id, rec, 'RETRY', this.released({ error: reason, run_at: String(this.at), attempts_log: log }));
    this.queue(rec.queue).active.delete(id);
    this.requeueAtHead(id, rec);
    return 'RETRY';
  }

  // ---- reapExpiredLeases.lua ----

  async reap(queue: string, o: ReapOptions = {}): Promise<ReapResult> {
    const now = this.step();
    const q = this.queue(queue);
    const reaper = this.reaper(`q:${queue}`);
    if (o.leaseMs !== undefined) reaper.leaseMs = o.leaseMs;
    const upTo = this.reapableUpTo(reaper, reaper.leaseMs ?? DEFAULT_LEASE_MS, now);
    const mine = new Set(o.holding ?? []);
    const limit = o.limit ?? 500;
    const result: ReapResult = { requeued: [], dead: [] };
    for (const id of zrangeByScore(q.active, upTo, limit)) {
      const rec = this.rec(id);
      if (!rec || !HELD.has(rec.state)) {
        q.active.delete(id);
        continue;
      }
      if (mine.has(tokenBaseOf(rec.token ?? ''))) continue; // held by the caller, which is alive
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
    const z =
      query.state && COUNTED_NOT_INDEXED.has(query.state)
        ? this.queuedInState(query.state)
        : query.state
          ? this.stateIndex(query.state)
          : this.allJobs;
    const offset = query.offset ?? 0;
    const limit = query.limit ?? 50;
    return { total: z.size, jobs: limit > 0 ? this.getJobs(zrangeRev(z, offset, offset + limit - 1)) : [] };
  }

  /**
   * the PENDING or STARTED top-level jobs → the time of their last change: those the index holds
   * (jobs on no queue) and those the queues hold (their wait lists and delayed sets, their lease
   * sets), as the Redis adapter lists them
   */
  protected queuedInState(state: string): ZSet {
    const out: ZSet = new Map(this.stateIndex(state));
    const add = (id: string) => {
      const rec = this.rec(id);
      if (rec?.state === state && !rec.parent_id) out.set(id, Number(rec.updated_at ?? rec.created_at));
    };
    for (const q of this.queues.values()) {
      if (state === 'STARTED') for (const id of q.active.keys()) add(id);
      else for (const id of [...q.waits.flat(), ...q.cpuWaits.flat(), ...q.delayed.keys()]) add(id);
    }
    return out;
  }

  async listDead(offset = 0, limit = 50): Promise<ListResult> {
    return {
      total: this.dlq.size,
      jobs: limit > 0 ? this.getJobs(zrangeRev(this.dlq, offset, offset + limit - 1)) : [],
    };
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
  protected requeueAnew(jobId: string, rec: Rec): Job {
    const log = logAttempt(rec, rec.state as JobState, rec.error ?? '', this.at);
    this.setState(jobId, rec, 'PENDING', {
      attempts: '0',
      error: '',
      finished_at: '',
      handled_by: '',
      run_at: '',
      attempts_log: log,
    });
    const idem = rec.idem_key ? this.idemKeys.get(rec.idem_key) : undefined;
    if (idem) idem.until = null; // the key lives as long as the job again
    waitsOf(this.queue(rec.queue), rec)[priorityOf(rec)].push(jobId);
    this.signal(rec.queue, rec.cpu === '1');
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
    return Object.fromEntries(
      JOB_STATES.map((s) => [s, (this.states.get(s)?.size ?? 0) + (this.counts.get(s) ?? 0)]),
    ) as Record<JobState, number>;
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
    this.signal(queue, true);
  }

  async declareQueue(queue: string): Promise<void> {
    this.knownQueueNames.add(queue);
  }

  async isQueueKnown(queue: string): Promise<boolean> {
    return this.knownQueueNames.has(queue);
  }

  /** removeQueue.lua */
  async removeQueue(queue: string): Promise<'removed' | 'unknown' | 'busy'> {
    if (!this.knownQueueNames.has(queue)) return 'unknown';
    const q = this.queues.get(queue);
    if (q && (waitingIn(q) > 0 || q.active.size > 0 || q.delayed.size > 0)) return 'busy';
    if (q) Object.assign(q, { paused: false, marker: false, cpuMarker: false }); // DEL ready, the markers (the object stays: a worker may wait on it)
    this.knownQueueNames.delete(queue);
    return 'removed';
  }

  async listQueues(): Promise<QueueInfo[]> {
    return Promise.all(
      [...this.knownQueueNames].sort().map(async (name) => ({
        name,
        ...(await this.queueDepth(name)),
        paused: this.queues.get(name)?.paused ?? false,
      })),
    );
  }

  // ---- enqueueJobs.lua with an idempotency key, cancelJob.lua ----

  async submit(work: NewJob | FlowSpec): Promise<Submitted> {
    const first = 'parent' in work ? work.parent : work;
    const rows = 'parent' in work ? flowRows(work) : [jobRow(work)];
    const key = first.idempotencyKey ? scopedIdempotencyKey(first.idempotencyKey, first.principal) : undefined;
    if (key) {
      const used = this.idemKeys.get(key);
      const job = used && (used.until === null || this.clock() <= used.until) ? this.rec(used.jobId) : undefined;
      if (used && job) {
        if (used.fp !== fingerprint(first)) throw idempotencyConflict(first.idempotencyKey!, used.jobId);
        return { job: decodeJob(job, used.jobId), children: [], existing: true };
      }
    }
    const [job, ...children] = this.insert(rows, key ? { key, fp: fingerprint(first) } : undefined);
    return { job, children, existing: false };
  }

  async idempotentJob(scopedKey: string): Promise<string | null> {
    const used = this.idemKeys.get(scopedKey);
    return used && (used.until === null || this.clock() <= used.until) && this.rec(used.jobId) ? used.jobId : null;
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

  protected eventsAfter(after: StreamId, count: number): JobEvent[] {
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
    return (await this.block([this.readers], blockMs)) ? this.eventsAfter(after, count) : [];
  }
}
