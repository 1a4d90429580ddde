/** Job records as Redis hash fields (and back). Both adapters speak these field names. */
import { Job, JobState, JobType } from '../core/job';

const num = (v: string | undefined): number | null => (v === undefined || v === '' ? null : Number(v));
const str = (v: string | undefined): string | null => (v === undefined || v === '' ? null : v);

function json(v: string | undefined): unknown {
  if (v === undefined || v === '') return null;
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
}

/** an HGETALL reply (flat [field, value, ...]) as a record */
export function pairsToRecord(flat: readonly string[], from = 0): Record<string, string> {
  const rec: Record<string, string> = {};
  for (let i = from; i + 1 < flat.length; i += 2) rec[flat[i]] = flat[i + 1];
  return rec;
}

export function decodeJob(f: Record<string, string>): Job {
  const total = num(f.total);
  return {
    id: f.id,
    type: f.type as JobType,
    queue: f.queue ?? '',
    state: f.state as JobState,
    params: (json(f.params) as Record<string, unknown>) ?? {},
    progress: total === null ? null : { completed: num(f.completed) ?? 0, total },
    result: json(f.result),
    error: str(f.error),
    attempts: num(f.attempts) ?? 0,
    maxAttempts: num(f.max_attempts) ?? 1,
    initiatedBy: str(f.initiated_by),
    handledBy: str(f.handled_by),
    checkedBy: str(f.checked_by),
    parentId: str(f.parent_id),
    createdAt: num(f.created_at) ?? 0,
    startedAt: num(f.started_at),
    finishedAt: num(f.finished_at),
    updatedAt: num(f.updated_at) ?? 0,
    runAt: num(f.run_at),
  };
}

/** what a claim answers for each job: these fields' values, in this order (CLAIM_FIELDS in lib.lua) */
export const CLAIM_FIELDS = ['state', 'queue', 'parent_id', 'total', 'completed', 'token', 'attempts', 'max_attempts', 'chunk_index', 'created_at', 'handled_by', 'id', 'type', 'params', 'initiated_by', 'run_at'] as const;

/** a claimed job from the CLAIM_FIELDS values (Redis) or the whole record (memory) */
export function claimView(values: readonly string[] | Record<string, string>, startedAt: number): Job {
  const rec: Record<string, string> = {};
  CLAIM_FIELDS.forEach((f, i) => {
    const v = Array.isArray(values) ? values[i] : (values as Record<string, string>)[f];
    if (v !== undefined) rec[f] = v;
  });
  rec.started_at = String(startedAt);
  rec.updated_at = String(startedAt);
  return decodeJob(rec);
}
