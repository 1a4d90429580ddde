/**
 * The API's views of the domain's records: each record as the JSON a route answers with (the
 * shapes responses.ts declares): a job's (GET /jobs/:id and the seeds' own), a bot's, a schedule's.
 */
import type { Bot } from '../../core/bots';
import type { DatalakeConfig, LakeDay } from '../../core/datalake';
import { iso, type Job, type PrimeCountResult } from '../../core/job';
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

/** the generic JSON view (GET /jobs/:id, --json output) */
export function jobView(job: Job) {
  return {
    job_id: job.id,
    type: job.type,
    queue: job.queue,
    state: job.state,
    status: job.state,
    params: job.params,
    progress: job.progress,
    result: job.result ?? null,
    error: job.error,
    attempts: job.attempts,
    max_attempts: job.maxAttempts,
    initiated_by: job.initiatedBy,
    handled_by: job.handledBy,
    checked_by: job.checkedBy,
    parent_id: job.parentId,
    created_at: iso(job.createdAt),
    started_at: iso(job.startedAt),
    finished_at: iso(job.finishedAt),
    updated_at: iso(job.updatedAt),
    run_at: iso(job.runAt),
    priority: job.priority,
    timeout_ms: job.timeoutMs,
    idempotency_key: job.idempotencyKey,
    principal: job.principal ?? null,
    duration_ms: job.startedAt !== null && job.finishedAt !== null ? job.finishedAt - job.startedAt : null,
    schedule: job.schedule ?? null,
    slot: job.slot ?? null,
    ...(job.group ? { group: job.group } : {}),
    ...(job.dedupe ? { dedupe: job.dedupe } : {}),
    attempts_log: (job.attemptsLog ?? []).map((a) => ({ ...a, at: iso(a.at) })),
    // a flow's node (docs/flows.md): its flow, its id there and, once ready, its deps' outcomes
    ...(job.flowId ? { flow_id: job.flowId, flow_node: job.flowNode ?? null } : {}),
    ...(job.deps ? { deps: job.deps } : {}),
  };
}
export type JobView = ReturnType<typeof jobView>;

/** a math task's status: GET /tasks/:id/status */
export function taskStatusView(job: Job) {
  return {
    task_id: job.id,
    status: job.state,
    result: job.result ?? null,
    error: job.error,
    initiated_by: job.initiatedBy,
    checked_by: job.checkedBy,
    handled_by: job.handledBy,
  };
}

/** a prime count's view: GET /api/jobs/:id */
export function primeJobView(job: Job) {
  return {
    job_id: job.id,
    state: job.state,
    progress: job.progress ?? { completed: 0, total: 0 },
    result: job.state === 'SUCCESS' ? (job.result as PrimeCountResult) : null,
    error: job.error,
    params: job.params,
    created_at: iso(job.createdAt),
    finished_at: iso(job.finishedAt),
  };
}
