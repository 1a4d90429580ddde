/**
 * `import { createTestStore } from 'wizard/testing'`: a handlers module's jobs run in a user's own
 * test (jest, node's test runner), in-process, with no Redis and no server. The store is the
 * embedded one `wizard up` runs on without Redis (src/store/memory.ts); the module is checked and
 * registered as `--handlers` does it (src/core/user-types.ts); `add` checks params and options as
 * POST /jobs does; `drain()` claims and runs the queued jobs one at a time, as a worker would
 * (retries by the type's policy, a thrown `permanent` error failing at once), and moves the
 * store's clock past delays and retry backoffs so a test need not wait for them.
 *
 * The registry of job types is the process's: one test store at a time (close() forgets its types).
 */
import path from 'node:path';
import { primeCountFlow } from '../core/chunks';
import { errorMessage, ValidationError as CoreValidationError } from '../core/errors';
import {
  failTarget,
  isPermanent,
  registerTypes,
  resetTypes,
  specFor,
  TimeoutError,
  timeoutFor,
  userTypes,
} from '../core/handlers';
import { DEFAULT_QUEUE, Job } from '../core/job';
import { jobView } from '../roles/api/views';
import { exportedTable } from '../core/module-load';
import { normalizeProgress } from '../core/progress';
import { parseInput, splitOptions, submitBody } from '../core/schemas';
import { checkTypes, loadHandlers } from '../core/user-types';
import { checkParams, windowOf } from '../roles/api/submit';
import { LIMIT_DEFAULTS } from '../core/quotas';
import { MemoryStore } from '../store/memory';
import type { Store } from '../store/types';
import { createLogger, LogLevel } from '../util/log';
import { addBody } from './client';
import type { AddOptions, JobRecord, Submitted } from './client';
import { NotFound, ValidationError } from './errors';
import type { JobId, JobTable, JobTypeName, ParamsFor, ResultFor } from './jobs';

export interface TestStoreOptions {
  /** the level of the handlers' ctx.log (default warn) */
  logLevel?: LogLevel;
}

export interface DrainOptions {
  /** run delayed jobs and retries too, moving the store's clock to when each is due (default true) */
  withScheduled?: boolean;
  /** stop after running this many attempts (default 10000): a guard against a job that makes jobs forever */
  maxAttempts?: number;
}

export interface DrainResult {
  /** attempts run */
  ran: number;
  succeeded: number;
  /** attempts that failed (retried or not) */
  failed: number;
}

export interface TestStore<T extends JobTable | undefined> {
  /** make a job as POST /jobs would: its params and options checked (ValidationError naming the field) */
  add<K extends JobTypeName<T>>(type: K, params: ParamsFor<T, K>, opts?: AddOptions): Promise<Submitted<K>>;
  /** a job's record, as GET /jobs/:id shows it; NotFound when there is none */
  get<K extends string = string>(id: JobId<K>): Promise<JobRecord<ParamsFor<T, K>, ResultFor<T, K>>>;
  /** run the queued jobs in this process until none is left to run */
  drain(options?: DrainOptions): Promise<DrainResult>;
  /** the embedded store itself */
  readonly store: Store;
  /** forget the module's types and close the store */
  close(): Promise<void>;
}

type Handlers<T> = T | { default: T } | string;

async function register(handlers: unknown): Promise<void> {
  resetTypes();
  if (handlers === undefined) return;
  if (typeof handlers !== 'string') {
    registerTypes(checkTypes(exportedTable(handlers as Record<string, unknown>), '(module object)'));
    return;
  }
  const file = path.resolve(handlers);
  let mod: Record<string, unknown>;
  try {
    // require first: a test runner's own module system (jest's) serves it, where import() is not available
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    mod = require(file) as Record<string, unknown>;
  } catch (err) {
    if ((err as { code?: string }).code !== 'ERR_REQUIRE_ESM') throw err;
    await loadHandlers(file); // an ES module: import()ed as --handlers does
    return;
  }
  registerTypes(checkTypes(exportedTable(mod), file));
}

/** a validation error of the domain as the client's (the same class the client throws) */
function asClientError(err: unknown): unknown {
  return err instanceof CoreValidationError ? new ValidationError(err.message, err.details) : err;
}

/**
 * an embedded store running the jobs of a handlers module (its table, its module object, or its
 * path), and the built-in types
 */
export async function createTestStore<T extends JobTable | undefined = undefined>(
  handlers?: Handlers<T>,
  options: TestStoreOptions = {},
): Promise<TestStore<T>> {
  await register(handlers);
  let skew = 0;
  // finished jobs are kept for the test's life: drain() moves the clock by the backoffs it passes
  const store: Store = new MemoryStore({ now: () => Date.now() + skew, resultTtlMs: 10 * 365 * 86_400_000 });
  const log = createLogger({ role: 'test' }, options.logLevel ?? 'warn');
  const queues = new Set<string>([DEFAULT_QUEUE]);

  const add = async (type: string, params: unknown, opts: AddOptions = {}) => {
    try {
      const { options: o, rest } = splitOptions(parseInput(submitBody, addBody(type, params, opts)));
      const checked = checkParams(type, params);
      const window = windowOf(
        LIMIT_DEFAULTS,
        { type, params: checked, options: o, initiatedBy: 'test', dedupe: rest.dedupe },
        o.idempotency_key,
      );
      if (o.delay_ms !== undefined && o.run_at !== undefined)
        throw new CoreValidationError('give delay_ms or run_at, not both', [
          { field: 'run_at', message: 'cannot be given with delay_ms' },
        ]);
      const delayMs =
        o.run_at !== undefined ? Math.max(0, Date.parse(o.run_at) - (await store.server.time())) : o.delay_ms;
      const queue = specFor(type)?.user?.queue ?? o.queue ?? DEFAULT_QUEUE;
      queues.add(queue);
      const common = {
        queue,
        priority: o.priority,
        delayMs,
        timeoutMs: o.timeout_ms,
        ...(o.group ? { group: o.group } : {}),
      };
      const {
        job,
        existing,
        deduplicated = false,
      } = type === 'primes'
        ? await store.jobs.submit(
            primeCountFlow(
              checked.n as number,
              checked.chunks as number,
              { initiatedBy: 'test', idempotencyKey: o.idempotency_key, priority: o.priority, delayMs },
              { maxAttempts: o.attempts, ...common },
            ),
          )
        : await store.jobs.submit({
            type,
            params: checked,
            initiatedBy: 'test',
            maxAttempts: o.attempts,
            idempotencyKey: o.idempotency_key,
            ...common,
            ...window,
          });
      // POST /jobs's answer, from the job's record
      const { job_id, type: made, queue: on, priority, run_at, idempotency_key, dedupe } = jobView(job);
      return {
        job_id,
        status: job.state,
        type: made,
        queue: on,
        priority,
        run_at,
        idempotency_key,
        existing,
        deduplicated,
        ...(dedupe ? { dedupe } : {}),
      };
    } catch (err) {
      throw asClientError(err);
    }
  };

  /** one attempt, in this process, with the type's timeout */
  const run = async (job: Job, token: string): Promise<unknown> => {
    const spec = specFor(job.type);
    if (!spec) throw new Error(`unknown job type '${job.type}'`);
    if (!spec.user) return spec.run(job.params, {});
    const user = spec.user;
    const stop = new AbortController();
    const ms = timeoutFor(job);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const err = new TimeoutError(ms);
        stop.abort(err);
        reject(err);
      }, ms);
    });
    try {
      return await Promise.race([
        Promise.resolve().then(() =>
          user.run!(job.params, {
            signal: stop.signal,
            jobId: job.id,
            attempt: job.attempts,
            deps: job.deps ?? {},
            progress: (v) => void store.jobs.reportProgress(job.id, token, normalizeProgress(v)).catch(() => undefined),
            log: log.child({ job_id: job.id, type: job.type }),
          }),
        ),
        timedOut,
      ]);
    } finally {
      clearTimeout(timer);
    }
  };

  /** queues with jobs this process can run: not those of types only bots run */
  const runnableQueues = () => {
    const botOnly = new Set(userTypes().flatMap(([, t]) => (t.run === undefined && t.queue ? [t.queue] : [])));
    return [...queues].filter((q) => !botOnly.has(q));
  };

  const drain = async (o: DrainOptions = {}): Promise<DrainResult> => {
    const withScheduled = o.withScheduled ?? true;
    const limit = o.maxAttempts ?? 10_000;
    const out: DrainResult = { ran: 0, succeeded: 0, failed: 0 };
    while (out.ran < limit) {
      let next: number | null = null;
      let ranOne = false;
      for (const queue of runnableQueues()) {
        const { jobs, nextRunAt } = await store.jobs.claim(queue, { consumer: 'test', max: 1, leaseMs: 86_400_000 });
        if (nextRunAt !== null) next = next === null ? nextRunAt : Math.min(next, nextRunAt);
        const claimed = jobs[0];
        if (!claimed) continue;
        ranOne = true;
        out.ran++;
        const { job, token } = claimed;
        let outcome: { ok: true; result: unknown } | { ok: false; err: unknown };
        try {
          outcome = { ok: true, result: await run(job, token) };
        } catch (err) {
          outcome = { ok: false, err };
        }
        if (outcome.ok) {
          await store.jobs.complete(job.id, token, outcome.result === undefined ? null : outcome.result, job);
          out.succeeded++;
        } else {
          const { err } = outcome;
          await store.jobs.fail(job.id, token, errorMessage(err), failTarget(job, isPermanent(err)));
          out.failed++;
        }
      }
      if (ranOne) continue;
      if (!withScheduled || next === null) break;
      skew += Math.max(1, next - (await store.server.time()));
    }
    return out;
  };

  return {
    add: add as TestStore<T>['add'],
    async get(id) {
      const job = await store.reads.job(id);
      if (!job) throw new NotFound(`job ${id} not found`);
      return jobView(job) as never;
    },
    drain,
    store,
    async close() {
      resetTypes();
      await store.close();
    },
  };
}
