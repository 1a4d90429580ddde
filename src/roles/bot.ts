/**
 * `wizard bot`: a bot, the agent of the bot batches. It speaks only HTTP to the API:
 *
 * - registers (POST /bots/register → a bot id and a token; with API tokens on, it registers with a
 *   bot-role token, options.token) and heartbeats every heartbeatMs;
 *   the API leases the bot's job for BOT_DOWN_AFTER_MS and each heartbeat renews that lease, so
 *   a job lives exactly as long as its bot is seen alive;
 * - claims one job at a time (POST /jobs/claim), starts it, runs its handler from
 *   src/core/handlers.ts (the same table workers use) and completes or fails it;
 * - survives API restarts: every call is retried with backoff; when the API says it does not know
 *   the bot (401: deleted, or a fresh cluster) it registers again; a heartbeat that shows its job
 *   was taken back (it was marked down, deleted, or its lease lapsed) aborts the job: abortCurrent(),
 *   the one way a job is stopped (with --exec, its command is killed);
 * - with `exec`, each job is run by that command (src/roles/bot-exec.ts) instead of a handler, and
 *   `queue` may name the queue of a --handlers type with no run to claim from (the API's bot queue
 *   otherwise);
 * - while the API answers 503 for its store (unreachable, out of memory) the bot logs "lost the
 *   store" once and "store is back" once, and keeps retrying;
 * - close(): stops claiming, lets the current job finish for up to drainMs, then deregisters
 *   (POST /bots/deregister puts an unfinished job back). close(true) just stops, as a crash would.
 */
import { ApiClient } from '../client/http';
import { errorMessage, UnreachableError, WizardError } from '../core/errors';
import { handlerFor, isPermanent, rateLimitedFor } from '../core/handlers';
import type { Reply } from '../client/replies';
import { createLogger, Logger } from '../util/log';
import { retryDelay, sleep, within } from '../util/time';
import { attemptSpan, OpenSpan, readTrace, storedTrace, TraceContext, traceFrom, tracing } from '../util/tracing';
import { EXEC_GRACE_MS, runCommand } from './bot-exec';
import { storeOutage } from './store-outage';
import { DEFAULTS } from '../core/defaults';

/** a claimed job and the trace context it keeps (the claim's traceparent and tracestate headers) */
type Claimed = Reply<'job'> & { trace?: string };

export interface BotOptions {
  /** the API base URL */
  api: string;
  name: string;
  heartbeatMs: number;
  /** how long an idle bot waits before claiming again */
  pollMs: number;
  /** how long close() lets the current job finish before giving it back */
  drainMs: number;
  log: Logger;
  /** a bot-role API token, to register when the API has tokens on (WIZARD_TOKEN) */
  token?: string;
  /** a shell command that does each job (bot-exec.ts); unset, the built-in handlers do */
  exec?: string;
  /** the queue to claim from (a --handlers type's with no run, for a bot with exec); unset: the API's bot queue */
  queue?: string;
  /** how long an aborted command has between SIGTERM and SIGKILL */
  execGraceMs?: number;
  /** variables of the bot's environment the command gets besides bot-exec.ts's EXEC_ENV (--exec-env) */
  execEnv?: string[];
  /** PEM of a CA to trust for an HTTPS API */
  ca?: string;
}

export const BOT_DEFAULTS = { heartbeatMs: DEFAULTS.heartbeatIntervalMs, pollMs: DEFAULTS.botPollMs, drainMs: 5_000 };

export interface RunningBot {
  readonly name: string;
  /** the id the API gave it, or null before it registered */
  botId(): string | null;
  /** jobs it finished (completed or failed) */
  processed(): number;
  close(force?: boolean): Promise<void>;
}

interface Session {
  id: string;
  client: ApiClient;
}

interface Current {
  id: string;
  /** when the claim was answered: only heartbeats sent after it may say the job is gone */
  since: number;
  abort: AbortController;
}

const isUnknownBot = (err: unknown) => err instanceof WizardError && err.code === 'unauthorized';
const isRetryable = (err: unknown) =>
  err instanceof UnreachableError || (err instanceof WizardError && err.code === 'internal');

export function validateBotOptions(o: BotOptions): void {
  for (const k of ['heartbeatMs', 'pollMs'] as const) {
    if (!Number.isInteger(o[k]) || o[k] < 1) throw new Error(`options.${k} must be a positive integer`);
  }
  // a built-in bot runs sim and task jobs, which come on the bot queue: another queue's types need a command
  if (o.queue !== undefined && o.exec === undefined) throw new Error('options.queue needs options.exec');
}

export function startBot(options: Partial<BotOptions> & { api: string; name: string }): RunningBot {
  const o: BotOptions = { ...BOT_DEFAULTS, log: createLogger({ role: 'bot', node_id: options.name }), ...options };
  validateBotOptions(o);
  const log = o.log;
  const outage = storeOutage(log, o.api);
  const stop = new AbortController();
  let session: Session | null = null;
  let current: Current | null = null;
  let working: Promise<void> = Promise.resolve();
  let processed = 0;

  /** stop the job this bot is running (its handler's signal, or its command killed): it is not ours to finish */
  const abortCurrent = (reason: string) => {
    current?.abort.abort(new Error(reason));
  };

  /** null unless an OTLP exporter is configured: then each attempt is a span (src/util/tracing.ts) */
  const tracer = tracing();

  const work = async (job: Claimed, signal: AbortSignal, trace: TraceContext | null): Promise<unknown> =>
    o.exec
      ? runCommand(o.exec, job, signal, o.execGraceMs, o.execEnv, trace)
      : handlerFor(job.type).run(job.params, { signal });

  /** sleep, cut short by close() */
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        stop.signal.removeEventListener('abort', done);
        resolve();
      }
      stop.signal.addEventListener('abort', done, { once: true });
    });

  const register = async (): Promise<Session> => {
    for (let failures = 0; ; failures++) {
      try {
        const registrar = new ApiClient(o.api, o.token, 10_000, o.ca);
        const r = await registrar.post<Reply<'registered'>>('/bots/register', { name: o.name });
        log.info('registered', { bot_id: r.bot_id, api: o.api });
        outage.ok();
        return { id: r.bot_id, client: new ApiClient(o.api, r.token, 10_000, o.ca) };
      } catch (err) {
        if (stop.signal.aborted) throw err;
        if (!outage.failed(err) && failures === 0)
          log.warn('cannot register: retrying with backoff', { error: errorMessage(err) });
        await pause(retryDelay(failures));
      }
    }
  };

  /**
   * a report about the current job, retried while the API is away; false when the API refused it
   * (the job is not ours any more, or the API does not know this bot)
   */
  const report = async (s: Session, path: string, body: unknown): Promise<boolean> => {
    for (let failures = 0; ; failures++) {
      try {
        await s.client.post(path, body);
        outage.ok();
        return true;
      } catch (err) {
        outage.failed(err);
        if (!isRetryable(err) || (stop.signal.aborted && failures >= 3)) {
          if (isUnknownBot(err)) session = null;
          log.warn('report refused: the job is not ours any more', {
            job_id: current?.id ?? null,
            path,
            error: errorMessage(err),
          });
          return false;
        }
        await sleep(retryDelay(failures));
      }
    }
  };

  const runJob = async (s: Session, job: Claimed) => {
    const abort = new AbortController();
    current = { id: job.job_id, since: performance.now(), abort };
    let span: OpenSpan | null = null;
    try {
      if (!(await report(s, `/jobs/${job.job_id}/start`, {}))) return;
      // its span (tracing on), child of the trace context the job keeps; a command continues it, or that context
      span = tracer
        ? attemptSpan(tracer, {
            id: job.job_id,
            type: job.type,
            queue: job.queue,
            attempts: Math.max(1, job.attempts),
            trace: job.trace,
          })
        : null;
      let outcome: { path: string; body: unknown };
      try {
        const result = await work(job, abort.signal, span ? span.context : readTrace(job.trace));
        outcome = { path: 'complete', body: { result } };
        span?.end('SUCCESS');
      } catch (err) {
        const holdMs = rateLimitedFor(err);
        outcome = {
          path: 'fail',
          body:
            holdMs === null
              ? { error: errorMessage(err), permanent: isPermanent(err) }
              : { error: errorMessage(err), code: 'rate_limited', retry_after_ms: holdMs },
        };
        span?.end(abort.signal.aborted ? 'ABORTED' : 'FAILED', errorMessage(err));
      }
      span = null;
      if (abort.signal.aborted) return; // taken back, or a forced stop: someone else will run it
      if (!(await report(s, `/jobs/${job.job_id}/${outcome.path}`, outcome.body))) return; // refused: said by report(), and not done by us
      processed++;
      log.info(`job ${outcome.path === 'complete' ? 'completed' : 'failed'}`, { job_id: job.job_id, type: job.type });
    } finally {
      span?.end('ABORTED');
      current = null;
    }
  };

  /**
   * a job to work on: a new claim, or, when the API says this bot already holds one (the answer
   * to a claim was lost, say in an API restart), that job again
   */
  const claimOrResume = async (s: Session): Promise<Claimed | null> => {
    try {
      const { body, headers } = await s.client.exchange<Reply<'claimed'> | null>(
        'POST',
        '/jobs/claim',
        o.queue !== undefined ? { queue: o.queue } : {},
      );
      if (!body?.job) return null;
      const trace = traceFrom(headers.get('traceparent'), headers.get('tracestate'));
      return trace ? { ...body.job, trace: storedTrace(trace) } : body.job;
    } catch (err) {
      if (!(err instanceof WizardError && err.code === 'conflict')) throw err;
      const me = await s.client.post<Reply<'bot'>>('/bots/heartbeat', {});
      if (!me.current_job) return null;
      log.warn('resuming the job the API says this bot holds', { job_id: me.current_job });
      return s.client.get<Reply<'job'>>(`/jobs/${encodeURIComponent(me.current_job)}`);
    }
  };

  const workLoop = async () => {
    let failures = 0;
    while (!stop.signal.aborted) {
      try {
        session ??= await register();
        const s = session;
        const job = await claimOrResume(s);
        outage.ok();
        failures = 0;
        if (!job) {
          await pause(o.pollMs);
          continue;
        }
        await runJob(s, job);
      } catch (err) {
        if (stop.signal.aborted) break;
        if (isUnknownBot(err)) {
          log.warn('the API does not know this bot: registering again');
          session = null;
          continue;
        }
        if (!outage.failed(err) && failures === 0) log.warn('cannot claim: backing off', { error: errorMessage(err) });
        await pause(retryDelay(failures++));
      }
    }
  };

  const heartbeat = async () => {
    const s = session;
    if (!s) return;
    const sentAt = performance.now(); // compared with `since` only: this process's monotonic clock
    try {
      const seen = await s.client.post<Reply<'bot'>>('/bots/heartbeat', {});
      const c = current;
      if (c && c.since <= sentAt && seen.current_job !== c.id) {
        log.warn('job taken back while this bot was silent: abandoning it', { job_id: c.id });
        abortCurrent('job taken back');
      }
    } catch (err) {
      outage.failed(err);
      if (!isUnknownBot(err) || session !== s) return; // the API is away: the next beat tries again
      log.warn('the API does not know this bot: registering again');
      session = null;
      abortCurrent('bot unknown to the API');
    }
  };

  const timer = setInterval(() => void heartbeat(), o.heartbeatMs);
  working = workLoop();

  return {
    name: o.name,
    botId: () => session?.id ?? null,
    processed: () => processed,
    async close(force = false) {
      if (stop.signal.aborted) return;
      stop.abort();
      clearInterval(timer);
      if (force) {
        abortCurrent('bot stopped');
        return;
      }
      const drained =
        (await within(
          working.then(() => true),
          o.drainMs,
        )) ?? false;
      if (!drained) abortCurrent('bot stopping');
      // a command aborted has its grace to end before it is killed: wait for that too
      const ending = 2000 + (o.exec ? (o.execGraceMs ?? EXEC_GRACE_MS) : 0);
      await within(working, ending);
      const s = session;
      if (s) await s.client.post('/bots/deregister', {}).catch(() => undefined);
      log.info('bot stopped', { processed, bot_id: s?.id ?? null });
    },
  };
}

/** `wizard bot --count N`: N bots in one process, named <name>-1 … <name>-N */
export function startBots(
  count: number,
  options: Partial<BotOptions> & { api: string; name: string },
): { bots: RunningBot[]; close(force?: boolean): Promise<void> } {
  const bots = Array.from({ length: count }, (_, i) =>
    startBot({ ...options, name: count === 1 ? options.name : `${options.name}-${i + 1}` }),
  );
  return {
    bots,
    async close(force = false) {
      await Promise.all(bots.map((b) => b.close(force)));
    },
  };
}
