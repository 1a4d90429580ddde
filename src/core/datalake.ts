/**
 * The datalake: every finished top-level job (SUCCESS, FAILURE, DEAD or CANCELLED) of a recorded type is
 * appended once, in the same atomic step that finishes it, to the list of its UTC day. What it
 * records and how long it keeps days are cluster-wide settings kept in the store (README:
 * "Datalake"). Records are JSON objects with fixed fields, one per line when exported.
 */
import { ValidationError } from './errors';
import { iso, JOB_TYPES, JobType } from './job';

export const DAY_MS = 86_400_000;

/** job types the lake may record: top-level ones (a prime-count chunk never is) */
export const LAKE_TYPES = JOB_TYPES.filter((t) => t !== 'primes_chunk');

export interface DatalakeConfig {
  /** 'all', 'none', or a comma-separated list of job types */
  records: string;
  /** days older than this many days before today are dropped by the scheduler */
  retentionDays: number;
}

export const DATALAKE_DEFAULTS: DatalakeConfig = { records: 'all', retentionDays: 30 };

/** `all`, `none` or `type,type`, normalised; throws naming `field` */
export function parseLakeRecords(value: string, field = 'datalake'): string {
  const v = value.trim().toLowerCase();
  if (v === 'all' || v === 'none') return v;
  const types = [
    ...new Set(
      v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    ),
  ];
  const bad = types.filter((t) => !(LAKE_TYPES as readonly string[]).includes(t));
  if (types.length === 0 || bad.length > 0) {
    throw new ValidationError(
      `${field} must be all, none or a comma-separated list of ${LAKE_TYPES.join(', ')}, got '${value}'`,
      [{ field, message: 'unknown job type' }],
    );
  }
  return types.sort().join(',');
}

/** true when the lake records finished jobs of this type under `records` */
export function lakeRecords(records: string, type: JobType): boolean {
  if (records === 'all') return type !== 'primes_chunk';
  if (records === 'none') return false;
  return records.split(',').includes(type);
}

/** one entry of a datalake buffer: the stored entries (lakeEntry) one finishing step wrote for one UTC day */
export interface LakeBatch {
  /** the entry's id in its buffer ('<ms>-<seq>', a Redis stream id): increasing */
  id: string;
  day: string;
  entries: string[];
}

/** compare two buffer entry ids ('<ms>-<seq>'; '' comes before every id) */
export function compareLakeIds(a: string, b: string): number {
  if (a === b) return 0;
  if (a === '') return -1;
  if (b === '') return 1;
  const [am, as] = a.split('-').map(Number);
  const [bm, bs] = b.split('-').map(Number);
  return am - bm || as - bs;
}

/** the UTC day of a time: YYYY-MM-DD */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** a real calendar day written YYYY-MM-DD */
export function isDay(s: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(s)) return false;
  const t = Date.parse(`${s}T00:00:00.000Z`);
  return Number.isFinite(t) && utcDay(t) === s;
}

/** what the lake keeps per day, next to the records */
export interface LakeDay {
  date: string;
  total: number;
  success: number;
  failure: number;
  durationMsSum: number;
  durationCount: number;
}

/**
 * What the lake stores for a finished job: a JSON array, the cheapest thing for the Lua step to
 * write (one cjson.encode): [job_id, type, queue, status, result (JSON text or ''), error,
 * attempts, initiated_by, handled_by, created_at, started_at (or null), finished_at], times in ms.
 * lakeRecord() turns it into the record the API and the CLI show.
 */
/** the names of LakeEntry's positions, in its order (src/store/wire.ts gives them to lib.lua) */
export const LAKE_ENTRY_FIELDS = [
  'id',
  'type',
  'queue',
  'status',
  'result',
  'error',
  'attempts',
  'initiated_by',
  'handled_by',
  'created_at',
  'started_at',
  'finished_at',
] as const;
export type LakeEntry = [
  string,
  string,
  string,
  string,
  string,
  string,
  number,
  string,
  string,
  number,
  number | null,
  number,
];

/** the stored entry (the in-memory store writes what lib.lua's appendToLake writes) */
export function lakeEntry(...fields: LakeEntry): string {
  return JSON.stringify(fields);
}

/**
 * the entry of a job that is finishing, but for its finish time: open at the end ('[..., started_at,'),
 * for the script that finishes it to close with its own time (Redis's)
 */
export function lakeEntryUnfinished(...fields: Head<LakeEntry>): string {
  const entry = JSON.stringify(fields);
  return `${entry.slice(0, -1)},`;
}
type Head<T extends unknown[]> = T extends [...infer H, unknown] ? H : never;

/** a result as the lake keeps it (JSON text), parsed; text that is not JSON (a record written before results were checked) stays text */
function resultOf(text: string): unknown {
  if (text === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** a datalake record, as exported (one a line) */
export function lakeRecord(entry: string) {
  const [id, type, queue, status, result, error, attempts, initiatedBy, handledBy, createdAt, startedAt, finishedAt] =
    JSON.parse(entry) as LakeEntry;
  const orNull = (s: string) => (s === '' ? null : s);
  return {
    job_id: id,
    type,
    queue: orNull(queue),
    status,
    result: resultOf(result),
    error: orNull(error),
    attempts,
    initiated_by: orNull(initiatedBy),
    handled_by: orNull(handledBy),
    created_at: iso(createdAt),
    started_at: iso(startedAt),
    finished_at: iso(finishedAt),
    duration_ms: startedAt === null ? null : finishedAt - startedAt,
  };
}
export type LakeRecord = ReturnType<typeof lakeRecord>;
