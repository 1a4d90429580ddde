/**
 * The Piscina thread entry: thin on purpose. It runs a CPU-bound handler (a prime chunk, or a
 * --handlers module's `cpu: true` type) and returns plain data; a user handler's error comes back
 * as data too (message, permanent), since error classes and fields do not survive the structured
 * clone. A user handler's progress and log lines go to the main thread over the task's port.
 * A stop reaches a user handler as a message on that port (its ctx.signal aborts with an Error of
 * the reason's name and message); the main thread ends the thread if the handler has not returned
 * within a grace (user-run.ts). A prime chunk's stop ends its thread at once, as the task's abort.
 */
import { rateLimitedFor } from '../core/handlers';
import type { MessagePort } from 'node:worker_threads';
import { exportedTable, importFile } from '../core/module-load';
import { normalizeProgress } from '../core/progress';
import { countPrimesInRange } from '../core/sieve';

export interface ChunkTask {
  lo: number;
  hi: number;
}

/** a --handlers type's run, in this thread (the module is loaded once per thread) */
export interface UserTask {
  user: {
    file: string;
    type: string;
    params: Record<string, unknown>;
    jobId: string;
    attempt: number;
    /** a flow's node: its deps' outcomes (UserContext.deps) */
    deps: Record<string, { state: string; result?: unknown; error?: string }>;
    port: MessagePort;
  };
}

/** what the thread sends over a user task's port */
export interface ThreadMessage {
  progress?: { completed: number; total: number };
  log?: { level: 'debug' | 'info' | 'warn' | 'error'; msg: string; fields?: Record<string, unknown> };
}

/** why a user task was stopped: an Error's name (JobCancelledError, TimeoutError, LeaseLostError, Error) and message */
export interface AbortReason {
  name: string;
  message: string;
}

/** what the main thread sends over a user task's port */
export interface MainMessage {
  abort?: AbortReason;
}

/** the value and how long it ran on this thread (ms, monotonic): not the wait for the thread; or a user handler's error */
export interface PoolResult {
  value: unknown;
  runMs: number;
  error?: string;
  permanent?: boolean;
  /** the error was a rate_limited one: how long its group waits (ms) */
  retryAfterMs?: number;
}

const modules = new Map<string, Promise<unknown>>();

type UserRun = (params: Record<string, unknown>, ctx: unknown) => unknown;

async function runUser({ file, type, params, jobId, attempt, deps, port }: UserTask['user']): Promise<PoolResult> {
  if (!modules.has(file)) modules.set(file, importFile(file).then(exportedTable));
  const table = (await modules.get(file)) as Record<string, { run: UserRun }>;
  const controller = new AbortController();
  port.on('message', (m: MainMessage) => {
    if (m.abort && !controller.signal.aborted)
      controller.abort(Object.assign(new Error(m.abort.message), { name: m.abort.name }));
  });
  const log = (level: 'debug' | 'info' | 'warn' | 'error') => (msg: string, fields?: Record<string, unknown>) =>
    port.postMessage({ log: { level, msg, fields } } satisfies ThreadMessage);
  const ctx = {
    signal: controller.signal,
    jobId,
    attempt,
    deps,
    progress: (v: unknown) => port.postMessage({ progress: normalizeProgress(v) } satisfies ThreadMessage),
    log: { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') },
  };
  const began = performance.now();
  try {
    const value = await table[type].run(params, ctx);
    return { value: value ?? null, runMs: performance.now() - began };
  } catch (err) {
    const permanent = typeof err === 'object' && err !== null && (err as { permanent?: unknown }).permanent === true;
    return {
      value: null,
      runMs: performance.now() - began,
      error: err instanceof Error ? err.message : String(err),
      permanent,
      ...(rateLimitedFor(err) !== null ? { retryAfterMs: rateLimitedFor(err)! } : {}),
    };
  } finally {
    port.close();
  }
}

export default function run(task: ChunkTask | UserTask): PoolResult | Promise<PoolResult> {
  if ('user' in task) return runUser(task.user);
  const began = performance.now();
  const value = countPrimesInRange(task.lo, task.hi);
  return { value, runMs: performance.now() - began };
}
