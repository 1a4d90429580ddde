/**
 * Waiting for a job's final state: `wizard watch <id>` and `submit --watch`. Live changes come
 * over Server-Sent Events (GET /api/jobs/:id/events); when the stream breaks (an API restart)
 * it reconnects, and it falls back to polling. Exit: 0 on SUCCESS, 1 on FAILURE or DEAD
 * (JobFailedError), 3 when the API cannot be reached.
 */
import { JobFailedError, NotFoundError, UnreachableError } from '../core/errors';
import { isFinal, JobState, JobView } from '../core/job';
import { retryDelay, sleep } from '../util/time';
import type { ApiClient } from './http';
import { readSse } from './sse';
import type { Spinner, Ui } from './ui';

export interface WatchOptions {
  /** give up after this long (ms); 0 waits forever */
  timeoutMs: number;
}

interface LiveState {
  state: string;
  progress: { completed: number; total: number } | null;
}

function bar(done: number, total: number, width = 20): string {
  const filled = total > 0 ? Math.round((done / total) * width) : 0;
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
}

function describe(id: string, s: LiveState, started: number): string {
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  const p = s.progress && s.progress.total > 0 ? ` ${bar(s.progress.completed, s.progress.total)} ${s.progress.completed}/${s.progress.total} chunks` : '';
  return `${id}: ${s.state}${p} ${secs}s`;
}

/** follow the SSE stream until a final state; false when the stream ended early */
async function followEvents(api: ApiClient, id: string, spinner: Spinner, started: number, signal: AbortSignal): Promise<boolean> {
  for await (const ev of readSse(`${api.baseUrl.replace(/\/$/, '')}/api/jobs/${encodeURIComponent(id)}/events`, api.authHeaders(), signal, api.fetchOptions)) {
    const s = JSON.parse(ev.data) as LiveState;
    spinner.update(describe(id, s, started));
    if (isFinal(s.state as JobState)) return true;
  }
  return false;
}

export async function watchJob(api: ApiClient, ui: Ui, id: string, opts: WatchOptions = { timeoutMs: 0 }): Promise<JobView> {
  const started = Date.now();
  const spinner = ui.spinner(`${id}: waiting`);
  const abort = new AbortController();
  const timer = opts.timeoutMs > 0 ? setTimeout(() => abort.abort(), opts.timeoutMs) : null;
  try {
    for (let failures = 0; ; failures++) {
      try {
        if (await followEvents(api, id, spinner, started, abort.signal)) break;
      } catch (err) {
        if (abort.signal.aborted) {
          const job = await api.get<JobView>(`/jobs/${encodeURIComponent(id)}`);
          throw new JobFailedError(`gave up waiting for ${id} after ${opts.timeoutMs} ms (state ${job.state})`);
        }
        if (err instanceof NotFoundError) throw new JobFailedError(`job ${id} not found`);
        // the API went away after we had reached it once: wait for it to come back
        if (!(err instanceof UnreachableError) || failures > 20) throw err;
      }
      await sleep(retryDelay(failures));
    }
    return await api.get<JobView>(`/jobs/${encodeURIComponent(id)}`);
  } finally {
    if (timer) clearTimeout(timer);
    spinner.stop();
  }
}

/** print a final job: JSON under --json, else a coloured summary; throw when it failed */
export function reportFinal(ui: Ui, job: JobView): void {
  if (ui.json) ui.data(job);
  const c = ui.c;
  if (job.state !== 'SUCCESS') {
    ui.line(`${c.red(job.state)} ${job.type} ${job.job_id}: ${job.error ?? 'failed'}`);
    throw new JobFailedError(`${job.type} ${job.job_id} ended in ${job.state}: ${job.error ?? 'no reason given'}`);
  }
  if (job.type === 'primes') {
    const r = job.result as { prime_count: number; duration_sec: number };
    const p = job.params as { n: number; chunks: number };
    ui.line(`${c.green('SUCCESS')} ${job.job_id}: ${c.bold(r.prime_count.toLocaleString('en-US'))} primes <= ${p.n.toLocaleString('en-US')} (${p.chunks} chunks) in ${c.cyan(`${r.duration_sec} s`)}`);
    return;
  }
  const who = job.handled_by ? ` by ${job.handled_by}` : '';
  const took = job.duration_ms !== null ? ` in ${job.duration_ms} ms` : '';
  ui.line(`${c.green('SUCCESS')} ${job.type} ${job.job_id}: result ${c.bold(JSON.stringify(job.result))}${who}${took}`);
}
