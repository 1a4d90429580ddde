/**
 * wizard's client for programs (`import { Client } from 'wizard'`): the API over HTTP with Node's
 * fetch, typed by a handlers module's table (jobs.ts). It loads no server code: this file, the
 * SSE reader (src/client/sse.ts) and the errors are all it needs (test/unit/sdk.test.ts checks).
 *
 * A call the API could not serve (a 503, or no answer) is retried with backoff where a second try
 * cannot make a second job: a read, a cancel, and an add that carries an idempotency key. Other
 * calls fail at once with the typed error (errors.ts).
 */
import { NotFoundError, UnreachableError, WizardError } from '../core/errors';
import {
  FINAL_LIST,
  FINAL_STATES,
  type FlowState as CoreFlowState,
  type JobState as CoreJobState,
} from '../core/states';
import { readSse } from '../client/sse';
import { JobFailed, NotFound, Unavailable, ValidationError, WaitTimeout, WizardApiError } from './errors';
import type { ApiErrorDetail } from './errors';
import type { JobId, JobTable, JobTypeName, ParamsFor, ResultFor } from './jobs';
import { traceHeaders, TraceOption } from './trace';

export interface ClientOptions {
  /** the API's base URL, e.g. http://127.0.0.1:8000 */
  url: string;
  /** a client (or admin) token: sent as Authorization: Bearer <token> */
  token?: string;
  /** one request's time limit (ms; default 30000) */
  requestTimeoutMs?: number;
  /** tries of a call that is safe to repeat, the first included (default 5; 1: no retry) */
  maxTries?: number;
  /** the first retry's delay (ms, default 200), doubled each try up to 5 s; a Retry-After wins */
  retryDelayMs?: number;
  /**
   * the W3C trace context each add continues (sent as traceparent and tracestate), or a function
   * asked at each add; unset: the active OpenTelemetry span's, when the program runs an
   * OpenTelemetry SDK (docs/tracing.md)
   */
  trace?: TraceOption;
}

/** a debounce or throttle window (docs/flow-control.md "Debounce and throttle") */
export interface DedupeOptions {
  /** 1-200 of letters, digits, _ . -: per queue, group and token */
  key: string;
  /** throttle: how long the first job answers for the key; debounce: how long the job waits after each add (ms) */
  ttl_ms: number;
  /** throttle: the first job wins; debounce: the job waits, a later add replaces its params */
  mode: 'throttle' | 'debounce';
  /** debounce: the job is due at most this long after the first add (ms, >= ttl_ms) */
  max_wait_ms?: number;
}

/**
 * a job's options, under their HTTP names (POST /jobs). They are sent as given: an API that does
 * not support one yet answers a ValidationError naming the field.
 */
export interface AddOptions {
  /** not ready until this long after it is made (ms) */
  delay_ms?: number;
  /** not ready before this time (not with delay_ms) */
  run_at?: string | Date;
  /** 0 (most urgent) to 9; 5 by default */
  priority?: number;
  /** the queue (one its type may go to) */
  queue?: string;
  /** a second add with this key makes nothing and answers the first job; such an add is retried safely */
  idempotency_key?: string;
  /** attempts the job gets (1-100) */
  attempts?: number;
  /** an attempt's time limit (ms) */
  timeout_ms?: number;
  /** the job's group (docs/flow-control.md) */
  group?: string;
  /** a debounce or throttle window: many adds with its key make one job (not with idempotency_key) */
  dedupe?: DedupeOptions;
}

/** a job's state (src/core/states.ts), or one a later server adds */
export type JobState = CoreJobState | (string & {});

/** POST /jobs's answer */
export interface Submitted<K extends string = string> {
  job_id: JobId<K>;
  status: JobState;
  type: K;
  queue: string;
  priority: number;
  run_at: string | null;
  idempotency_key: string | null;
  /** true: the idempotency key was seen; this is the first job */
  existing: boolean;
  /** true: the dedupe window answered with its job (throttle: the first; debounce: the one that will run, with these params) */
  deduplicated: boolean;
  /** the job's window (absent: none) */
  dedupe?: { key: string; mode: 'throttle' | 'debounce' };
}

/** one job of addBulk's answer (POST /jobs/bulk), in the order asked */
export interface BulkSubmitted<K extends string = string> {
  job_id: JobId<K>;
  state: JobState;
  /** true: made before, by an earlier call with the same idempotency key */
  existing: boolean;
  /** true: its dedupe window's job */
  deduplicated: boolean;
}

/** a job's record (GET /jobs/:id) */
export interface JobRecord<P = Record<string, unknown>, R = unknown> {
  job_id: string;
  type: string;
  queue: string;
  state: JobState;
  status: JobState;
  params: P;
  progress: { completed: number; total: number } | null;
  result: R | null;
  error: string | null;
  attempts: number;
  max_attempts: number;
  parent_id: string | null;
  created_at: string | null;
  started_at: string | null;
  finished_at: string | null;
  updated_at: string | null;
  run_at: string | null;
  priority: number;
  timeout_ms: number | null;
  idempotency_key: string | null;
  duration_ms: number | null;
  [field: string]: unknown;
}

/** one of a job's Server-Sent Events: its state and progress now */
export interface JobEvent<R = unknown> {
  /** the event's id when the API gave one */
  id?: string;
  job_id: string;
  state: JobState;
  progress: { completed: number; total: number };
  result: R | null;
  error: string | null;
}

export interface EventsOptions {
  signal?: AbortSignal;
  /** reconnects in a row before giving up with Unavailable (default 10) */
  maxReconnects?: number;
}

/** what a dep that did not succeed does to a flow's node: fail (the default), skip, or continue */
export type DepPolicy = 'fail' | 'skip' | 'continue';

/**
 * one node of a flow (POST /flows): a job of `type` with its params, typed as add's are, its deps
 * (node ids) and its options under their HTTP names. A prime count cannot be a node.
 */
export interface FlowNodeOf<K extends string, P> {
  /** its id in the flow: what deps and the answer name it by */
  id: string;
  type: K;
  params?: P;
  /** the node ids it waits for */
  deps?: string[];
  on_dep_failure?: DepPolicy;
  queue?: string;
  priority?: number;
  timeout_ms?: number;
  attempts?: number;
}

/** a node of any type the client knows, each typed by its own type (an untyped client's: any name, a JSON object) */
export type FlowNode<T extends JobTable | undefined = undefined> = {
  [K in Exclude<JobTypeName<T>, 'primes'>]: FlowNodeOf<K, ParamsFor<T, K>>;
}[Exclude<JobTypeName<T>, 'primes'>];

/** POST /flows's body */
export interface NewFlow<T extends JobTable | undefined = undefined> {
  name?: string;
  nodes: FlowNode<T>[];
}

/** POST /flows's answer: the flow's id and each node's job id (existing: a repeated idempotency key) */
export interface FlowCreated {
  flow_id: string;
  jobs: Record<string, string>;
  existing: boolean;
}

/** a flow's state (src/core/states.ts), or one a later server adds */
export type FlowState = CoreFlowState | (string & {});

/** a flow as GET /flows/:id shows it */
export interface FlowView {
  flow_id: string;
  name: string | null;
  /** RUNNING while a node can still run; then SUCCESS, FAILURE or CANCELLED */
  state: FlowState;
  progress: { completed: number; total: number };
  created_at: string;
  finished_at: string | null;
  /** by node id: its job, its state, its deps (node ids), its result once SUCCESS or its error */
  nodes: Record<string, { job_id: string; state: JobState; deps: string[]; result?: unknown; error?: string }>;
}

const FINAL: ReadonlySet<string> = FINAL_STATES;
/** the final states but SUCCESS: waitUntilFinished rejects with JobFailed */
const FAILED: ReadonlySet<string> = new Set(FINAL_LIST.filter((s) => s !== 'SUCCESS'));

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(done, ms);
    function done() {
      signal?.removeEventListener('abort', abort);
      resolve();
    }
    function abort() {
      clearTimeout(t);
      reject(signal!.reason);
    }
    signal?.addEventListener('abort', abort, { once: true });
  });

/** Retry-After (seconds, or an HTTP date) in ms; null when absent or unreadable */
function retryAfterMs(value: string | null): number | null {
  if (!value) return null;
  const s = Number(value);
  if (Number.isFinite(s)) return Math.max(0, s * 1000);
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : null;
}

interface Body {
  error?: { code?: string; message?: string; details?: ApiErrorDetail[] };
}

/** the typed error of an answer that is not a 2xx */
function errorOf(status: number, json: unknown, retryAfter: string | null, what: string): WizardApiError {
  const e = (json as Body | null)?.error;
  const message = e?.message ?? `HTTP ${status} from ${what}`;
  const code = e?.code ?? 'internal';
  if (status === 400) return new ValidationError(message, e?.details ?? [], code);
  if (status === 404) return new NotFound(message);
  if (status === 503) return new Unavailable(message, retryAfterMs(retryAfter), 503, code);
  return new WizardApiError(message, status, code, e?.details ?? []);
}

/** POST /jobs's body: the type, its params and the options (a run_at Date as its ISO time) */
export function addBody(type: string, params: unknown, opts: AddOptions): Record<string, unknown> {
  const { run_at, ...rest } = opts;
  return {
    type,
    params,
    ...rest,
    ...(run_at !== undefined ? { run_at: run_at instanceof Date ? run_at.toISOString() : run_at } : {}),
  };
}

/** the SSE reader's errors as this client's */
function clientError(err: unknown): unknown {
  if (err instanceof NotFoundError) return new NotFound(err.message);
  if (err instanceof UnreachableError) return new Unavailable(err.message, null, 0, 'unreachable');
  if (err instanceof WizardError) return new WizardApiError(err.message, 0, err.code, err.details);
  return err;
}

/**
 * `new Client<typeof jobs>({ url })`, where jobs is a handlers module's defineJobs table (a type
 * import is enough): add, get and waitUntilFinished are typed by it. Without one, the built-in
 * types are typed and any other name takes a JSON object.
 */
export class Client<T extends JobTable | undefined = undefined> {
  private readonly base: string;
  private readonly token?: string;
  private readonly requestTimeoutMs: number;
  private readonly maxTries: number;
  private readonly retryDelayMs: number;
  private readonly trace?: TraceOption;

  constructor(options: ClientOptions) {
    if (!options || typeof options.url !== 'string') throw new TypeError('new Client({ url }): url is required');
    this.base = options.url.replace(/\/+$/, '');
    this.token = options.token;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.maxTries = Math.max(1, options.maxTries ?? 5);
    this.retryDelayMs = options.retryDelayMs ?? 200;
    this.trace = options.trace;
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { accept: 'application/json', ...(this.token ? { authorization: `Bearer ${this.token}` } : {}), ...extra };
  }

  /** one call; retried on Unavailable when `safe` (repeating it cannot make anything twice) */
  private async call<R>(
    method: string,
    path: string,
    body: unknown,
    safe: boolean,
    headers: Record<string, string> = {},
  ): Promise<R> {
    for (let tries = 1; ; tries++) {
      try {
        return await this.once<R>(method, path, body, headers);
      } catch (err) {
        if (!(err instanceof Unavailable) || !safe || tries >= this.maxTries) throw err;
        const backoff = Math.min(5_000, this.retryDelayMs * 2 ** (tries - 1));
        await sleep(err.retryAfterMs ?? backoff);
      }
    }
  }

  private async once<R>(method: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<R> {
    const url = `${this.base}${path}`;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: this.headers(body === undefined ? headers : { 'content-type': 'application/json', ...headers }),
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.requestTimeoutMs),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err));
      throw new Unavailable(`cannot reach the API at ${this.base}: ${why}`, null, 0, 'unreachable');
    }
    const text = await res.text();
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    if (res.ok) return json as R;
    throw errorOf(res.status, json, res.headers.get('retry-after'), `${method} ${path}`);
  }

  /**
   * make a job of `type` with its params and options (their HTTP names). Retried while the API is
   * unavailable only when opts.idempotency_key is given (a retry then answers the first job).
   */
  add<K extends JobTypeName<T>>(type: K, params: ParamsFor<T, K>, opts: AddOptions = {}): Promise<Submitted<K>> {
    return this.call<Submitted<K>>(
      'POST',
      '/jobs',
      addBody(type, params, opts),
      opts.idempotency_key !== undefined,
      traceHeaders(this.trace),
    );
  }

  /**
   * make up to 10,000 jobs of any types in one request (POST /jobs/bulk), answered in order. All
   * are checked first: one bad job is a ValidationError whose field names it (`jobs.1.params.a`)
   * and nothing is made; then the API writes them atomically per shard. With
   * `idempotency_key` (sent as the Idempotency-Key header) a retry makes only the jobs not made
   * yet and answers the same ids: such a call is retried while the API is unavailable.
   */
  addBulk<K extends JobTypeName<T>>(
    jobs: { type: K; params: ParamsFor<T, K>; opts?: AddOptions }[],
    options: { idempotency_key?: string } = {},
  ): Promise<BulkSubmitted<K>[]> {
    const key = options.idempotency_key;
    const body = { jobs: jobs.map((j) => addBody(j.type, j.params, j.opts ?? {})) };
    return this.call<{ jobs: BulkSubmitted<K>[] }>('POST', '/jobs/bulk', body, key !== undefined, {
      ...traceHeaders(this.trace),
      ...(key === undefined ? {} : { 'idempotency-key': key }),
    }).then((r) => r.jobs);
  }

  /**
   * make a flow (POST /flows, docs/flows.md): jobs of any types joined into a graph, each node
   * run once when its deps have finished. Every node's params are checked first: a bad one is a
   * ValidationError naming it (`nodes[1].params.a`), as is a cycle or an unknown dep. With
   * `idempotency_key` (sent as the Idempotency-Key header) a retry answers the same flow: such a
   * call is retried while the API is unavailable.
   */
  addFlow(flow: NewFlow<T>, options: { idempotency_key?: string } = {}): Promise<FlowCreated> {
    const key = options.idempotency_key;
    return this.call<FlowCreated>('POST', '/flows', flow, key !== undefined, {
      ...traceHeaders(this.trace),
      ...(key === undefined ? {} : { 'idempotency-key': key }),
    });
  }

  /** a flow, its state and each node's; NotFound when there is none (never made, or expired) */
  getFlow(id: string): Promise<FlowView> {
    return this.call('GET', `/flows/${encodeURIComponent(id)}`, undefined, true);
  }

  /** cancel every node of a flow that has not finished; answers the flow (a finished one: a WizardApiError, status 409) */
  cancelFlow(id: string): Promise<FlowView> {
    return this.call('POST', `/flows/${encodeURIComponent(id)}/cancel`, {}, true);
  }

  /**
   * the flow once it has ended, whatever its state (SUCCESS, FAILURE, CANCELLED: its nodes say
   * which did what), followed by its Server-Sent Events (GET /flows/:id/events), reconnecting as
   * events() does; WaitTimeout past timeoutMs (none by default)
   */
  async waitUntilFlowFinished(id: string, options: { timeoutMs?: number } = {}): Promise<FlowView> {
    const stop = new AbortController();
    const timer =
      options.timeoutMs !== undefined
        ? setTimeout(() => stop.abort(new WaitTimeout(id, options.timeoutMs!, 'flow')), options.timeoutMs)
        : null;
    const url = `${this.base}/flows/${encodeURIComponent(id)}/events`;
    try {
      for (let failures = 0; ;) {
        try {
          for await (const ev of readSse(url, this.headers(), stop.signal)) {
            failures = 0;
            if (ev.event === 'gone') throw new NotFound(`flow ${id} no longer exists`);
            if (ev.event !== 'flow') continue;
            const flow = JSON.parse(ev.data) as FlowView;
            if (flow.state !== 'RUNNING') return flow;
          }
        } catch (err) {
          if (stop.signal.aborted) throw err;
          const mapped = clientError(err);
          if (!(mapped instanceof Unavailable) || ++failures > 10) throw mapped;
        }
        // the stream ended or broke before the flow did: open it again
        await sleep(Math.min(5_000, this.retryDelayMs * 2 ** failures), stop.signal);
      }
    } catch (err) {
      if (stop.signal.aborted && stop.signal.reason instanceof WaitTimeout) throw stop.signal.reason;
      throw err;
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  /** a job's record; NotFound when there is none */
  get<K extends string = string>(id: JobId<K>): Promise<JobRecord<ParamsFor<T, K>, ResultFor<T, K>>> {
    return this.call('GET', `/jobs/${encodeURIComponent(id)}`, undefined, true);
  }

  /** cancel a job (a finished one is left as it is); answers its record */
  cancel<K extends string = string>(id: JobId<K>): Promise<JobRecord<ParamsFor<T, K>, ResultFor<T, K>>> {
    return this.call('POST', `/jobs/${encodeURIComponent(id)}/cancel`, {}, true);
  }

  /**
   * the job's state and progress as they change (Server-Sent Events), ending after its final
   * state. A dropped connection (the API restarted, a proxy cut it) is resumed: the stream is
   * opened again with Last-Event-ID and what was yielded already is not yielded again.
   */
  async *events<K extends string = string>(
    id: JobId<K>,
    options: EventsOptions = {},
  ): AsyncGenerator<JobEvent<ResultFor<T, K>>, void, undefined> {
    const url = `${this.base}/api/jobs/${encodeURIComponent(id)}/events`;
    const maxReconnects = options.maxReconnects ?? 10;
    let lastId: string | undefined;
    let lastSeen = '';
    for (let failures = 0; ;) {
      try {
        const headers = this.headers(lastId ? { 'last-event-id': lastId } : {});
        for await (const ev of readSse(url, headers, options.signal)) {
          failures = 0;
          if (ev.id) lastId = ev.id;
          if (ev.event === 'gone') throw new NotFound(`job ${id} no longer exists`);
          if (ev.event !== 'state') continue;
          const data = JSON.parse(ev.data) as JobEvent<ResultFor<T, K>>;
          const seen = JSON.stringify([data.state, data.progress]);
          if (seen === lastSeen) continue; // sent again after a reconnect
          lastSeen = seen;
          yield { ...data, ...(ev.id ? { id: ev.id } : {}) };
          if (FINAL.has(data.state)) return;
        }
        // the stream ended before a final state (a restart closed it): open it again
      } catch (err) {
        if (options.signal?.aborted) throw err;
        const mapped = clientError(err);
        if (!(mapped instanceof Unavailable) || ++failures > maxReconnects) throw mapped;
      }
      await sleep(Math.min(5_000, this.retryDelayMs * 2 ** failures), options.signal);
    }
  }

  /**
   * the job's result once it succeeds; JobFailed (with its state and record) when it ends in
   * FAILURE, DEAD or CANCELLED; WaitTimeout past timeoutMs (none by default).
   */
  async waitUntilFinished<K extends string = string>(
    id: JobId<K>,
    options: { timeoutMs?: number } = {},
  ): Promise<ResultFor<T, K>> {
    const stop = new AbortController();
    const timer =
      options.timeoutMs !== undefined
        ? setTimeout(() => stop.abort(new WaitTimeout(id, options.timeoutMs!)), options.timeoutMs)
        : null;
    try {
      let final: JobEvent | null = null;
      for await (const ev of this.events(id, { signal: stop.signal })) if (FINAL.has(ev.state)) final = ev;
      const job = await this.get<K>(id);
      const state = final && !FINAL.has(job.state) ? final.state : job.state;
      if (FAILED.has(state)) {
        const why = job.error ?? final?.error ?? state.toLowerCase();
        throw new JobFailed(`job ${id} ended ${state}: ${why}`, state as JobFailed['state'], job);
      }
      return job.result as ResultFor<T, K>;
    } catch (err) {
      if (stop.signal.aborted && stop.signal.reason instanceof WaitTimeout) throw stop.signal.reason;
      throw err;
    } finally {
      if (timer) clearTimeout(timer);
    }
  }
}
