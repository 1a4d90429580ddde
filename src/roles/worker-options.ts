/** `wizard worker`'s options, their defaults and their check (worker.ts runs them). */
import os from 'node:os';
import { DEFAULTS } from '../core/defaults';
import { DEFAULT_QUEUE } from '../core/job';
import { DEFAULT_LEASE_MS } from '../store/types';
import type { Logger } from '../util/log';

export interface WorkerOptions {
  nodeId: string;
  queue: string;
  /** jobs in flight at once, CPU jobs aside (those are one per pool thread) */
  concurrency: number;
  /** threads of the CPU pool: at most this many CPU jobs are held at once */
  threads: number;
  leaseMs: number;
  heartbeatMs: number;
  /** longest wait on an idle queue before looking again */
  blockMs: number;
  /** how long close() lets running jobs finish before releasing them */
  drainMs: number;
  log: Logger;
  /** serve GET /metrics (job durations, retries, process metrics) on this port; off when unset */
  metricsPort?: number;
  metricsHost?: string;
}

export const WORKER_DEFAULTS = {
  queue: DEFAULT_QUEUE,
  concurrency: DEFAULTS.concurrency,
  threads: os.availableParallelism(),
  leaseMs: DEFAULT_LEASE_MS,
  heartbeatMs: 5_000,
  blockMs: 1_000,
  drainMs: 7_000,
};

export interface RunningWorker {
  readonly nodeId: string;
  /** jobs finished by this worker (success or failure) */
  readonly processed: () => number;
  close(force?: boolean): Promise<void>;
}

export function validateWorkerOptions(o: WorkerOptions): void {
  for (const k of ['concurrency', 'threads', 'leaseMs', 'heartbeatMs', 'blockMs'] as const) {
    if (!Number.isInteger(o[k]) || o[k] < 1) throw new Error(`options.${k} must be a positive integer`);
  }
}
