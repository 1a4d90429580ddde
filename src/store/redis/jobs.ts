/** The queue path (store.jobs): jobs made, cancelled, claimed, completed, failed, released, and lapsed leases reaped. */
import { ErrorReply } from 'redis';
import { type DedupedJob, dedupeScope, Job, NewJob, Progress, scopedIdempotencyKey } from '../../core/job';
import { NotFoundError, StoreUnavailableError } from '../../core/errors';
import { sleep } from '../../util/time';
import {
  cancelConflict,
  createdJob,
  dedupeArgs,
  dedupeConflict,
  dedupedOf,
  dedupedRow,
  fingerprint,
  windowAnswers,
  flowRows,
  idempotencyConflict,
  isStorableJobId,
  jobRow,
  JobRow,
  logLine,
  rowArgs,
  tokenBase,
  withJobId,
} from '../common';
import { isFlowNodeId, shardOfId } from '../keys';
import type { FlowOutbox } from './flows';
import {
  DEFAULT_LEASE_MS,
  JOB_LOG_LINES,
  JOB_LOG_TTL_MS,
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
import { BULK_KEY_TTL_MS, bulkRows, firstOf, inOrder, madeRun, planBulk, repeatedRun, type BulkItem } from '../bulk';
import { CompletionBatch, settleAll } from '../completion-batch';
import {
  keyShard,
  claimArgs,
  claimResult,
  claimsAny,
  completionArgs,
  groupByShard,
  leftToClaim,
  merged,
  recordState,
  retryDelayOf,
  CONFLICT,
  type ClaimReply,
  type KindClaim,
  type Waker,
} from './shared';
import type { JobsStore } from '../concerns';
import { LostClaims } from '../lost-claims';
import { checkCode, codeError } from './codes';
import type { RedisConn } from './conn';
import { newId, type Placement } from './placement';
import type { RedisReads } from './reads';

/** a claim Redis answered within a claim() or completeAndClaim() call still running */
interface Answered {
  base: string;
  shard: number;
}

/** the wakers map's key of a queue's marker (ordinary or CPU) in one shard */
/** how long a sharded queue's having a rate is taken as known (RedisJobs.hasRate, ms) */
const RATE_LOOK_MS = 1000;
const wakerKey = (queue: string, shard: number, cpu: boolean) => `${queue}\n${shard}${cpu ? '\ncpu' : ''}`;

export class RedisJobs implements JobsStore {
  /** a lost claim's token base → its shard */
  private readonly lostShard = new Map<string, number>();
  /** claims whose answer was lost (lost-claims.ts): given back once Redis answers again */
  private readonly lost: LostClaims;
  /** per queue, shard and lane: a BZPOPMIN in flight, kept across waitForWork calls (see there) */
  private readonly wakers = new Map<string, Waker>();
  /** completions of this event-loop turn (complete) */
  private readonly completions = new CompletionBatch(() => setImmediate(() => void this.flushCompletions()));
  /**
   * the token bases (→ queue) of the claims of calls still running: their jobs are held by this
   * process, which has not been given them yet, so its reaper leaves them (reap)
   */
  private readonly unanswered = new Map<string, string>();
  /** CLIENT ID was refused (an ACL without CLIENT, which refuses UNBLOCK too): waitAndClaim waits as waitForWork does */
  private unblockRefused = false;
  /** sharded queues with a rate, as last looked up (hasRate) */
  private readonly rated = new Map<string, { has: boolean; until: number }>();

  /** set by RedisStore: a step that finished flow nodes has its shard's outbox delivered (docs/flows.md "On a Redis Cluster") */
  flowOutbox: FlowOutbox | null = null;

  constructor(
    private readonly c: RedisConn,
    private readonly reads: RedisReads,
    private readonly place: Placement,
  ) {
    this.lost = new LostClaims((queue, base) =>
      c.run<number>('releaseLostClaim', [queue, base], c.shardKeys(this.lostShard.get(base) ?? 0)),
    );
    c.onReady(() => void this.lost.settle());
    c.onClose(() => this.lost.close());
  }

  /** write new jobs in one shard; answers them as created at Redis's time (a worker may already have claimed them) */
  private async insert(rows: JobRow[], shard: number): Promise<Job[]> {
    const [, now] = await this.c.run<[number, string]>(
      'enqueueJobs',
      ['', '', ...rowArgs(rows, this.c.cpuLists)],
      this.c.shardKeys(shard),
      true,
    );
    return rows.map((r) => createdJob(r, Number(now)));
  }

  /**
   * one call's jobs go to one shard (the next in turn; the bot queue's to shard 0), in one script:
   * a batch keeps its order, and calls spread over the shards
   */
  async enqueue(jobs: NewJob[]): Promise<Job[]> {
    const shard =
      jobs[0]?.id !== undefined ? shardOfId(jobs[0].id) : this.place.pickShard(jobs[0]?.queue, jobs[0]?.group);
    return this.insert(
      jobs.map((j) => jobRow(j, undefined, j.id ?? newId(shard))),
      shard,
    );
  }

  /** each shard's run in one script (enqueueJobs; under a key, enqueueBatch with the run's once-key) */
  async enqueueBulk(items: BulkItem[], key?: string): Promise<Submitted[]> {
    const shards = this.c.shardCount;
    const start = key === undefined ? this.place.pickShard(undefined) : keyShard(key, shards);
    const groups = planBulk(items, { shards, start, botQueue: this.place.botQueue, key, newId });
    const answers = await Promise.all(
      groups.map(async (g) => {
        const rows = bulkRows(g.items);
        const args = rowArgs(rows, this.c.cpuLists);
        const [created, now] = g.onceKey
          ? await this.c.run<[number, string?]>(
              'enqueueBatch',
              [g.onceKey, BULK_KEY_TTL_MS, ...args],
              this.c.shardKeys(g.shard),
              true,
            )
          : await this.c.run<[number, string]>('enqueueJobs', ['', '', ...args], this.c.shardKeys(g.shard), true);
        if (created === 0 && rows.length > 0) {
          const found = await Promise.all(g.items.map((item) => this.reads.job(firstOf(item).id!)));
          return repeatedRun(g, found, key!);
        }
        return madeRun(
          g,
          rows.map((r) => createdJob(r, Number(now))),
        );
      }),
    );
    return inOrder(groups, answers, items.length);
  }

  /** a prime count's parent and its chunks in one shard: the chord stays one script */
  async enqueueFlow(flow: FlowSpec): Promise<{ parent: Job; children: Job[] }> {
    const shard = this.place.pickShard(flow.children[0]?.queue, flow.children[0]?.group);
    const withId = (j: NewJob): NewJob => withJobId(j, j.id ?? newId(shard));
    const [parent, ...children] = await this.insert(
      flowRows({ parent: withId(flow.parent), children: flow.children.map(withId) }),
      shard,
    );
    return { parent, children };
  }

  /**
   * one job or one flow in one shard. With an idempotency key the shard is the key's (hashed:
   * every node that is given the key looks in the one place it can be, and the enqueue script
   * checks and sets it with the job, atomically); the bot queue's jobs stay in shard 0
   */
  async submit(work: NewJob | FlowSpec): Promise<Submitted> {
    const deduped = dedupedOf(work);
    if (deduped) return this.submitDeduped(deduped);
    const first = 'parent' in work ? work.parent : work;
    const key = first.idempotencyKey ? scopedIdempotencyKey(first.idempotencyKey, first.principal) : '';
    const queue = 'parent' in work ? work.children[0]?.queue : work.queue;
    const shard =
      key && queue !== this.place.botQueue
        ? keyShard(key, this.c.shardCount)
        : this.place.pickShard(queue, first.group);
    const withId = (j: NewJob): NewJob => withJobId(j, j.id ?? newId(shard));
    const rows =
      'parent' in work
        ? flowRows({ parent: withId(work.parent), children: work.children.map(withId) })
        : [jobRow(withId(work))];
    const [, now, existingId, , same] = await this.c.run<[number, string, string?, string?, number?]>(
      'enqueueJobs',
      [key, key ? fingerprint(first) : '', ...rowArgs(rows, this.c.cpuLists)],
      this.c.shardKeys(shard),
      true,
    );
    if (existingId === undefined) {
      const [job, ...children] = rows.map((r) => createdJob(r, Number(now)));
      return { job, children, existing: false };
    }
    if (same !== 1) throw idempotencyConflict(first.idempotencyKey!, existingId);
    const job = await this.reads.job(existingId);
    if (!job) throw new NotFoundError(`job ${existingId} not found`);
    return { job, children: [], existing: true };
  }

  /**
   * a job under a debounce or throttle window (enqueueDeduped.lua). The window's key lives in
   * the shard of the job it names: its group's shard for a job of a group (its scope holds the
   * group), else its scope's hash, so every node that is given the key looks in one place
   */
  private async submitDeduped(job: DedupedJob): Promise<Submitted> {
    const shard = this.windowShard(job);
    const row = dedupedRow({ ...job, id: job.id ?? newId(shard) });
    const [code, now, id, what, held] = await this.c.run<[number, string, string, string, string?]>(
      'enqueueDeduped',
      [...dedupeArgs(job), ...rowArgs([row], this.c.cpuLists)],
      this.c.shardKeys(shard),
      true,
    );
    if (code === CONFLICT) throw dedupeConflict(job, id, what, held ?? '');
    if (what === 'made') {
      const made = { ...createdJob(row, Number(now)), dedupe: { key: job.dedupe.key, mode: job.dedupe.mode } };
      return { job: made, children: [], existing: false, deduplicated: false };
    }
    const found = await this.reads.job(id);
    if (!found) throw new NotFoundError(`job ${id} not found`);
    return { job: found, children: [], existing: false, deduplicated: true };
  }

  /** the shard of a job's window and of the jobs it makes (submitDeduped) */
  private windowShard(job: DedupedJob): number {
    return job.group || job.queue === this.place.botQueue
      ? this.place.pickShard(job.queue, job.group)
      : keyShard(dedupeScope(job, job.dedupe.key), this.c.shardCount);
  }

  /** in the window's shard: its job, when enqueueDeduped.lua would answer with it */
  async dedupedJob(job: DedupedJob): Promise<string | null> {
    const k = this.c.shardKeys(this.windowShard(job));
    const [id, mode] = await this.c.cmd<(string | null)[]>([
      'HMGET',
      k.dedupe(dedupeScope(job, job.dedupe.key)),
      'job',
      'mode',
    ]);
    if (!id || mode !== job.dedupe.mode || !isStorableJobId(id)) return null;
    return windowAnswers(job.dedupe.mode, await recordState(this.c, k.job(id))) ? id : null;
  }

  /** in the key's shard, or shard 0 (where the bot queue's jobs are made whatever their key) */
  async idempotentJob(scopedKey: string): Promise<string | null> {
    const shards = [...new Set([keyShard(scopedKey, this.c.shardCount), 0])];
    for (const shard of shards) {
      const k = this.c.shardKeys(shard);
      const id = await this.c.cmd<string | null>(['HGET', k.idem(scopedKey), 'job']);
      if (id && isStorableJobId(id) && (await this.c.cmd<number>(['EXISTS', this.c.at(id).job(id)])) === 1) return id;
    }
    return null;
  }

  /** in the job's shard (a prime count and its chunks share one) */
  async cancel(jobId: string): Promise<Job> {
    const [code, detail] = await this.c.run<[number, string?]>('cancelJob', [jobId], this.c.at(jobId), true);
    if (code === CONFLICT) throw cancelConflict(jobId, String(detail));
    checkCode(code, jobId);
    await this.flowsAfter([jobId]);
    return (await this.reads.job(String(detail)))!;
  }

  async appendLog(jobId: string, line: string): Promise<void> {
    if (!isStorableJobId(jobId)) return;
    const key = this.c.at(jobId).jobLog(jobId);
    await Promise.all([
      this.c.cmd(['RPUSH', key, logLine(line)]),
      this.c.cmd(['LTRIM', key, -JOB_LOG_LINES, -1]),
      this.c.cmd(['PEXPIRE', key, JOB_LOG_TTL_MS]),
    ]);
  }

  async cancelledAmong(jobIds: string[]): Promise<string[]> {
    const ids = jobIds.filter(isStorableJobId);
    const states = await Promise.all(
      ids.map((id) => this.c.cmd<string | null>(['HGET', this.c.at(id).job(id), 'state'])),
    );
    return ids.filter((_, i) => states[i] === 'CANCELLED');
  }

  async claim(queue: string, opts: ClaimOptions): Promise<ClaimResult> {
    const order = await this.place.urgentOrder(queue);
    return (await this.answering(queue, opts, (answered) => this.claimIn(queue, opts, order, answered))).result;
  }

  /**
   * a call that claims: while it runs its claims count as this process's (unanswered); one that
   * Redis answered but the call then throws away (another shard's part of it failed) is a lost
   * claim for the caller, and its jobs are given back as one's (lost-claims.ts), not left to lapse
   */
  private async answering<T>(
    queue: string,
    opts: ClaimOptions,
    call: (answered: Answered[]) => Promise<T>,
  ): Promise<T> {
    const answered: Answered[] = [];
    try {
      return await call(answered);
    } catch (err) {
      for (const a of answered) this.loseClaim(queue, opts, a);
      throw err;
    } finally {
      for (const a of answered) this.unanswered.delete(a.base);
    }
  }

  private loseClaim(queue: string, opts: ClaimOptions, { base, shard }: Answered): void {
    if (!claimsAny(opts)) return;
    if (shard !== 0) this.lostShard.set(base, shard);
    this.lost.add(queue, base, opts.leaseMs);
  }

  /**
   * the completions acknowledged, each in its job's shard, and a claim: from the first shard in
   * this call's rotation (in the same script as the completions of that shard), then from the
   * next ones while slots (or, for CPU jobs, threads) are left. With one shard this is one script,
   * as it always was.
   */
  async completeAndClaim(
    completions: Completion[],
    queue: string,
    opts: ClaimOptions,
  ): Promise<CompleteAndClaimResult> {
    const [first, ...rest] = await this.place.urgentOrder(queue);
    const byShard = groupByShard(completions);
    const mine = byShard.get(first) ?? [];
    byShard.delete(first);
    const codes = new Map<Completion, unknown>();
    return this.answering(queue, opts, async (answered) => {
      // every part settles before the call answers or fails: a claim answered after a sibling failed is known, and given back
      const [own, ...others] = await Promise.allSettled([
        this.claiming(queue, opts, first, answered, (base) =>
          this.underRate(
            queue,
            opts,
            first,
            (room) =>
              this.c.run<[number[], ClaimReply]>(
                'completeAndClaim',
                [...completionArgs(mine, this.c), ...claimArgs(queue, opts, base, this.c, room)],
                this.c.shardKeys(first),
                true,
              ),
            (got) => got[1],
          ),
        ),
        ...[...byShard].map(async ([shard, cs]) => {
          const got = await this.c.run<number[]>(
            'completeJobs',
            completionArgs(cs, this.c),
            this.c.shardKeys(shard),
            true,
          );
          cs.forEach((c, i) => codes.set(c, got[i]));
        }),
      ]);
      for (const part of [own, ...others]) if (part.status === 'rejected') throw part.reason;
      const [ownCodes, claimed] = (own as PromiseFulfilledResult<[number[], ClaimReply]>).value;
      mine.forEach((c, i) => codes.set(c, ownCodes[i]));
      await this.flowsAfter(completions.map((c) => c.jobId));
      let claim = claimResult(claimed, queue, opts.consumer);
      const left = leftToClaim(opts, claim);
      if (claimsAny(left) && rest.length > 0) {
        // the completions are recorded and this claim answered: a failure of the next shards' claims is the next call's to meet
        const more = await this.claimIn(queue, left, rest, answered).catch(() => null);
        if (more) claim = merged(claim, more);
      }
      return { errors: completions.map((c) => codeError(codes.get(c), c.jobId)), claim: claim.result };
    });
  }

  /**
   * a claim from the shards in `order`, each while slots (or threads) are left; a shard that fails
   * after others gave jobs ends the claim with those (they are held: thrown away, they would lapse)
   */
  private async claimIn(queue: string, opts: ClaimOptions, order: number[], answered: Answered[]): Promise<KindClaim> {
    let out: KindClaim | null = null;
    for (const shard of order) {
      const left = out ? leftToClaim(opts, out) : opts;
      if (out && !claimsAny(left)) break;
      let got: KindClaim;
      try {
        got = claimResult(
          await this.claiming(queue, left, shard, answered, (base) =>
            this.underRate(
              queue,
              left,
              shard,
              (room) =>
                this.c.run<ClaimReply>(
                  'claimJobs',
                  claimArgs(queue, left, base, this.c, room),
                  this.c.shardKeys(shard),
                ),
              (got) => got,
            ),
          ),
          queue,
          opts.consumer,
        );
      } catch (err) {
        if (out && out.result.jobs.length > 0) break;
        throw err;
      }
      out = out ? merged(out, got) : got;
    }
    return out!;
  }

  /**
   * a claim in `shard` under its queue's one rate (docs/flow-control.md "Rate limits"): on a Cluster
   * with sharded queues the rate's log is the first shard's, so a claim in another shard first
   * reserves starts there (reserveRate.lua), takes at most those, and gives back what it did not
   * take. A process that dies in between leaves its reservation to count as starts for one window.
   * The first shard's claims, a single Redis's, and a queue without a rate claim as they always did
   * (whether a queue has a rate is looked up at most once every RATE_LOOK_MS).
   */
  private async underRate<T>(
    queue: string,
    opts: ClaimOptions,
    shard: number,
    claim: (room: number) => Promise<T>,
    replyOf: (got: T) => ClaimReply,
  ): Promise<T> {
    if (shard === 0 || !(await this.hasRate(queue))) return claim(-1);
    const want = opts.max + Math.max(opts.maxCpu ?? 0, 0);
    if (want <= 0) return claim(0);
    const id = tokenBase(opts.consumer);
    const log = this.c.shardKeys(0).rateLog(queue);
    const [granted, wake] = await this.c.run<[number | '', string]>(
      'reserveRate',
      [queue, want, id],
      this.c.shardKeys(0),
    );
    if (granted === '') {
      this.rated.set(queue, { has: false, until: Date.now() + RATE_LOOK_MS });
      return claim(-1);
    }
    const got = await claim(granted); // a claim that fails keeps its reservation: a window's starts, at most
    const reply = replyOf(got);
    const taken = reply.length - 3;
    if (taken < granted) {
      const unused = Array.from({ length: granted - taken }, (_, i) => `${id}.${taken + i + 1}`);
      await this.c.cmd(['ZREM', log, ...unused]).catch(() => undefined); // not given back: it counts for one window
    } else if (wake !== '' && (reply[1] === '' || Number(wake) < Number(reply[1]))) reply[1] = wake;
    return got;
  }

  /** whether a sharded queue has a rate (its first shard's K.flow), as last looked up */
  private async hasRate(queue: string): Promise<boolean> {
    if (this.c.shards.length <= 1) return false;
    const seen = this.rated.get(queue);
    if (seen && seen.until > Date.now()) return seen.has;
    const has = (await this.c.cmd<string | null>(['HGET', this.c.shardKeys(0).flow(queue), 'rate'])) !== null;
    this.rated.set(queue, { has, until: Date.now() + RATE_LOOK_MS });
    return has;
  }

  /**
   * a claim under a token base of its own, counted as this process's from the start (unanswered);
   * when its answer is lost, its jobs are given back (lost-claims.ts)
   */
  private async claiming<T>(
    queue: string,
    opts: ClaimOptions,
    shard: number,
    answered: Answered[],
    call: (base: string) => Promise<T>,
  ): Promise<T> {
    const base = tokenBase(opts.consumer);
    this.unanswered.set(base, queue);
    try {
      const got = await call(base);
      answered.push({ base, shard });
      return got;
    } catch (err) {
      this.unanswered.delete(base);
      if (err instanceof StoreUnavailableError && err.maybeApplied) this.loseClaim(queue, opts, { base, shard });
      throw err;
    }
  }

  /**
   * Blocks until a job is put on `queue` in any shard (each shard's marker, BZPOPMIN on a
   * connection per shard; with opts.cpu each shard's CPU marker, on a connection of its own), or
   * timeoutMs, or until opts.signal aborts. A BZPOPMIN still blocked when another woke this call
   * is kept for the next call, not sent again, and what it pops then wakes that call at once: no
   * wake-up is lost and no empty shard is polled. A marker that a kept BZPOPMIN pops for a call
   * that does not ask for its kind of work (a worker whose threads, or slots, were taken meanwhile) is put
   * back, for a consumer that can take the work: that wake-up is not lost either.
   */
  async waitForWork(queue: string, timeoutMs: number, opts: WaitOptions = {}): Promise<boolean> {
    const wants = (cpu: boolean) => (cpu ? opts.cpu === true : opts.ordinary !== false);
    const until = Date.now() + timeoutMs;
    for (let left = timeoutMs; left > 0 && !opts.signal?.aborted; left = until - Date.now()) {
      const ws = this.c.shards.flatMap((_, shard) =>
        [false, true].flatMap((cpu) => {
          const kept = this.wakers.get(wakerKey(queue, shard, cpu));
          return wants(cpu) ? [this.waker(queue, shard, cpu, left)] : kept ? [kept] : [];
        }),
      );
      let timer: NodeJS.Timeout | undefined;
      let onAbort: (() => void) | undefined;
      try {
        const got = await Promise.race([
          ...ws.map((w) => w.p),
          new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), left))),
          new Promise<'timeout'>((r) =>
            opts.signal?.addEventListener('abort', (onAbort = () => r('timeout')), { once: true }),
          ),
        ]);
        if (got === 'timeout') return false;
        if (got) {
          let woken = false;
          for (const w of ws) {
            if (!w.settled || this.wakers.get(w.key) !== w) continue;
            this.wakers.delete(w.key); // popped: used up
            if (wants(w.cpu)) woken = true;
            else
              void this.c
                .cmd([
                  'ZADD',
                  w.cpu ? this.c.shardKeys(w.shard).cpuMarker(queue) : this.c.shardKeys(w.shard).marker(queue),
                  0,
                  'm',
                ])
                .catch(() => undefined);
          }
          if (woken) return true;
          // another call was woken by it and claims now: this one waits again a turn later, so that claim goes first
          await new Promise((r) => setImmediate(r));
        }
        // one kept from an earlier call timed out (it is sent again for the time left), or a wake-up was put back
      } finally {
        clearTimeout(timer);
        if (onAbort) opts.signal?.removeEventListener('abort', onAbort);
      }
    }
    return false;
  }

  /**
   * On one Redis (not a Cluster, whose queues may be sharded) the claim rides behind the wait:
   * CLIENT ID, BZPOPMIN on the markers asked for and the claim script go in one write on a
   * connection of the lane's own. Redis runs the claim the moment BZPOPMIN returns (work came,
   * the wait timed out, or CLIENT UNBLOCK ended it for opts.signal), in the same turn of its loop:
   * a job put on an empty queue is claimed in one hop, not in a wake-up answered to this process
   * and a claim sent back (docs/benchmarks.md "One round trip, step by step"). The claim is counted as this
   * process's while it waits (unanswered), and given back if its answer is lost, as every claim.
   * Elsewhere: waitForWork, then claim.
   */
  async waitAndClaim(queue: string, timeoutMs: number, opts: WaitAndClaimOptions): Promise<ClaimResult> {
    const k = this.c.shardKeys(0);
    const markers = [
      ...(opts.ordinary !== false && opts.max > 0 ? [k.marker(queue)] : []),
      ...(opts.cpu && (opts.maxCpu ?? 0) > 0 ? [k.cpuMarker(queue)] : []),
    ];
    if (this.c.cluster || this.c.shards.length > 1 || markers.length === 0 || this.unblockRefused) {
      await this.waitForWork(queue, timeoutMs, opts);
      return this.claim(queue, opts);
    }
    const link = await this.c.blockingLink(`lane-${opts.lane ?? 0}`);
    const deadlineMs = timeoutMs + this.c.options.commandTimeoutMs;
    const secs = Math.max(0.01, timeoutMs / 1000).toFixed(3);
    const claimed = await this.answering(queue, opts, (answered) =>
      this.claiming(queue, opts, 0, answered, async (base) => {
        const id = this.c.cmd<number>(['CLIENT', 'ID'], link, deadlineMs);
        const popped = this.c.cmd(['BZPOPMIN', ...markers, secs], link, deadlineMs);
        const claim = this.c.run<ClaimReply>('claimJobs', claimArgs(queue, opts, base, this.c), k, false, {
          link,
          deadlineMs,
        });
        const stop = () => void this.unblock(id, claim);
        opts.signal?.addEventListener('abort', stop, { once: true });
        if (opts.signal?.aborted) stop();
        try {
          // the claim's answer is what counts: its jobs are held whatever the wait answered
          const [client, , got] = await Promise.allSettled([id, popped, claim]);
          if (client.status === 'rejected' && client.reason instanceof ErrorReply) this.unblockRefused = true; // (an ACL without CLIENT): its waits are not ended early
          if (got.status === 'rejected') throw got.reason;
          return got.value;
        } finally {
          opts.signal?.removeEventListener('abort', stop);
        }
      }),
    );
    return claimResult(claimed, queue, opts.consumer).result;
  }

  /** end a waitAndClaim's BZPOPMIN (its connection's id) until its claim answered: the claim then runs at once */
  private async unblock(id: Promise<number>, claim: Promise<unknown>): Promise<void> {
    let answered = false;
    void claim.then(
      () => (answered = true),
      () => (answered = true),
    );
    try {
      const client = await id;
      // the BZPOPMIN is read with CLIENT ID, in one write, so it is blocked by now; once more
      // after a while in case its bytes came in a later read
      for (let i = 0; i < 3 && !answered; i++) {
        await this.c.cmd(['CLIENT', 'UNBLOCK', client]);
        await Promise.race([claim.catch(() => undefined), sleep(50)]);
      }
    } catch {
      // the connection's failure ends its calls anyway; a refusal leaves the wait to its timeout
    }
  }

  private waker(queue: string, shard: number, cpu: boolean, timeoutMs: number): Waker {
    const key = wakerKey(queue, shard, cpu);
    const had = this.wakers.get(key);
    if (had) return had;
    const secs = Math.max(0.01, timeoutMs / 1000).toFixed(3);
    const w: Waker = {
      key,
      shard,
      cpu,
      settled: false,
      p: (async () => {
        const l = await this.c.blockingLink(cpu ? 'cpu-work' : 'work', shard);
        const k = this.c.shardKeys(shard);
        return (
          (await this.c.cmd<unknown[] | null>(
            ['BZPOPMIN', cpu ? k.cpuMarker(queue) : k.marker(queue), secs],
            l,
            timeoutMs + this.c.options.commandTimeoutMs,
          )) !== null
        );
      })(),
    };
    this.wakers.set(key, w);
    w.p.then(
      (got) => {
        w.settled = true;
        if (!got && this.wakers.get(key) === w) this.wakers.delete(key);
      },
      () => {
        w.settled = true;
        if (this.wakers.get(key) === w) this.wakers.delete(key);
      },
    );
    return w;
  }

  async renew(jobId: string, token: string, leaseMs: number): Promise<void> {
    checkCode(await this.c.run('renewLease', [jobId, token, leaseMs], this.c.at(jobId)), jobId);
  }

  async reportProgress(jobId: string, token: string, p: Progress): Promise<void> {
    checkCode(await this.c.run('reportProgress', [jobId, token, p.completed, p.total], this.c.at(jobId)), jobId);
  }

  /** completions of one event-loop turn go to Redis together, in one completeJobs call per shard */
  async complete(jobId: string, token: string, result: unknown, job?: Job): Promise<void> {
    const { error } = await this.completions.add({ jobId, token, result, job });
    if (error) throw error;
  }

  private async flushCompletions(): Promise<void> {
    await Promise.all(
      [...groupByShard(this.completions.take())].map(async ([shard, batch]) => {
        try {
          const codes = await this.c.run<number[]>(
            'completeJobs',
            completionArgs(batch, this.c),
            this.c.shardKeys(shard),
            true,
          );
          await this.flowsAfter(batch.map((c) => c.jobId));
          settleAll(
            batch,
            batch.map((c, i) => codeError(codes[i], c.jobId)),
          );
        } catch (err) {
          settleAll(batch, err instanceof Error ? err : new Error(String(err)));
        }
      }),
    );
  }

  async fail(jobId: string, token: string, error: string, target: FailTarget): Promise<void> {
    checkCode(
      await this.c.run('failJob', [jobId, token, error, target.to, retryDelayOf(target)], this.c.at(jobId), true),
      jobId,
    );
    await this.flowsAfter([jobId]);
  }

  async release(jobId: string, token: string, holdMs?: number): Promise<void> {
    if (holdMs === undefined) {
      checkCode(await this.c.run('releaseJob', [jobId, token], this.c.at(jobId)), jobId);
      return;
    }
    const got = await this.c.run<number | [number, string, string]>(
      'releaseJob',
      [jobId, token, Math.max(0, Math.round(holdMs))],
      this.c.at(jobId),
    );
    if (!Array.isArray(got)) return checkCode(got, jobId);
    const [, queue, group] = got;
    // a job without a group holds its queue: in every shard, since each claims it
    const own = shardOfId(jobId);
    if (group === '' && queue !== '')
      await this.c.perShard((k, shard) =>
        shard === own ? Promise.resolve() : this.c.run('holdQueue', [queue, Math.round(holdMs)], k),
      );
  }

  /** after a step on these jobs: the shards of those that are flow nodes have their outboxes delivered */
  private async flowsAfter(ids: string[]): Promise<void> {
    if (!this.flowOutbox) return;
    const nodes = ids.filter(isFlowNodeId);
    if (nodes.length > 0) await this.flowOutbox.after(nodes.map(shardOfId));
  }

  /**
   * every known shard's lapsed leases on `queue`; the jobs of this adapter's claims still being
   * answered, and of its lost claims (lost-claims.ts: they are given back), count as held
   */
  async reap(queue: string, o: ReapOptions = {}): Promise<ReapResult> {
    const inFlight = [...this.unanswered].filter(([, q]) => q === queue).map(([base]) => base);
    const holding = [...new Set([...(o.holding ?? []), ...this.lost.bases(queue), ...inFlight])];
    const args = [queue, o.limit ?? 500, o.leaseMs ?? '', DEFAULT_LEASE_MS, ...holding];
    const got = await this.c.perShard((k) => this.c.run<[string[], string[]]>('reapExpiredLeases', args, k));
    const dead = got.flatMap(([, d]) => d);
    await this.flowsAfter(dead);
    return { requeued: got.flatMap(([r]) => r), dead };
  }
}
