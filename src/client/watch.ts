/**
 * Waiting for a job's final state: `wizard watch <id>` and `submit --watch`. Live changes come
 * over Server-Sent Events (GET /api/jobs/:id/events). Once the API was reached, a stream that
 * breaks (an API restart, a gateway's 502) is opened again with backoff for as long as the job
 * exists, until the API has stayed away for giveUpAfterMs in a row. Exit: 0 on SUCCESS; 1 on
 * FAILURE or DEAD, or when the job no longer exists (JobFailedError); 3 when the API cannot be
 * reached: at once when it never was, else after giveUpAfterMs (UnreachableError). At
 * LOG_LEVEL=debug a line on stderr says when each stream opened brought its first event.
 */
import { JobFailedError, UnreachableError, WizardError } from '../core/errors';
import { isFinal, JobState } from '../core/job';
import { progressText } from '../core/progress';
import { createLogger } from '../util/log';
import { retryDelay, sleep } from '../util/time';
import type { ApiClient } from './http';
import { readSse } from './sse';
import { outputColumns, plural, shortIds, type Spinner, type Ui } from './ui';
import type { Reply } from './replies';

/** how long an API that was reached may stay away before a watch gives up (exit 3) */
export const DEFAULT_GIVE_UP_AFTER_MS = 60_000;

export interface WatchOptions {
  /** give up after this long (ms); 0 waits forever */
  timeoutMs: number;
  /** once the API was reached, how long it may stay unreachable in a row before exit 3 */
  giveUpAfterMs?: number;
  /** the API answered already (submit --watch): a first failure is waited out too */
  reached?: boolean;
}

export interface LiveState {
  state: string;
  /** a prime count's chunks, or a handler's ctx.progress (a fraction as total 1) */
  progress: { completed: number; total: number } | null;
  params?: Record<string, unknown>;
}

function bar(done: number, total: number, width = 20): string {
  const filled = total > 0 ? Math.round((done / total) * width) : 0;
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
}

/** the spinner's room on a line: the terminal's width less ora's symbol, its space and the last column */
const liveColumns = () => outputColumns(process.stderr) - 3;

/**
 * the live line of a job: its id, state, progress bar and time, fitted to the terminal: the id
 * shortened as tables show it, then a narrower bar, when the whole does not fit
 */
export function describe(id: string, s: LiveState, started: number, columns = liveColumns()): string {
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  const p = s.progress;
  const progress = (barWidth: number) =>
    p && p.total > 0
      ? ` ${bar(p.completed, p.total, barWidth)} ${s.params?.chunks === p.total ? `${p.completed}/${p.total} chunks` : progressText(p)}`
      : '';
  return fitLive(
    id,
    (shown) => `${shown}: ${s.state}${progress(20)} ${secs}s`,
    (shown) => `${shown}: ${s.state}${progress(10)} ${secs}s`,
    columns,
  );
}

/** the first of these lines (whole id, then short id; then the narrow form) that fits, else the last cut by the spinner */
function fitLive(
  id: string,
  line: (shownId: string) => string,
  narrow: (shownId: string) => string,
  columns: number,
): string {
  const short = shortIds([id]).get(id) ?? id;
  const tries = [line(id), line(short), narrow(short)];
  return tries.find((t) => t.length <= columns) ?? tries[tries.length - 1];
}

/** a spinner line about a job (waiting, reconnecting): with its short id when the whole line does not fit */
const aboutJob = (id: string, text: string) =>
  fitLive(
    id,
    (shown) => `${shown}: ${text}`,
    (shown) => `${shown}: ${text}`,
    liveColumns(),
  );

/** the job's record is gone: expired, or the store restarted empty */
const vanished = (id: string) =>
  new JobFailedError(`job ${id} no longer exists (its record expired, or the store lost it): its outcome is unknown`);
const isNotFound = (err: unknown) => err instanceof WizardError && err.code === 'not_found';

/**
 * follow the SSE stream: 'final' once a final state arrives, 'gone' when the API says the job no
 * longer exists, 'ended' when the stream closed before either; `opened` is called on the first event
 */
async function followEvents(
  api: ApiClient,
  id: string,
  spinner: Spinner,
  started: number,
  signal: AbortSignal,
  opened: () => void,
): Promise<'final' | 'gone' | 'ended'> {
  for await (const ev of readSse(
    `${api.baseUrl.replace(/\/$/, '')}/api/jobs/${encodeURIComponent(id)}/events`,
    api.authHeaders(),
    signal,
    api.fetchOptions,
  )) {
    opened();
    if (ev.event === 'gone') return 'gone';
    if (ev.event !== 'state') continue;
    const s = JSON.parse(ev.data) as LiveState;
    spinner.update(describe(id, s, started));
    if (isFinal(s.state as JobState)) return 'final';
  }
  return 'ended';
}

export async function watchJob(
  api: ApiClient,
  ui: Ui,
  id: string,
  opts: WatchOptions = { timeoutMs: 0 },
): Promise<Reply<'job'>> {
  const log = createLogger({ role: 'watch' });
  const giveUpAfterMs = opts.giveUpAfterMs ?? DEFAULT_GIVE_UP_AFTER_MS;
  const started = Date.now();
  const spinner = ui.spinner(aboutJob(id, 'waiting'));
  const abort = new AbortController();
  const timer = opts.timeoutMs > 0 ? setTimeout(() => abort.abort(), opts.timeoutMs) : null;
  let reached = opts.reached === true;
  /** since when the API has been away (null: it is not), and how many tries failed since */
  let awaySince: number | null = null;
  let failures = 0;
  /** whether the stream now open has brought an event yet */
  let following = false;
  const opened = () => {
    if (!following) log.debug("following the job's events", { job_id: id, api: api.baseUrl });
    following = true;
    reached = true;
    awaySince = null;
    failures = 0;
  };
  try {
    for (;;) {
      try {
        const how = await followEvents(api, id, spinner, started, abort.signal, opened);
        if (how === 'gone') throw vanished(id);
        if (how === 'final') return await api.get<Reply<'job'>>(`/jobs/${encodeURIComponent(id)}`);
        throw new UnreachableError(`the API at ${api.baseUrl} closed the event stream before ${id} finished`); // it is stopping: open it again
      } catch (err) {
        following = false;
        if (abort.signal.aborted) {
          const job = await api.get<Reply<'job'>>(`/jobs/${encodeURIComponent(id)}`);
          throw new JobFailedError(`gave up waiting for ${id} after ${opts.timeoutMs} ms (state ${job.state})`);
        }
        if (isNotFound(err)) throw reached ? vanished(id) : new JobFailedError(`job ${id} not found`);
        // a watch that never reached the API fails at once, like every other command
        if (!(err instanceof UnreachableError) || !reached) throw err;
        awaySince ??= Date.now();
        const away = Date.now() - awaySince;
        if (away >= giveUpAfterMs) {
          throw new UnreachableError(
            `${err.message} (gave up after ${Math.round(away / 1000)} s without the API; --give-up-after-ms ${giveUpAfterMs})`,
          );
        }
        spinner.update(
          aboutJob(
            id,
            `the API is away, reconnecting (${Math.round(away / 1000)} s of ${Math.round(giveUpAfterMs / 1000)} s)`,
          ),
        );
        await sleep(Math.min(retryDelay(failures++), giveUpAfterMs - away));
      }
    }
  } finally {
    if (timer) clearTimeout(timer);
    spinner.stop();
  }
}

/** print a final job: JSON under --json, else a coloured summary; throw when it failed */
export function reportFinal(ui: Ui, job: Reply<'job'>): void {
  if (ui.json) ui.data(job);
  const c = ui.c;
  if (job.state !== 'SUCCESS') {
    ui.line(
      `${c.red(job.state)} ${job.type} ${job.job_id}: ${job.error ?? (job.state === 'CANCELLED' ? 'cancelled' : 'failed')}`,
    );
    throw new JobFailedError(`${job.type} ${job.job_id} ended in ${job.state}: ${job.error ?? 'no reason given'}`);
  }
  if (job.type === 'primes') {
    const r = job.result as { prime_count: number; duration_sec: number };
    const p = job.params as { n: number; chunks: number };
    ui.line(
      `${c.green('SUCCESS')} ${job.job_id}: ${c.bold(r.prime_count.toLocaleString('en-US'))} primes <= ${p.n.toLocaleString('en-US')} (${plural(p.chunks, 'chunk')}) in ${c.cyan(`${r.duration_sec} s`)}`,
    );
    return;
  }
  const who = job.handled_by ? ` by ${job.handled_by}` : '';
  const took = job.duration_ms !== null ? ` in ${job.duration_ms} ms` : '';
  ui.line(`${c.green('SUCCESS')} ${job.type} ${job.job_id}: result ${c.bold(JSON.stringify(job.result))}${who}${took}`);
}
