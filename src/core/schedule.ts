/**
 * Schedules: a named batch of jobs made at each occurrence of `every_ms` or
 * a cron expression (with a time zone). The bot batch is the built-in one, `seed-batch`,
 * made from the scheduler's own settings (POPULATE_INTERVAL_MS, BATCH_SIZE, ...).
 *
 * An occurrence is a slot: its time. The scheduler leader makes each slot once, with a once-key per
 * (schedule, slot) set in the same store step that enqueues (store.schedules.enqueue), so two leaders
 * for a moment, or a leader that took over, cannot make a slot twice. A leader makes the slots
 * due in the last catch-up window (a failover's gap, a slow tick), none from before the schedule
 * was made; the bot batch makes its current slot whenever it is seen, as it always did.
 */
import { CronExpressionParser } from 'cron-parser';
import { z } from 'zod';
import { BatchSpec, batchJobs, SCHEDULE_TYPES, scheduleTypes, typeSettings } from './batch';
import { primeCountFlow, PrimeCountFlow } from './chunks';
import { ValidationError } from './errors';
import { safeName } from './ids';
import { DEFAULT_QUEUE, NewJob } from './job';
import { boundedInt, boundedString, jsonBody } from './schemas';

export const SEED_BATCH = 'seed-batch';

export interface Schedule {
  name: string;
  /** a batch type or a --handlers module's */
  type: string;
  params: Record<string, unknown>;
  everyMs: number | null;
  cron: string | null;
  /** the cron expression's time zone (IANA), null: UTC */
  tz: string | null;
  /** jobs per occurrence */
  size: number;
  queue: string;
  /** the bot batch: made from the scheduler's settings, not deleted through the API */
  builtin: boolean;
  createdAt: number;
  /**
   * a module's type: its attempts and an attempt's timeout (ms) when the schedule was saved (by
   * the API, which has the module), given to each job: a scheduler without the module makes the
   * same jobs. Absent (a batch type, or a schedule saved before they were kept): the scheduler's
   * registry decides
   */
  maxAttempts?: number;
  timeoutMs?: number;
  /** a module's `cpu: true` type (saved likewise): its jobs wait in their queue's CPU lists, whatever the scheduler knows */
  cpu?: boolean;
}

/** a schedule's name: 1-64 of the safe alphabet (core/ids.ts) */
export const scheduleName = safeName('name', 1, 64);

export const scheduleBody = jsonBody({
  name: scheduleName,
  type: z
    .string({ error: `type must be one of ${SCHEDULE_TYPES.join(', ')} or a type a --handlers module defines` })
    .refine((t) => scheduleTypes().includes(t), {
      error: (iss) => `type must be one of ${scheduleTypes().join(', ')}, got '${String(iss.input)}'`,
    }),
  params: z.record(z.string(), z.unknown(), { error: 'params must be a JSON object' }).optional(),
  every_ms: boundedInt('every_ms', 1000, 31 * 86_400_000).optional(),
  cron: boundedString('cron', 1, 128).optional(),
  tz: boundedString('tz', 1, 64).optional(),
});
export type ScheduleBody = z.infer<typeof scheduleBody>;

export const scheduleParams = z.object({ name: scheduleName });

const invalid = (field: string, message: string) => new ValidationError(message, [{ field, message }]);

/** a time zone Intl knows, or a ValidationError naming `field` */
function checkTz(tz: string, field: string): void {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
  } catch {
    throw invalid(field, `${field} must be an IANA time zone (e.g. Europe/Paris), got '${tz}'`);
  }
}

/** the timing of a schedule as asked: exactly one of every_ms and cron; tz only with cron, and both must parse */
export function checkTiming(
  t: { every_ms?: number; cron?: string; tz?: string },
  fields = { every: 'every_ms', cron: 'cron', tz: 'tz' },
): void {
  if ((t.every_ms === undefined) === (t.cron === undefined))
    throw invalid(fields.every, `give exactly one of ${fields.every} and ${fields.cron}`);
  if (t.tz !== undefined && t.cron === undefined)
    throw invalid(fields.tz, `${fields.tz} goes with ${fields.cron} only`);
  if (t.tz !== undefined) checkTz(t.tz, fields.tz);
  if (t.cron !== undefined) {
    try {
      CronExpressionParser.parse(t.cron, { tz: t.tz ?? 'UTC', strict: false });
    } catch (err) {
      throw invalid(
        fields.cron,
        `${fields.cron} is not a cron expression: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }
}

export function makeSchedule(
  name: string,
  spec: BatchSpec,
  timing: { every_ms?: number; cron?: string; tz?: string },
  createdAt: number,
  builtin = false,
): Schedule {
  return {
    name,
    type: spec.type,
    params: spec.params,
    everyMs: timing.every_ms ?? null,
    cron: timing.cron ?? null,
    tz: timing.cron ? (timing.tz ?? null) : null,
    size: spec.size,
    queue: spec.queue,
    builtin,
    createdAt,
    ...typeSettings(spec),
  };
}

/** a schedule of prime counts: one count of [1, n] in `chunks` per occurrence, its chunks on the workers' queue */
export function primesSpec(params: Record<string, unknown>): BatchSpec {
  return { size: 1, type: 'primes', params, queue: DEFAULT_QUEUE };
}

/** what one occurrence (its slot, ISO 8601) makes: a prime count's flow, else the batch's jobs (each naming the slot as `batch`) */
export function occurrenceWork(s: Schedule, slot: string, initiatedBy: string): NewJob[] | PrimeCountFlow {
  if (s.type !== 'primes') return batchJobs(s, slot, initiatedBy);
  const { n, chunks } = s.params as { n: number; chunks: number };
  return primeCountFlow(n, chunks, { initiatedBy }, { queue: s.queue });
}

/** how far back a leader makes slots it has not made: a failover's gap and a slow tick */
export function catchUpMs(leaderLeaseMs: number): number {
  return Math.max(10_000, 3 * leaderLeaseMs);
}

/**
 * the slots (times, ms, oldest first) due at `now`: those in (now - windowMs, now] and not before
 * the schedule was made, at most `max`. The bot batch keeps its own rule: its current slot only,
 * whenever it is seen (a scheduler that starts mid-interval makes that interval's batch).
 */
export function dueSlots(s: Schedule, now: number, windowMs: number, max = 20): number[] {
  const due = (t: number) => t > now - windowMs && t >= s.createdAt;
  const out: number[] = [];
  if (s.everyMs !== null) {
    const current = Math.floor(now / s.everyMs) * s.everyMs;
    if (s.builtin) return [current];
    for (let t = current; due(t) && out.length < max; t -= s.everyMs) out.push(t);
  } else if (s.cron !== null) {
    const it = CronExpressionParser.parse(s.cron, { currentDate: new Date(now + 1), tz: s.tz ?? 'UTC', strict: false });
    for (let t = it.prev().getTime(); due(t) && out.length < max; t = it.prev().getTime()) out.push(t);
  }
  return out.reverse();
}

/** the once-key of a slot (the bot batch keeps the key it always had: no slot doubled in an upgrade) */
export function slotKey(s: Schedule, slot: number): string {
  return s.builtin && s.everyMs !== null ? `batch:${s.everyMs}:${slot / s.everyMs}` : `schedule:${s.name}:${slot}`;
}

/** how long a slot's once-key is kept: longer than any leader could still try to make that slot */
export function slotKeyTtl(s: Schedule, windowMs: number, leaderLeaseMs: number): number {
  return 2 * (s.everyMs ?? 0) + 2 * windowMs + leaderLeaseMs;
}

/** the next occurrence after `now`, for listings */
export function nextSlot(s: Schedule, now: number): number | null {
  if (s.everyMs !== null) return (Math.floor(now / s.everyMs) + 1) * s.everyMs;
  if (s.cron === null) return null;
  return CronExpressionParser.parse(s.cron, { currentDate: new Date(now), tz: s.tz ?? 'UTC', strict: false })
    .next()
    .getTime();
}
