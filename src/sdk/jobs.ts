/**
 * Typed job types for code that uses wizard: `defineJobs` writes a handlers module (the one
 * `wizard up --handlers <file>` and `wizard worker --handlers <file>` load) so that the same table
 * types the client. A type's params are what its run's first argument is annotated with, its
 * result what run returns; the built-in types (task, primes, sim) are typed here the same way.
 * Types only: nothing here runs at load but the identity function.
 */
import type { UserContext } from '../core/handlers';
import type { MathOp } from '../core/math';

/**
 * one type of a handlers module (src/core/user-types.ts checks it when a role loads the module).
 * P defaults to any so that a run whose params are not annotated still compiles (untyped then).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above
export interface JobDefinition<P = any, R = unknown> {
  /** the params' JSON Schema: the API checks every job's params with it */
  params?: Record<string, unknown>;
  /** what a worker runs; absent: bots started with --exec run the type's jobs (then give a queue) */
  run?: (params: P, ctx: UserContext) => R | Promise<R>;
  /** CPU-bound: run on the worker's thread pool */
  cpu?: boolean;
  /** attempts a job gets (1-100; 3 by default) */
  attempts?: number;
  /** the first retry's delay (ms) */
  backoff_ms?: number;
  /** an attempt's timeout when the job names none (ms) */
  timeout_ms?: number;
  /** the queue its jobs go to */
  queue?: string;
}

/** a handlers module's table: type name → definition (any: each type's params are its own) */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above
export type JobTable = Record<string, JobDefinition<any, unknown>>;

/** the names no module may define */
export type BuiltinTypeName = 'task' | 'primes' | 'primes_chunk' | 'sim';

/** a math task's result is a number; a prime count's is its count and how long it took */
export interface BuiltinJobs {
  task: { params: { a: number; b: number; op?: MathOp }; result: number };
  primes: { params: { n: number; chunks: number }; result: { prime_count: number; duration_sec: number } };
  sim: { params: { duration_ms: number; failure_rate: number }; result: { ok: true; duration_ms: number } };
}

/**
 * a handlers module's table, as written: `export default defineJobs({ resize: { params: {...},
 * run(p: { width: number }) { ... } } })`. Annotate run's params: that annotation is the type
 * the client checks `add('resize', params)` against.
 */
export function defineJobs<T extends JobTable>(table: T & { [K in Extract<keyof T, BuiltinTypeName>]?: never }): T {
  return table;
}

type ParamsOfDef<D> = D extends { run: (params: infer P, ...rest: never[]) => unknown } ? P : Record<string, unknown>;
type ResultOfDef<D> = D extends { run: (...args: never[]) => infer R } ? Awaited<R> : unknown;

/** a table's types as {params, result} per name */
export type JobTypesOf<T extends JobTable> = {
  [K in keyof T & string]: { params: ParamsOfDef<T[K]>; result: ResultOfDef<T[K]> };
};

/** the types a client or test store knows: the built-ins, and a module's when one is given */
export type KnownJobs<T> = T extends JobTable ? BuiltinJobs & JobTypesOf<T> : BuiltinJobs;

/** the type names accepted: a typed client's known ones; an untyped client's any name */
export type JobTypeName<T> = T extends JobTable ? keyof KnownJobs<T> & string : string;

/** the params of type K (an untyped client's unknown type: any JSON object) */
export type ParamsFor<T, K> = K extends keyof KnownJobs<T>
  ? KnownJobs<T>[K] extends { params: infer P }
    ? P
    : never
  : Record<string, unknown>;

/** the result of type K (unknown when the type is not known) */
export type ResultFor<T, K> = K extends keyof KnownJobs<T>
  ? KnownJobs<T>[K] extends { result: infer R }
    ? R
    : never
  : unknown;

/** a job's id, carrying its type for the compiler (at run time: a string) */
export type JobId<K extends string = string> = string & { readonly __wizardJobType?: K };
