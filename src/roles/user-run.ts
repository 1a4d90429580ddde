/**
 * Running a --handlers module's type in the worker: its ctx (signal, jobId, attempt, progress,
 * log), its progress written through the store at most every PROGRESS_EVERY_MS per job (the last
 * value of a window is written when the window ends; none after the handler is done: completion
 * is final), and a `cpu: true` type sent to the Piscina pool with a MessagePort for its progress
 * and logs. A stop (cancel, timeout, lost lease, shutdown) goes to the thread over that port, so
 * the handler's ctx.signal aborts there with the reason; the thread is ended only when the handler
 * has not returned ABORT_GRACE_MS later. Only user types take this path: the built-ins keep
 * theirs, as cheap as before (a prime chunk, which never looks at a signal, ends with its thread).
 */
import { MessageChannel } from 'node:worker_threads';
import type Piscina from 'piscina';
import { errorMessage, JobCancelledError, LeaseLostError, NotFoundError } from '../core/errors';
import type { UserContext, UserType } from '../core/handlers';
import type { Job, Progress } from '../core/job';
import { normalizeProgress } from '../core/progress';
import type { Store } from '../store/types';
import type { Logger } from '../util/log';
import type { AbortReason, MainMessage, PoolResult, ThreadMessage, UserTask } from './pool-thread';

/** how long a CPU type's handler has, once its signal is aborted, to return or throw before its thread is ended (ms) */
export const ABORT_GRACE_MS = 1000;

/** at most one progress write per job this often (ms) */
export const PROGRESS_EVERY_MS = 250;

export interface ProgressWriter {
  report(p: Progress): void;
  /** the handler is done: nothing more is written */
  close(): void;
}

/** a held job's progress, throttled: the first value at once, then the latest of each window */
export function progressWriter(store: Store, jobId: string, token: string, log: Logger): ProgressWriter {
  let pending: Progress | null = null;
  let timer: NodeJS.Timeout | null = null;
  let closed = false;
  const write = (p: Progress) => {
    store.jobs.reportProgress(jobId, token, p).catch((err) => {
      if (err instanceof LeaseLostError || err instanceof NotFoundError || err instanceof JobCancelledError) {
        closed = true; // not ours any more: the renewal learns it too and aborts the handler
        log.debug('progress refused', { job_id: jobId, error: errorMessage(err) });
      } else log.warn('progress not written', { job_id: jobId, error: errorMessage(err) });
    });
  };
  const tick = () => {
    timer = null;
    if (closed || pending === null) return;
    const p = pending;
    pending = null;
    write(p);
    timer = setTimeout(tick, PROGRESS_EVERY_MS);
  };
  return {
    report(p) {
      if (closed) return;
      pending = p;
      if (timer === null) tick();
    },
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
    },
  };
}

type LogLevelName = 'debug' | 'info' | 'warn' | 'error';

/**
 * a handler's ctx.log: each line goes to the worker's log (as before) and to the job's log in the
 * store (store.jobs.appendLog, shown on the job's page); a job that logs nothing writes nothing
 */
export function jobLogger(store: Store, jobId: string, log: Logger, workerLog: Logger): Logger {
  const keep = (level: LogLevelName) => (msg: string, fields?: Record<string, unknown>) => {
    log[level](msg, fields);
    const at = new Date().toISOString();
    let line: string;
    try {
      line = JSON.stringify({ at, level, msg: String(msg), ...(fields ? { fields } : {}) });
    } catch {
      line = JSON.stringify({ at, level, msg: String(msg) }); // fields JSON cannot write (a BigInt, a cycle)
    }
    store.jobs.appendLog(jobId, line).catch((err: unknown) => {
      workerLog.debug('job log line not written', { job_id: jobId, error: errorMessage(err) });
    });
  };
  return { ...log, debug: keep('debug'), info: keep('info'), warn: keep('warn'), error: keep('error') };
}

export interface UserRun {
  job: Job;
  token: string;
  type: UserType;
  cpu: boolean;
  /** the job's stop switch's signal (made when asked for) */
  signal: () => AbortSignal;
  store: Store;
  log: Logger;
  pool: () => Piscina;
}

/** a thrown value as an Error that keeps `permanent` and a rate_limited wait (a CPU type's error comes back as data) */
function failure(message: string, permanent: boolean, retryAfterMs?: number): Error {
  return Object.assign(
    new Error(message),
    permanent ? { permanent: true } : {},
    retryAfterMs !== undefined ? { code: 'rate_limited', retry_after_ms: retryAfterMs } : {},
  );
}

/** an abort's reason as plain data (an Error's class does not survive the structured clone) */
function abortReason(reason: unknown): AbortReason {
  if (reason instanceof Error) return { name: reason.name, message: reason.message };
  return { name: 'AbortError', message: String(reason) };
}

/** run a user type's handler: its value (null for undefined) and, in the pool, its time on the thread */
export async function runUserType(r: UserRun): Promise<{ value: unknown; runMs: number | null }> {
  const { job } = r;
  const log = jobLogger(r.store, job.id, r.log.child({ job_id: job.id, type: job.type }), r.log);
  const progress = progressWriter(r.store, job.id, r.token, r.log);
  try {
    if (r.cpu) return await runInPool(r, progress, log);
    const ctx: UserContext = {
      get signal() {
        return r.signal();
      },
      jobId: job.id,
      attempt: job.attempts,
      deps: job.deps ?? {},
      progress: (v) => progress.report(normalizeProgress(v)),
      log,
    };
    if (!r.type.run) throw new Error(`type ${job.type} has no run: bots take its jobs (queue ${r.type.queue})`);
    const value = await r.type.run(job.params, ctx);
    return { value: value ?? null, runMs: null };
  } finally {
    progress.close();
  }
}

async function runInPool(
  r: UserRun,
  progress: ProgressWriter,
  log: Logger,
): Promise<{ value: unknown; runMs: number | null }> {
  const { port1, port2 } = new MessageChannel();
  port1.on('message', (m: ThreadMessage) => {
    if (m.progress) progress.report(m.progress);
    else if (m.log) log[m.log.level](m.log.msg, m.log.fields);
  });
  const task: UserTask = {
    user: {
      file: r.type.file,
      type: r.job.type,
      params: r.job.params,
      jobId: r.job.id,
      attempt: r.job.attempts,
      deps: r.job.deps ?? {},
      port: port2,
    },
  };
  // the job's stop reaches the handler's signal first; the thread is ended after the grace
  const signal = r.signal();
  const end = new AbortController();
  let grace: NodeJS.Timeout | null = null;
  const onStop = () => {
    port1.postMessage({ abort: abortReason(signal.reason) } satisfies MainMessage);
    grace = setTimeout(() => end.abort(signal.reason), ABORT_GRACE_MS);
  };
  if (signal.aborted) end.abort(signal.reason);
  else signal.addEventListener('abort', onStop, { once: true });
  try {
    const out = (await r.pool().run(task, { signal: end.signal, transferList: [port2] as never })) as PoolResult;
    if (out.error !== undefined) throw failure(out.error, out.permanent === true, out.retryAfterMs);
    return { value: out.value ?? null, runMs: out.runMs };
  } finally {
    signal.removeEventListener('abort', onStop);
    if (grace) clearTimeout(grace);
    port1.close();
  }
}
