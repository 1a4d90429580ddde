/**
 * The API's views of the domain's records: each record as the JSON a route answers with (the
 * shapes responses.ts declares). The job's views are core/job.ts's (jobView and the seeds').
 */
import type { Bot } from '../../core/bots';
import type { DatalakeConfig, LakeDay } from '../../core/datalake';
import { iso } from '../../core/job';
import { nextSlot, type Schedule } from '../../core/schedule';

/** GET /bots (and the CLI's `wizard bots`) */
export function botView(bot: Bot) {
  return {
    bot_id: bot.id,
    name: bot.name,
    status: bot.status,
    registered_at: iso(bot.registeredAt),
    last_heartbeat: iso(bot.lastHeartbeat),
    down_at: iso(bot.downAt),
    current_job: bot.currentJob,
    jobs_done: bot.jobsDone,
    jobs_failed: bot.jobsFailed,
  };
}
export type BotView = ReturnType<typeof botView>;

const rate = (num: number, den: number) => (den === 0 ? null : Math.round((num / den) * 10_000) / 10_000);
const mean = (sum: number, n: number) => (n === 0 ? null : Math.round(sum / n));

function dayView(d: LakeDay) {
  return {
    date: d.date,
    total: d.total,
    success: d.success,
    failure: d.failure,
    success_rate: rate(d.success, d.total),
    mean_duration_ms: mean(d.durationMsSum, d.durationCount),
  };
}

/** GET /datalake/stats: per day (newest first) and over all days */
export function lakeStatsView(days: LakeDay[], config: DatalakeConfig) {
  const sum = (k: keyof Omit<LakeDay, 'date'>) => days.reduce((s, d) => s + d[k], 0);
  return {
    records: config.records,
    retention_days: config.retentionDays,
    total: sum('total'),
    success: sum('success'),
    failure: sum('failure'),
    success_rate: rate(sum('success'), sum('total')),
    mean_duration_ms: mean(sum('durationMsSum'), sum('durationCount')),
    days: [...days].sort((a, b) => (a.date < b.date ? 1 : -1)).map(dayView),
  };
}
export type LakeStatsView = ReturnType<typeof lakeStatsView>;

/** GET /schedules' view */
export function scheduleView(s: Schedule, now: number) {
  return {
    name: s.name,
    type: s.type,
    params: s.params,
    every_ms: s.everyMs,
    cron: s.cron,
    tz: s.tz,
    size: s.size,
    queue: s.queue,
    builtin: s.builtin,
    attempts: s.maxAttempts ?? null,
    timeout_ms: s.timeoutMs ?? null,
    created_at: iso(s.createdAt),
    next_at: iso(nextSlot(s, now)),
  };
}
export type ScheduleView = ReturnType<typeof scheduleView>;
