/** Jobs through their queues: creates, cancels, pauses, claims, completions, failures, releases and the reaping of lapsed leases. */
import { Job, NewJob, Progress } from '../../core/job';
import { DEFAULT_BOT_QUEUE } from '../../core/batch';
import { NotFoundError, StoreUnavailableError } from '../../core/errors';
import { decodeJob, pairsToRecord } from '../codec';
import { cancelConflict, createdJob, fingerprint, flowRows, idempotencyConflict, jobRow, JobRow, rowArgs, tokenBase } from '../common';
import { shardOfJob } from '../keys';
import type { ClaimOptions, ClaimResult, CompleteAndClaimResult, Completion, FailTarget, FlowSpec, ReapResult, Submitted } from '../types';
import { CompletionBatch, settleAll } from '../completion-batch';
import { keyShard, claimArgs, claimResult, completionArgs, groupByShard, merged, retryDelayOf, CONFLICT, type ClaimReply } from './shared';
import { RedisShards } from './shards';

export class RedisJobs extends RedisShards {
  /** completions of this event-loop turn (complete) */
  protected readonly completions = new CompletionBatch(() => setImmediate(() => void this.flushCompletions()));

  /** write new jobs in one shard; answers them as created at Redis's time (a worker may already have claimed them) */
  protected async insert(rows: JobRow[], shard: number): Promise<Job[]> {
    const [, now] = await this.run<[number, string]>('enqueueJobs', ['', '', ...rowArgs(rows)], this.shardKeys(shard), true);
    return rows.map((r) => createdJob(r, Number(now)));
  }

  /**
   * one call's jobs go to one shard (the next in turn; the bot queue's to shard 0), in one script:
   * a batch keeps its order, and calls spread over the shards
   */
  async enqueue(jobs: NewJob[]): Promise<Job[]> {
    const shard = jobs[0]?.id !== undefined ? shardOfJob(jobs[0].id) : this.pickShard(jobs[0]?.queue);
    return this.insert(jobs.map((j) => jobRow({ ...j, id: j.id ?? RedisShards.newId(shard) })), shard);
  }

  /** a prime count's parent and its chunks in one shard: the chord stays one script */
  async enqueueFlow(flow: FlowSpec): Promise<{ parent: Job; children: Job[] }> {
    const shard = this.pickShard(flow.children[0]?.queue);
    const withId = (j: NewJob): NewJob => ({ ...j, id: j.id ?? RedisShards.newId(shard) });
    const [parent, ...children] = await this.insert(flowRows({ parent: withId(flow.parent), children: flow.children.map(withId) }), shard);
    return { parent, children };
  }

  /**
   * one job or one flow in one shard. With an idempotency key the shard is the key's (hashed:
   * every node that is given the key looks in the one place it can be, and the enqueue script
   * checks and sets it with the job, atomically); the bot queue's jobs stay in shard 0
   */
  async submit(work: NewJob | FlowSpec): Promise<Submitted> {
    const first = 'parent' in work ? work.parent : work;
    const key = first.idempotencyKey ?? '';
    const queue = 'parent' in work ? work.children[0]?.queue : work.queue;
    const shard = key && queue !== (this.options.botQueue ?? DEFAULT_BOT_QUEUE) ? keyShard(key, this.shardCount) : this.pickShard(queue);
    const withId = (j: NewJob): NewJob => ({ ...j, id: j.id ?? RedisShards.newId(shard) });
    const rows = 'parent' in work ? flowRows({ parent: withId(work.parent), children: work.children.map(withId) }) : [jobRow(withId(work))];
    const [, now, existingId, , same] = await this.run<[number, string, string?, string?, number?]>(
      'enqueueJobs', [key, key ? fingerprint(first) : '', ...rowArgs(rows)], this.shardKeys(shard), true,
    );
    if (existingId === undefined) {
      const [job, ...children] = rows.map((r) => createdJob(r, Number(now)));
      return { job, children, existing: false };
    }
    if (same !== 1) throw idempotencyConflict(key, existingId);
    const job = await this.getJob(existingId);
    if (!job) throw new NotFoundError(`job ${existingId} not found`);
    return { job, children: [], existing: true };
  }

  /** in the job's shard (a prime count and its chunks share one) */
  async cancel(jobId: string): Promise<Job> {
    const [code, detail] = await this.run<[number, string?]>('cancelJob', [jobId], this.at(jobId), true);
    if (code === CONFLICT) throw cancelConflict(jobId, String(detail));
    this.checkCode(code, jobId);
    return (await this.getJob(String(detail)))!;
  }

  async cancelledAmong(jobIds: string[]): Promise<string[]> {
    const states = await Promise.all(jobIds.map((id) => this.cmd<string | null>(['HGET', this.at(id).job(id), 'state'])));
    return jobIds.filter((_, i) => states[i] === 'CANCELLED');
  }

  /** the paused flag is the member 'paused' of the queue's ready set in every shard (lib.lua's claimFrom reads it with the priorities) */
  async pauseQueue(queue: string): Promise<void> {
    await Promise.all([...this.shards.map((k) => this.durable(['ZADD', k.ready(queue), -1, 'paused'])), this.cmd(['SADD', this.keys.queues, queue])]);
  }

  async resumeQueue(queue: string): Promise<void> {
    await this.perShard((k) => this.durable(['ZREM', k.ready(queue), 'paused']));
    await this.perShard((k) => this.cmd(['ZADD', k.marker(queue), 0, 'm']));
  }

  async claim(queue: string, opts: ClaimOptions): Promise<ClaimResult> {
    return this.claimIn(queue, opts, await this.urgentOrder(queue));
  }

  /**
   * the completions acknowledged, each in its job's shard, and a claim: from the first shard in
   * this call's rotation (in the same script as the completions of that shard), then from the
   * next ones while slots are left. With one shard this is one script, as it always was.
   */
  async completeAndClaim(completions: Completion[], queue: string, opts: ClaimOptions): Promise<CompleteAndClaimResult> {
    const [first, ...rest] = await this.urgentOrder(queue);
    const byShard = groupByShard(completions);
    const mine = byShard.get(first) ?? [];
    byShard.delete(first);
    const codes = new Map<Completion, unknown>();
    const [[own, claimed]] = await Promise.all([
      this.claiming(queue, opts, first, (base) =>
        this.run<[number[], ClaimReply]>('completeAndClaim', [...completionArgs(mine), ...claimArgs(queue, opts, base)], this.shardKeys(first), true),
      ),
      ...[...byShard].map(async ([shard, cs]) => {
        const got = await this.run<number[]>('completeJobs', completionArgs(cs), this.shardKeys(shard), true);
        cs.forEach((c, i) => codes.set(c, got[i]));
      }),
    ]);
    mine.forEach((c, i) => codes.set(c, own[i]));
    let claim = claimResult(claimed, queue, opts.consumer);
    if (claim.jobs.length < opts.max && rest.length > 0) claim = merged(claim, await this.claimIn(queue, { ...opts, max: opts.max - claim.jobs.length }, rest));
    return { errors: completions.map((c) => this.codeError(codes.get(c), c.jobId)), claim };
  }

  /** a claim from the shards in `order`, each while slots are left */
  protected async claimIn(queue: string, opts: ClaimOptions, order: number[]): Promise<ClaimResult> {
    let out: ClaimResult | null = null;
    for (const shard of order) {
      const max = opts.max - (out?.jobs.length ?? 0);
      if (out && max <= 0) break;
      const got = claimResult(
        await this.claiming(queue, opts, shard, (base) => this.run<ClaimReply>('claimJobs', claimArgs(queue, { ...opts, max }, base), this.shardKeys(shard))),
        queue,
        opts.consumer,
      );
      out = out ? merged(out, got) : got;
    }
    return out!;
  }

  /** a claim under a token base of its own; when its answer is lost, its jobs are given back (lost-claims.ts) */
  protected async claiming<T>(queue: string, opts: ClaimOptions, shard: number, call: (base: string) => Promise<T>): Promise<T> {
    const base = tokenBase(opts.consumer);
    try {
      return await call(base);
    } catch (err) {
      if (opts.max > 0 && err instanceof StoreUnavailableError && err.maybeApplied) {
        if (shard !== 0) this.lostShard.set(base, shard);
        this.lost.add(queue, base, opts.leaseMs);
      }
      throw err;
    }
  }

  /**
   * Blocks until a job is put on `queue` in any shard (each shard's marker, BZPOPMIN on a
   * connection per shard), or timeoutMs. A shard's BZPOPMIN still blocked when another shard
   * woke this call is kept for the next call, not sent again, and what it pops then wakes that
   * call at once: no wake-up is lost and no empty shard is polled.
   */
  async waitForWork(queue: string, timeoutMs: number): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    for (let left = timeoutMs; left > 0; left = until - Date.now()) {
      const ws = this.shards.map((k, shard) => this.waker(queue, shard, left));
      let timer: NodeJS.Timeout | undefined;
      try {
        const got = await Promise.race([...ws.map((w) => w.p), new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), left)))]);
        if (got === 'timeout') return false;
        if (got) {
          ws.forEach((w, shard) => w.settled && this.wakers.delete(`${queue}\n${shard}`)); // woken: those that popped are used up
          return true;
        }
        // one kept from an earlier call timed out: it is sent again for the time left
      } finally {
        clearTimeout(timer);
      }
    }
    return false;
  }

  protected waker(queue: string, shard: number, timeoutMs: number): { p: Promise<boolean>; settled: boolean } {
    const key = `${queue}\n${shard}`;
    const had = this.wakers.get(key);
    if (had) return had;
    const secs = Math.max(0.01, timeoutMs / 1000).toFixed(3);
    const w = {
      settled: false,
      p: (async () => {
        const l = await this.blockingLink('work', shard);
        return (await this.cmd<unknown[] | null>(['BZPOPMIN', this.shardKeys(shard).marker(queue), secs], l, timeoutMs + this.options.commandTimeoutMs)) !== null;
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
    this.checkCode(await this.run('renewLease', [jobId, token, leaseMs], this.at(jobId)), jobId);
  }

  async reportProgress(jobId: string, token: string, p: Progress): Promise<void> {
    this.checkCode(await this.run('reportProgress', [jobId, token, p.completed, p.total], this.at(jobId)), jobId);
  }

  /** completions of one event-loop turn go to Redis together, in one completeJobs call per shard */
  async complete(jobId: string, token: string, result: unknown, job?: Job): Promise<void> {
    const { error } = await this.completions.add({ jobId, token, result, job });
    if (error) throw error;
  }

  protected async flushCompletions(): Promise<void> {
    await Promise.all([...groupByShard(this.completions.take())].map(async ([shard, batch]) => {
      try {
        const codes = await this.run<number[]>('completeJobs', completionArgs(batch), this.shardKeys(shard), true);
        settleAll(batch, batch.map((c, i) => this.codeError(codes[i], c.jobId)));
      } catch (err) {
        settleAll(batch, err instanceof Error ? err : new Error(String(err)));
      }
    }));
  }

  async fail(jobId: string, token: string, error: string, target: FailTarget): Promise<void> {
    this.checkCode(await this.run('failJob', [jobId, token, error, target.to, retryDelayOf(target)], this.at(jobId), true), jobId);
  }

  async release(jobId: string, token: string): Promise<void> {
    this.checkCode(await this.run('releaseJob', [jobId, token], this.at(jobId)), jobId);
  }

  /** every known shard's lapsed leases on `queue` */
  async reap(queue: string, limit = 500): Promise<ReapResult> {
    const got = await this.perShard((k) => this.run<[string[], string[]]>('reapExpiredLeases', [queue, limit], k));
    return { requeued: got.flatMap(([r]) => r), dead: got.flatMap(([, d]) => d) };
  }

  protected async getJobs(ids: string[]): Promise<Job[]> {
    const replies = await Promise.all(ids.map((id) => this.cmd<string[]>(['HGETALL', this.at(id).job(id)])));
    return replies.flatMap((r, i) => (r.length > 0 ? [decodeJob(pairsToRecord(r), ids[i])] : []));
  }

  async getJob(jobId: string): Promise<Job | null> {
    const [job] = await this.getJobs([jobId]);
    return job ?? null;
  }
}
