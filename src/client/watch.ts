/**
 * Waiting for a job's final state: `wizard watch <id>` and `submit --watch`.
 * Exit: 0 on SUCCESS, 1 on FAILURE or DEAD (JobFailedError), 3 when the API cannot be reached.
 */
import { JobFailedError } from '../core/errors';
import { isFinal, JobState, JobView } from '../core/job';
import { sleep } from '../util/time';
import type { ApiClient } from './http';
import type { Ui } from './ui';

export interface WatchOptions {
  /** give up after this long (ms); 0 waits forever */
  timeoutMs: number;
}

function describeProgress(job: JobView): string {
  const p = job.progress;
  return p ? `${p.completed}/${p.total} chunks` : '';
}

export async function watchJob(api: ApiClient, ui: Ui, id: string, opts: WatchOptions = { timeoutMs: 0 }): Promise<JobView> {
  const started = Date.now();
  const spinner = ui.spinner(`${id}: waiting`);
  let delay = 25;
  let job: JobView;
  for (;;) {
    job = await api.get<JobView>(`/jobs/${encodeURIComponent(id)}`);
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    spinner.update(`${job.type} ${id}: ${job.state} ${describeProgress(job)} (${secs}s)`);
    if (isFinal(job.state as JobState)) break;
    if (opts.timeoutMs > 0 && Date.now() - started > opts.timeoutMs) {
      spinner.stop();
      throw new JobFailedError(`gave up waiting for ${id} after ${opts.timeoutMs} ms (state ${job.state})`);
    }
    await sleep(delay);
    delay = Math.min(500, delay * 2);
  }
  spinner.stop();
  return job;
}

/** print a final job: JSON under --json, else a coloured summary; throw when it failed */
export function reportFinal(ui: Ui, job: JobView): void {
  if (ui.json) ui.data(job);
  const ok = job.state === 'SUCCESS';
  const who = job.handled_by ? ` by ${job.handled_by}` : '';
  const took = job.duration_ms !== null ? ` in ${job.duration_ms} ms` : '';
  if (ok) ui.line(`${ui.c.green('SUCCESS')} ${job.type} ${job.job_id}: result ${ui.c.bold(JSON.stringify(job.result))}${who}${took}`);
  else ui.line(`${ui.c.red(job.state)} ${job.type} ${job.job_id}: ${job.error ?? 'failed'}`);
  if (!ok) throw new JobFailedError(`${job.type} ${job.job_id} ended in ${job.state}: ${job.error ?? 'no reason given'}`);
}
