/**
 * A worker's held jobs: the lane that claimed them, their stop switch, and how a job's handler
 * is run (a built-in one here, a CPU one on the pool, a --handlers module's by user-run.ts).
 */
import type Piscina from 'piscina';
import { handlerFor } from '../core/handlers';
import type { Job } from '../core/job';
import type { CompletionBatch } from '../store/completion-batch';
import type { Store } from '../store/types';
import type { Logger } from '../util/log';
import type { PoolResult } from './pool-thread';
import { runUserType } from './user-run';

export interface Lane {
  /** its index: on one Redis it waits for work on a connection of its own (waitAndClaim) */
  id: number;
  capacity: number;
  /** handlers of ordinary jobs running now (a job whose ack is still to be sent does not count; CPU jobs are counted in cpuHeld) */
  executing: number;
  slotFreed: (() => void) | null;
  /** finished jobs to acknowledge with the lane's next call */
  acks: CompletionBatch;
  /** blocked on an empty queue (or stopped): a job that finishes now is acknowledged on its own */
  blocked: boolean;
  /** while blocked: whether it waits for ordinary work (it had a free slot), and what ends its wait at once */
  waitsForOrdinary: boolean;
  wake: AbortController | null;
  /** its completeAndClaim call was made in this turn of the event loop and is not written yet (the other lane's goes a turn after it) */
  unwritten: boolean;
}

export interface Held {
  job: Job;
  token: string;
  stop: Stop;
  done: Promise<void>;
  /** when it started (this process's monotonic clock): only jobs running a while are looked at for a cancel */
  since: number;
  /** its attempt is aborted and fails when it runs longer than this (ms) */
  timeoutMs: number;
}

/** what a handler gave: its value and, for a CPU-pool one, its run time on the thread (ms) */
export type Ran = { value: unknown; runMs: number | null };

const isThenable = (v: unknown): v is PromiseLike<unknown> =>
  typeof (v as PromiseLike<unknown> | null)?.then === 'function';

/** how often held jobs are looked at for their timeout (ms) */
export const TIMEOUT_CHECK_MS = 100;

/** how often the jobs held longer than this are looked at for a cancel (ms) */
export const CANCEL_CHECK_MS = 400;

/**
 * A held job's stop switch: an AbortController made only when the handler asks for its signal
 * (a sleeping or CPU-pool handler). Most handlers never do, and an AbortSignal per job was a
 * measurable part of the worker's CPU at tens of thousands of jobs a second.
 */
export class Stop {
  aborted = false;
  private controller: AbortController | null = null;
  private onAbort: ((reason: unknown) => void) | null = null;

  /** rejects with the reason once aborted: what a handler that ignores its signal is raced with */
  get whenAborted(): Promise<never> {
    return new Promise<never>((_, reject) => {
      if (this.aborted) reject(this.reason);
      else this.onAbort = reject;
    });
  }

  get signal(): AbortSignal {
    this.controller ??= new AbortController();
    if (this.aborted && !this.controller.signal.aborted) this.controller.abort(this.reason);
    return this.controller.signal;
  }

  private reason: unknown;

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.controller?.abort(reason);
    this.onAbort?.(reason);
  }

  get why(): unknown {
    return this.reason;
  }
}

/**
 * the handler's value and, for a CPU-bound one, how long it ran on its thread (ms): jobs claimed
 * together wait there for a free thread, and that wait is not their run time. A promise of it
 * only when the handler did not return at once (a CPU-pool one, one that returned a promise).
 */
export function executeJob(
  job: Job,
  token: string,
  stop: Stop,
  env: { store: Store; log: Logger; pool: () => Piscina },
): Ran | Promise<Ran> {
  const handler = handlerFor(job.type);
  if (handler.user)
    return runUserType({
      job,
      token,
      type: handler.user,
      cpu: handler.cpu,
      signal: () => stop.signal,
      store: env.store,
      log: env.log,
      pool: env.pool,
    });
  if (handler.cpu) return env.pool().run(job.params, { signal: stop.signal }) as Promise<PoolResult>;
  const value = handler.run(job.params, {
    get signal() {
      return stop.signal;
    },
  });
  return isThenable(value) ? Promise.resolve(value).then((v) => ({ value: v, runMs: null })) : { value, runMs: null };
}
