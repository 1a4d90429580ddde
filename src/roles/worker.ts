/**
 * `wizard worker`: consumes a queue with `concurrency` jobs in flight.
 *
 * - One fetch loop claims as many jobs as there are free slots (one round trip for a batch) and
 *   blocks on the queue's marker when there is nothing to do. A CPU job (a prime chunk, a module's
 *   `cpu: true` type) is claimed only for a free pool thread: the claim asks the store's CPU lists
 *   for as many as there are threads free, and the other jobs fill --concurrency as before. A CPU
 *   job counts from its claim until its thread is released and its result recorded, so none
 *   waits inside this process for a thread while another worker's threads idle.
 * - Held jobs' leases are renewed every leaseMs/3, so a slow chunk is never run twice; a job whose
 *   lease was lost anyway is abandoned, its late result refused by the store.
 * - CPU-bound handlers (prime chunks) run in a Piscina thread pool, so the event loop stays free
 *   for renewals, heartbeats and shutdown.
 * - Every eighth of a lease one worker in the cluster (a lock) reaps lapsed leases, never those of
 *   the jobs it holds itself; what lapsed while no reaper could reach Redis waits a lease more for
 *   its holder (the gap rule: reapExpiredLeases.lua). When the store is back after an outage the
 *   worker renews what it holds at once.
 * - Redis going away (or out of memory) is survived: each loop backs off and resumes by itself;
 *   the worker logs "lost the store" once and "store is back" once (store-outage.ts). Leases are
 *   kept only by renewing them in Redis, which is the one clock: nothing here takes a job back
 *   on its own reckoning, so a claim whose answer came late is run like any other.
 * - close(): stop claiming, let running jobs finish for up to drainMs, release the rest.
 *   close(true) drops everything at once, as a crash would.
 */
import Piscina from 'piscina';
import { JobCancelledError, LeaseLostError, NotFoundError, StoreUnavailableError, errorMessage } from '../core/errors';
import { failTarget, isCpuType, isPermanent, rateLimitedFor, TimeoutError, timeoutFor } from '../core/handlers';
import { HistoryRecorder } from '../core/history';
import type { Job } from '../core/job';
import { CompletionBatch, CompletionOutcome, settleAll } from '../store/completion-batch';
import { tokenBaseOf } from '../store/common';
import { roleStamp } from '../store/format';
import type { ClaimResult, Store } from '../store/types';
import { createLogger } from '../util/log';
import { assetPath } from '../util/package-root';
import { logAbandoned } from './abandoned';
import { createJobMetrics, processRegistry } from './job-metrics';
import { serveMetrics } from './metrics-server';
import { retryDelay, sleep, within } from '../util/time';
import { storeOutage } from './store-outage';
import { attemptSpan, OpenSpan, readTrace, storedTrace, Tracing, tracing } from '../util/tracing';
import { CANCEL_CHECK_MS, executeJob, Held, Lane, Ran, Stop, TIMEOUT_CHECK_MS } from './worker-job';
import { RunningWorker, validateWorkerOptions, WORKER_DEFAULTS, WorkerOptions } from './worker-options';
import { DEFAULTS } from '../core/defaults';

export { validateWorkerOptions, WORKER_DEFAULTS };
export type { RunningWorker, WorkerOptions };

export function startWorker(store: Store, options: Partial<WorkerOptions> & { nodeId: string }): RunningWorker {
  const o: WorkerOptions = {
    ...WORKER_DEFAULTS,
    log: createLogger({ role: 'worker', node_id: options.nodeId }),
    ...options,
  };
  validateWorkerOptions(o);
  const log = o.log;
  const debug = log.enabled('debug');
  // back after an outage: renew what it holds at once, before any reaper's grace runs out
  const outage = storeOutage(log, store.location, () => renewAll());
  const held = new Map<string, Held>();
  /** null unless an OTLP exporter is configured: then each attempt is a span (src/util/tracing.ts) */
  const tracer = tracing();
  let stopping = false;
  let processed = 0;
  /** this worker's jobs done and attempts failed, for its heartbeat (the dashboard's workers page) */
  let done = 0;
  let failed = 0;
  /** the cluster's history: this worker's counts, sent once a second (the dashboard's charts) */
  const history = new HistoryRecorder(store.history).start();
  /**
   * Two fetch loops ("lanes") share --concurrency, so one claim is in flight while the jobs of
   * the other are run and acknowledged: Redis never waits on this process between batches. A
   * lane counts the handlers running now (a job whose ack is in flight does not count).
   */
  const laneCount = Math.min(o.concurrency, 2);
  const lanes: Lane[] = Array.from({ length: laneCount }, (_, i) => ({
    id: i,
    capacity: Math.floor(o.concurrency / laneCount) + (i < o.concurrency % laneCount ? 1 : 0),
    executing: 0,
    slotFreed: null,
    acks: new CompletionBatch(),
    blocked: false,
    waitsForOrdinary: true,
    wake: null,
    unwritten: false,
  }));
  /**
   * CPU jobs held: from their claim until their pool thread is released and, for one that
   * succeeded, its result is recorded (the store then never sees this worker hold more CPU jobs
   * than it has threads); and the threads the claims in flight asked for. A claim asks for CPU
   * jobs only for threads neither counts, and for those of the CPU jobs it acknowledges itself
   * (its script records them before it claims).
   */
  let cpuHeld = 0;
  let cpuAsked = 0;
  const freeThreads = (acked = 0) => Math.max(0, o.threads - cpuHeld - cpuAsked + acked);
  /** the CPU jobs among finished jobs to acknowledge, or among claimed jobs */
  const cpuAmong = (items: readonly { job?: Job }[]) =>
    items.reduce((n, a) => n + (a.job !== undefined && isCpuType(a.job.type) ? 1 : 0), 0);
  let pool: Piscina | null = null;
  const registry = processRegistry();
  const jobMetrics = createJobMetrics(registry);
  const metricsServer =
    o.metricsPort === undefined ? null : serveMetrics(registry, o.metricsPort, o.metricsHost ?? '127.0.0.1');
  metricsServer?.then(
    (m) => log.info('metrics listening', { url: m.url }),
    (err) => log.error('metrics server failed', { error: errorMessage(err) }),
  );

  const cpuPool = (): Piscina => {
    pool ??= new Piscina({
      filename: assetPath('dist', 'src', 'roles', 'pool-thread.js'),
      minThreads: o.threads,
      maxThreads: o.threads,
      idleTimeout: 60_000,
    });
    return pool;
  };

  /** a store call for a job that will not be tried again: refused (the lease was lost) or failed */
  const reportGivenUp = (what: string, jobId: string, err: unknown) => {
    if (err instanceof LeaseLostError || err instanceof NotFoundError)
      log.warn(`${what} refused: lease lost`, { job_id: jobId });
    else log.error(`${what} failed`, { job_id: jobId, error: errorMessage(err) });
  };

  /** retry a store call while the store is unavailable; give up on lease loss */
  const retryWhileAway = async (what: string, job: Job, fn: () => Promise<void>): Promise<void> => {
    for (let failures = 0; ; failures++) {
      try {
        await fn();
        outage.ok();
        return;
      } catch (err) {
        outage.failed(err);
        if (!(err instanceof StoreUnavailableError) || (stopping && failures > 3)) {
          reportGivenUp(what, job.id, err);
          return;
        }
        await sleep(retryDelay(failures));
      }
    }
  };

  /**
   * a flow node's attempt span (tracing on): linked to its deps' attempts' spans, and its own
   * context kept on its record for its dependents' links (before it runs: they are made ready only
   * once it finishes). A store that cannot say costs the span its links, never the job its run.
   */
  const flowNodeSpan = async (t: Tracing, job: Job, token: string): Promise<OpenSpan> => {
    const deps = job.deps ? await store.flows.depSpans(job.id).catch(() => []) : [];
    const span = attemptSpan(
      t,
      job,
      deps.flatMap((d) => readTrace(d) ?? []),
    );
    await store.flows.keepSpan(job.id, token, storedTrace(span.context)).catch(() => undefined);
    return span;
  };

  /** the handler's value and, a CPU one, its run time on its thread (worker-job.ts) */
  const execute = (job: Job, token: string, stop: Stop): Ran | Promise<Ran> =>
    executeJob(job, token, stop, { store, log, pool: cpuPool });

  /** end a blocked lane's wait at once (it may claim again: a thread or one of its slots is free), and a lane waiting for a slot */
  const wake = (lane: Lane) => {
    if (lane.blocked && lane.wake) {
      lane.blocked = false; // the job that woke it is acknowledged with its next call
      lane.wake.abort();
    }
    lane.slotFreed?.();
  };

  /** a CPU job that failed or was stopped released its thread: the job's lane claims for it */
  const threadFreed = (lane: Lane) => {
    cpuHeld--;
    wake(lane);
  };

  /**
   * run the handler; its slot (a CPU job: its thread) is free as soon as the handler is done,
   * before the ack returns. Its duration is measured with this process's monotonic clock: the run
   * on a pool thread for a CPU handler, else from the start of the handler.
   */
  const runJob = async (job: Job, token: string, stop: Stop, lane: Lane, cpu: boolean): Promise<void> => {
    let outcome: { ok: true; result: unknown; runMs: number | null } | { ok: false; err: unknown };
    const began = performance.now();
    let ran: Ran | Promise<Ran> | undefined;
    let succeeded = false;
    const span = tracer ? (job.flowId ? await flowNodeSpan(tracer, job, token) : attemptSpan(tracer, job)) : null;
    try {
      // one that did not return at once is raced with the stop switch: a handler that ignores its
      // signal does not keep the slot (one that returned at once, a built-in task, costs no race)
      ran = execute(job, token, stop);
      const { value, runMs } = ran instanceof Promise ? await Promise.race([ran, stop.whenAborted]) : ran;
      outcome = { ok: true, result: value, runMs };
      succeeded = !stop.aborted;
    } catch (err) {
      outcome = { ok: false, err };
    } finally {
      if (!cpu) {
        lane.executing--;
        // a lane that waits for work it has slots for acknowledges on its own; one that could not claim for want of a slot claims now
        if (lane.waitsForOrdinary) lane.slotFreed?.();
        else wake(lane);
      } else if (succeeded) {
        wake(lane); // its lane acknowledges it with its next claim, which may take the next CPU job for the thread
      } else if (stop.aborted && ran instanceof Promise) {
        // stopped while it ran: its thread is busy until the run ends (a pool task is ended with
        // its thread, a module's CPU handler within ABORT_GRACE_MS)
        const settled = ran;
        void settled.then(
          () => threadFreed(lane),
          () => threadFreed(lane),
        );
      } else threadFreed(lane);
    }
    if (stop.why instanceof TimeoutError) outcome = { ok: false, err: stop.why };
    else if (stop.aborted) {
      span?.end('ABORTED', errorMessage(stop.why));
      return; // cancelled, lease lost or forced stop: the store has it, or someone else will run it
    }
    if (outcome.ok) {
      const { result, runMs } = outcome;
      const elapsedMs = performance.now() - began;
      const seconds = (runMs ?? elapsedMs) / 1000;
      jobMetrics.observe(job, seconds, 'SUCCESS');
      history.done(seconds * 1000);
      done++;
      if (debug)
        log.debug('job done', {
          job_id: job.id,
          type: job.type,
          duration_ms: Math.round(seconds * 1000),
          wait_ms: Math.round(elapsedMs - seconds * 1000),
        });
      span?.end('SUCCESS');
      await ack(lane, job, token, result);
    } else if (rateLimitedFor(outcome.err) !== null) {
      // it met the limit of what it calls: back to waiting, its attempt not counted, its group (or queue) held
      const holdMs = rateLimitedFor(outcome.err)!;
      log.info('job rate limited: given back', { job_id: job.id, retry_after_ms: holdMs });
      span?.end('PENDING', errorMessage(outcome.err));
      await retryWhileAway('release', job, () => store.jobs.release(job.id, token, holdMs));
    } else {
      const { err } = outcome;
      const target = failTarget(job, isPermanent(err));
      jobMetrics.observe(job, (performance.now() - began) / 1000, target.to);
      history.failed();
      failed++;
      log.warn('job failed', { job_id: job.id, attempt: job.attempts, to: target.to, error: errorMessage(err) });
      span?.end(target.to, errorMessage(err));
      await retryWhileAway('fail', job, () => store.jobs.fail(job.id, token, errorMessage(err), target));
    }
    processed++;
  };

  const start = (job: Job, token: string, lane: Lane) => {
    const stop = new Stop();
    const entry: Held = {
      job,
      token,
      stop,
      done: Promise.resolve(),
      since: performance.now(),
      timeoutMs: timeoutFor(job),
    };
    held.set(job.id, entry);
    // a CPU job by this process's registry, whichever lists it came from (one enqueued by a role
    // that did not know the type waits in the ordinary lists): it holds a thread either way
    const cpu = isCpuType(job.type);
    if (cpu) cpuHeld++;
    else lane.executing++;
    entry.done = runJob(job, token, stop, lane, cpu).finally(() => held.delete(job.id));
  };

  /**
   * acknowledge a finished job: with the lane's next call (completeAndClaim), or on its own when
   * the lane is blocked on an empty queue or stopped
   */
  const ack = async (lane: Lane, job: Job, token: string, result: unknown): Promise<void> => {
    if (lane.blocked || stopping) return ackAlone(job, token, result);
    const outcome = lane.acks.add({ jobId: job.id, token, result, job });
    lane.slotFreed?.();
    reportAck(job.id, await outcome);
  };
  const ackAlone = (job: Job, token: string, result: unknown) =>
    retryWhileAway('complete', job, () => store.jobs.complete(job.id, token, result, job)).finally(() => {
      if (isCpuType(job.type)) cpuHeld--; // recorded (or given up): its thread is free
    });

  /** what a lane gathered to acknowledge with its next call goes on its own instead (ackAlone logs a refusal) */
  const ackAllAlone = (lane: Lane) => {
    for (const p of lane.acks.take()) void ackAlone(p.job!, p.token, p.result).then(() => p.settle(null));
  };

  /** an acknowledgement's outcome from completeAndClaim: a refused one is logged as retryWhileAway() logs it */
  const reportAck = (jobId: string, { error, resent }: CompletionOutcome) => {
    if (error && resent && (error instanceof LeaseLostError || error instanceof NotFoundError)) {
      log.info('complete refused: most likely recorded by the call whose answer was lost', { job_id: jobId });
    } else if (error) reportGivenUp('complete', jobId, error);
  };

  /** wait until a handler of the lane finishes, then one more turn so every slot freed with it counts */
  const waitForSlot = async (lane: Lane) => {
    await new Promise<void>((r) => (lane.slotFreed = r));
    lane.slotFreed = null;
    await new Promise((r) => setImmediate(r));
  };

  /**
   * The lanes' calls reach Redis one write apart. Redis runs every call it read in one turn of its
   * loop and then writes all their answers, and node-redis writes every call made in one turn of
   * ours in one write: two calls sent together are answered together, this process then runs both
   * lanes' jobs while Redis idles, and sends both together again (measured: 40-46 % of answers
   * within 0.2 ms of the other lane's). So a lane whose call would go in the turn the other lane's
   * was made waits one turn: its call then reaches Redis while the other runs, and is read after
   * that one's answer is written. The answers come apart, and from then on each lane's next call is
   * in Redis's queue while the other's runs: Redis does not wait for this process to decode an
   * answer, run its jobs and send again (docs/benchmarks.md "Where the worker waits").
   * null: its turn now.
   */
  const takeTurn = (lane: Lane): Promise<unknown> | null =>
    lanes.some((l) => l !== lane && l.unwritten) ? new Promise((r) => setImmediate(r)) : null;

  /** a lane's call made now: node-redis writes it in this turn's setImmediate, before the one set here */
  const sending = (lane: Lane) => {
    lane.unwritten = true;
    setImmediate(() => (lane.unwritten = false));
  };

  /**
   * A lane's loop: acknowledge what its handlers finished and claim for the free slots, and CPU
   * jobs for the free threads, all in one completeAndClaim call (one round trip, one script).
   * When that leaves it nothing to run, it waits for work and claims in one call (waitAndClaim:
   * on one Redis the claim runs in Redis the moment work arrives), what its handlers finish
   * meanwhile acknowledged on its own. Threads are shared by the lanes: a claim in flight (a wait
   * too) holds the ones it asked for (cpuAsked) until its answer is counted.
   */
  const fetchLoop = async (lane: Lane) => {
    let failures = 0;
    /** null: the next call acknowledges and claims; else how long to wait for work first (ms) */
    let waitMs: number | null = null;
    while (!stopping) {
      const free = Math.max(0, lane.capacity - lane.executing);
      const blocking = waitMs !== null && (free > 0 || freeThreads() > 0);
      if (!blocking) {
        waitMs = null;
        const turn = takeTurn(lane); // (no await when it is this lane's turn: the other lane may not slip in)
        if (turn) await turn;
        if (free === 0 && freeThreads() === 0 && lane.acks.size === 0) {
          await waitForSlot(lane);
          continue;
        }
      }
      let acks = blocking ? [] : lane.acks.take();
      const acked = cpuAmong(acks);
      const freeCpu = freeThreads(acked);
      const slots = Math.max(0, lane.capacity - lane.executing);
      cpuAsked += freeCpu;
      let asking = true;
      /** the claim answered (recorded: true) or failed: its threads are counted again as they are */
      const answered = (recorded: boolean) => {
        if (!asking) return;
        asking = false;
        cpuAsked -= freeCpu;
        if (recorded) cpuHeld -= acked;
      };
      try {
        const claimOpts = {
          consumer: o.nodeId,
          max: slots,
          maxCpu: freeCpu,
          leaseMs: o.leaseMs,
          trace: tracer !== null,
        };
        let claim: ClaimResult;
        if (blocking) {
          // it waits for the work it could take: ordinary jobs for its free slots, CPU jobs for
          // free threads; a thread (or, with none free, a slot) freed meanwhile ends the wait (wake)
          lane.blocked = true; // what finishes meanwhile is acknowledged on its own (ack), unless it wakes the lane
          lane.waitsForOrdinary = slots > 0;
          lane.wake = new AbortController();
          ackAllAlone(lane); // what its handlers finished at once
          try {
            claim = await store.jobs.waitAndClaim(o.queue, waitMs!, {
              ...claimOpts,
              ordinary: slots > 0,
              cpu: freeCpu > 0,
              signal: lane.wake.signal,
              lane: lane.id,
            });
          } finally {
            lane.blocked = false;
            lane.wake = null;
            lane.waitsForOrdinary = true;
          }
          answered(true);
        } else {
          sending(lane);
          const done = await store.jobs.completeAndClaim(acks, o.queue, claimOpts);
          answered(true); // in the turn its CPU jobs start (cpuHeld): no other lane sees those threads free between
          settleAll(acks, done.errors);
          acks = []; // settled: a failure from here on (waiting for work) must not send them again
          claim = done.claim;
        }
        outage.ok();
        failures = 0;
        const { jobs, nextRunAt, now } = claim;
        if (stopping) {
          for (const c of jobs) await retryWhileAway('release', c.job, () => store.jobs.release(c.job.id, c.token));
          break;
        }
        for (const c of jobs) start(c.job, c.token, lane);
        // a claim that came back short of the lane's free slots emptied the queue for it: its next
        // call would claim nothing, so it waits at once and what it ran is acknowledged alone
        const drained = jobs.length > 0 && slots > 0 && jobs.length - cpuAmong(jobs) < slots; // (CPU jobs take threads, not slots)
        // one turn for the handlers that finish at once, so their acks ride the next call
        if (jobs.length > 0 && !drained) await new Promise((r) => setImmediate(r));
        // both times are the store's: how long until the next retry is due, whatever this host's clock says
        waitMs =
          drained || (jobs.length === 0 && (slots > 0 || freeCpu > 0) && lane.acks.size === 0)
            ? nextRunAt === null
              ? o.blockMs
              : Math.max(1, Math.min(o.blockMs, nextRunAt - now))
            : null;
      } catch (err) {
        answered(!(err instanceof StoreUnavailableError)); // acks put back still hold their threads
        waitMs = null;
        if (err instanceof StoreUnavailableError)
          lane.acks.putBack(acks, err.maybeApplied); // sent again with the next call
        else settleAll(acks, err instanceof Error ? err : new Error(String(err)));
        if (stopping) break;
        if (!outage.failed(err) && failures === 0) log.warn('cannot claim: backing off', { error: errorMessage(err) });
        await sleep(retryDelay(failures++));
      }
    }
    // the loop is over: what is still to be acknowledged goes on its own
    lane.blocked = true;
    ackAllAlone(lane);
  };

  /**
   * renew every held job's lease, each on its own: one whose renewal is still in flight (a slow or
   * half-moved shard answering TRYAGAIN until its deadline) is skipped, never piled up, and does
   * not hold back the renewals of jobs on other shards
   */
  const renewing = new Set<string>();
  const renewAll = () => {
    for (const h of held.values()) {
      if (renewing.has(h.job.id)) continue;
      renewing.add(h.job.id);
      void renewOne(h).finally(() => renewing.delete(h.job.id));
    }
  };
  const renewOne = async (h: Held) => {
    try {
      await store.jobs.renew(h.job.id, h.token, o.leaseMs);
    } catch (err) {
      // refused because the job was acknowledged meanwhile (the ack and this renewal crossed): nothing is lost
      if (held.get(h.job.id) !== h) return;
      if (err instanceof JobCancelledError) cancelled(h);
      else if (err instanceof LeaseLostError || err instanceof NotFoundError) {
        h.stop.abort(err);
        await logAbandoned(store, log, h.job); // taken back, or ended by a cancel (a chunk whose parent failed)
      } else outage.failed(err); // the job goes on: its lease is renewed when the store is back
    }
  };

  /** a held job was cancelled: its handler is aborted (a CPU-pool task with its thread); the store has ended it */
  const cancelled = (h: Held) => {
    if (h.stop.aborted) return;
    log.info('job cancelled: aborting it', { job_id: h.job.id });
    h.stop.abort(new JobCancelledError(h.job.id));
  };

  /** the jobs held a while are looked at for a cancel: one round trip, only while some run that long */
  let checking = false;
  const checkCancels = async () => {
    const cutoff = performance.now() - CANCEL_CHECK_MS;
    const long = [...held.values()].filter((h) => h.since <= cutoff && !h.stop.aborted);
    if (long.length === 0 || checking) return;
    checking = true;
    try {
      const ids = new Set(await store.jobs.cancelledAmong(long.map((h) => h.job.id)));
      for (const h of long) if (ids.has(h.job.id) && held.get(h.job.id) === h) cancelled(h);
    } catch (err) {
      outage.failed(err);
    } finally {
      checking = false;
    }
  };

  /** an attempt past its timeout is aborted (a CPU-pool task with its thread) and fails (runJob) */
  const checkTimeouts = () => {
    const now = performance.now();
    for (const h of held.values())
      if (!h.stop.aborted && now - h.since >= h.timeoutMs) h.stop.abort(new TimeoutError(h.timeoutMs));
  };

  const heartbeat = () =>
    store.nodes
      .heartbeat('worker', o.nodeId, o.heartbeatMs * 3, {
        ...roleStamp(),
        concurrency: o.concurrency,
        threads: o.threads,
        queue: o.queue,
        pid: process.pid,
        running: held.size,
        done,
        failed,
      })
      .catch((err) => void outage.failed(err));

  /**
   * one look at lapsed leases per reapEveryMs across the cluster (the lock): never at the jobs this
   * process holds (their claims' token bases), and by this worker's lease (the gap rule's grace)
   */
  const reapEveryMs = Math.max(250, Math.floor(o.leaseMs / 8));
  const reap = async () => {
    try {
      if (!(await store.nodes.tryLock(`reap:${o.queue}`, o.nodeId, reapEveryMs))) return;
      const holding = new Set([...held.values()].map((h) => tokenBaseOf(h.token)));
      const { requeued, dead } = await store.jobs.reap(o.queue, { leaseMs: o.leaseMs, holding });
      if (requeued.length || dead.length)
        log.info('reclaimed lapsed leases', { requeued: requeued.length, dead: dead.length });
      const delivered = await store.flows.recover(DEFAULTS.flowOutboxGraceMs);
      if (delivered) log.info('delivered flow steps left undelivered', { entries: delivered });
    } catch (err) {
      outage.failed(err); // the next tick tries again
    }
  };

  const timers = [
    setInterval(renewAll, Math.max(50, Math.floor(o.leaseMs / 3))),
    setInterval(() => void heartbeat(), o.heartbeatMs),
    setInterval(() => void checkCancels(), CANCEL_CHECK_MS),
    setInterval(checkTimeouts, TIMEOUT_CHECK_MS),
    setInterval(() => void reap(), reapEveryMs),
  ];
  void heartbeat();
  void reap();
  const loop = Promise.all(lanes.map(fetchLoop));
  log.info('worker started', { queue: o.queue, concurrency: o.concurrency, threads: o.threads, store: store.location });

  return {
    nodeId: o.nodeId,
    processed: () => processed,
    async close(force = false) {
      if (stopping) return;
      stopping = true;
      lanes.forEach(wake);
      timers.forEach(clearInterval);
      if (force) {
        void history.close();
        for (const h of held.values()) h.stop.abort(new Error('worker stopped'));
        await pool?.destroy();
        await metricsServer?.then(
          (m) => m.close(),
          () => undefined,
        );
        return;
      }
      await within(loop, o.blockMs + 500);
      const drained = Promise.all([...held.values()].map((h) => h.done));
      const timedOut = !(await within(
        drained.then(() => true),
        o.drainMs,
      ));
      if (timedOut) {
        for (const h of [...held.values()]) {
          h.stop.abort(new Error('worker stopping'));
          await retryWhileAway('release', h.job, () => store.jobs.release(h.job.id, h.token));
        }
      }
      await history.close();
      await store.nodes.remove('worker', o.nodeId).catch(() => undefined);
      await pool?.destroy();
      await metricsServer?.then(
        (m) => m.close(),
        () => undefined,
      );
      log.info('worker stopped', { processed, released: timedOut });
    },
  };
}
