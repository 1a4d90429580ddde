/** Job records as Redis hash fields (and back). Both adapters speak these field names. */
import type { Bot, BotStatus } from '../core/bots';
import type { DatalakeConfig, LakeDay } from '../core/datalake';
import { DATALAKE_DEFAULTS } from '../core/datalake';
import {
  attemptsLog,
  AttemptOutcome,
  type DedupeMode,
  DEFAULT_PRIORITY,
  givenIdempotencyKey,
  Job,
  JobState,
  JobType,
} from '../core/job';
import type { Schedule } from '../core/schedule';
import { CLAIM, OMITTED } from './wire';

const num = (v: string | undefined): number | null => (v === undefined || v === '' ? null : Number(v));
const str = (v: string | undefined): string | null => (v === undefined || v === '' ? null : v);

export function json(v: string | undefined): unknown {
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

/**
 * a record's state, read with its `created_at` (every job's record has one): at format 3 a job of
 * its own with no options is written without `state` while it is PENDING (lib-queue.lua
 * enqueueRows, lib.lua's stateOf), so a record with `created_at` and no state is PENDING; null
 * when neither is there (no job's record)
 */
export const stateOfRecord = (
  state: string | null | undefined,
  createdAt: string | null | undefined,
): JobState | null => (state ?? (createdAt != null ? 'PENDING' : null)) as JobState | null;

/**
 * when a record last changed: the latest of its updated_at, started_at and finished_at, else its
 * creation. At format 3 a claim and a completion leave updated_at out (it would equal the
 * started_at or finished_at they write: lib-queue.lua's claimOne, lib-state.lua's finish), so a
 * record's updated_at may be older than either; every transition writes its times at its own now
 */
export function updatedAtOf(f: {
  updated_at?: string | null;
  started_at?: string | null;
  finished_at?: string | null;
  created_at?: string | null;
}): number | null {
  let at: number | null = null;
  for (const v of [f.updated_at, f.started_at, f.finished_at])
    if (v != null && v !== '' && (at === null || Number(v) > at)) at = Number(v);
  return at ?? (f.created_at != null && f.created_at !== '' ? Number(f.created_at) : null);
}

/**
 * a job from its record. What enqueueJobs.lua leaves unwritten reads as its start: the id is
 * the key's (`id`, when the record has none), attempts 0, updated_at the creation time (and a
 * later move's time: updatedAtOf).
 */
export function decodeJob(f: Record<string, string>, id?: string, withLog = true): Job {
  const total = num(f.total);
  const handlerTotal = num(f.hp_total); // a handler's ctx.progress (reportProgress.lua)
  const job: Job = {
    id: f.id ?? id,
    type: f.type as JobType,
    // a prime count is on no queue (its chunks are): it shows theirs (runs_on); a record without
    // one holds the default (format 3 leaves OMITTED values out: wire.ts)
    queue: f.queue === undefined ? OMITTED.queue : f.queue || f.runs_on || '',
    state: stateOfRecord(f.state, f.created_at)!,
    params: (json(f.params) as Record<string, unknown>) ?? {},
    progress:
      total !== null
        ? { completed: num(f.completed) ?? 0, total }
        : handlerTotal !== null
          ? { completed: num(f.hp_completed) ?? 0, total: handlerTotal }
          : null,
    result: json(f.result),
    // a success's record may keep the error of an attempt before it: attempts_log tells that one
    error: f.state === 'SUCCESS' ? null : str(f.error),
    attempts: num(f.attempts) ?? 0,
    maxAttempts: num(f.max_attempts) ?? OMITTED.max_attempts,
    initiatedBy: str(f.initiated_by),
    handledBy: str(f.handled_by),
    checkedBy: str(f.checked_by),
    parentId: str(f.parent_id),
    createdAt: num(f.created_at) ?? 0,
    startedAt: num(f.started_at),
    finishedAt: num(f.finished_at),
    updatedAt: updatedAtOf(f) ?? 0,
    runAt: num(f.run_at),
    priority: num(f.priority) ?? DEFAULT_PRIORITY,
    timeoutMs: num(f.timeout_ms),
    idempotencyKey: f.idem_key ? givenIdempotencyKey(f.idem_key, f.principal) : null,
    principal: str(f.principal),
    ...(f.schedule ? { schedule: f.schedule, slot: str(f.slot) } : {}),
    ...(f.group ? { group: f.group } : {}),
    ...(f.dedupe_key ? { dedupe: { key: f.dedupe_key, mode: f.dedupe_mode as DedupeMode } } : {}),
    ...(f.flow_id ? { flowId: f.flow_id, flowNode: f.flow_node } : {}),
    ...(f.deps ? { deps: json(f.deps) as Job['deps'] } : {}),
    ...(f.trace ? { trace: f.trace } : {}),
  };
  if (withLog) job.attemptsLog = attemptsLog(job, storedAttempts(f.attempts_log));
  return job;
}

/**
 * the record's attempts_log with one more attempt's outcome (lib-state.lua's logAttempt): the
 * attempt the record's fields are about to forget, a retry's or a finished job's retried by hand
 */
export function logAttempt(rec: Record<string, string>, state: JobState, error: string, at: number): string {
  const entry = [Number(rec.attempts) || 0, state, error, rec.handled_by || null, at];
  // as Lua's cjson writes it, '/' escaped, so both adapters' records hold the same bytes
  const line = JSON.stringify(entry).replaceAll('/', '\\/');
  const log = rec.attempts_log;
  return log && log.endsWith(']') && log.length > 2 ? `${log.slice(0, -1)},${line}]` : `[${line}]`;
}

/** the record's attempts_log (logAttempt's [attempt, state, error, handled_by, at] entries) as outcomes */
function storedAttempts(v: string | undefined): AttemptOutcome[] {
  const log = json(v);
  if (!Array.isArray(log)) return [];
  return log
    .filter((e): e is unknown[] => Array.isArray(e))
    .map(([attempt, state, error, by, at]) => ({
      attempt: Number(attempt) || 0,
      state: state as JobState,
      error: typeof error === 'string' && error !== '' ? error : null,
      handled_by: typeof by === 'string' ? by : null,
      at: typeof at === 'number' ? at : null,
    }));
}

/**
 * a bot's claimed job with the schedule that made it and its slot (the record's `schedule`,
 * `slot`), as GET /jobs/:id shows them: a worker's claim does not read them
 */
export function withSchedule(job: Job, [schedule, slot]: readonly (string | null | undefined)[] = []): Job {
  return schedule ? { ...job, schedule, slot: slot || null } : job;
}

/** a schedule as the schedules hash keeps it (JSON), and back */
export const encodeSchedule = (s: Schedule): string => JSON.stringify(s);
export const decodeSchedule = (v: string): Schedule => JSON.parse(v) as Schedule;

/** a bot's record (registerBot.lua's fields) */
export function decodeBot(f: Record<string, string>): Bot {
  return {
    id: f.id,
    name: f.name,
    status: f.status as BotStatus,
    registeredAt: num(f.registered_at) ?? 0,
    lastHeartbeat: num(f.last_heartbeat) ?? 0,
    downAt: num(f.down_at),
    currentJob: str(f.current_job),
    jobsDone: num(f.jobs_done) ?? 0,
    jobsFailed: num(f.jobs_failed) ?? 0,
  };
}

/** the config hash's datalake fields, defaults where unset */
export function decodeLakeConfig(
  records: string | null | undefined,
  retentionDays: string | null | undefined,
): DatalakeConfig {
  return {
    records: records || DATALAKE_DEFAULTS.records,
    retentionDays: num(retentionDays ?? undefined) ?? DATALAKE_DEFAULTS.retentionDays,
  };
}

/** a day's counters hash (appendToLake's fields) and its record count (the list's length) */
export function decodeLakeDay(date: string, total: number, f: Record<string, string>): LakeDay {
  const success = num(f.success) ?? 0;
  return {
    date,
    total,
    success,
    failure: total - success,
    durationMsSum: num(f.duration_ms_sum) ?? 0,
    durationCount: num(f.duration_count) ?? 0,
  };
}

/** what a claim knows of every job it takes */
export interface ClaimContext {
  queue: string;
  consumer: string;
  /** the claim's time: the job's start */
  now: number;
}

/**
 * a claimed job from the values of the layout CLAIM (wire.ts: what a claim answers, the fields its
 * consumer cannot know; Redis) or the whole record (memory). The rest follows from the claim itself.
 */
export function claimView(values: readonly (string | null)[] | Record<string, string>, c: ClaimContext): Job {
  // the claim's own fields first: a record of one shape for every claimed job (decodeJob reads it)
  const now = String(c.now);
  const rec: Record<string, string> = {
    state: 'STARTED',
    queue: c.queue,
    handled_by: c.consumer,
    started_at: now,
    updated_at: now,
  };
  // a field the job does not have is null in Redis's answer (HMGET), absent in a record
  if (Array.isArray(values)) {
    for (let i = 0; i < CLAIM.length; i++) {
      const v = (values as readonly (string | null)[])[i];
      if (v !== null && v !== undefined) rec[CLAIM[i]] = v;
    }
  } else {
    const r = values as Record<string, string>;
    for (const f of CLAIM) if (r[f] !== undefined) rec[f] = r[f];
  }
  return decodeJob(rec, undefined, false); // a claim does not read the record's log
}
