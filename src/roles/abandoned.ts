/**
 * Why a worker's held job was refused its renewal: its lease was taken back (another worker may
 * run it), or the job was ended while it ran, cancelled (POST /jobs/:id/cancel) or a prime
 * chunk whose parent failed or was cancelled (lib.lua's endChunks: "cancelled: parent job …").
 * The log says which.
 */
import type { Job } from '../core/job';
import type { Store } from '../store/types';
import type { Logger } from '../util/log';

/** the job was ended by a cancellation: its reason (the job's error), or null */
export function cancellationOf(job: Pick<Job, 'state' | 'error'> | null): string | null {
  if (!job) return null;
  if (job.state === 'CANCELLED') return job.error ?? 'cancelled';
  return job.state === 'FAILURE' && job.error?.startsWith('cancelled: ') ? job.error : null;
}

/**
 * log a job abandoned after its renewal was refused: "job cancelled" when it was; nothing lost
 * when this very attempt finished it (its completion was sent before an outage and landed as the
 * network healed, while the worker still waits for the answer); else "lease lost"
 */
export async function logAbandoned(
  store: Store,
  log: Logger,
  held: Pick<Job, 'id' | 'attempts' | 'handledBy'>,
): Promise<void> {
  const job = await store.reads.job(held.id).catch(() => null);
  const reason = cancellationOf(job);
  if (reason) log.info('job cancelled: abandoning it', { job_id: held.id, reason });
  else if (job?.state === 'SUCCESS' && job.attempts === held.attempts && job.handledBy === held.handledBy)
    log.info('renewal refused: this attempt already finished the job', { job_id: held.id });
  else log.warn('lease lost: abandoning job', { job_id: held.id });
}
