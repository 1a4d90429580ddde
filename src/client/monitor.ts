/**
 * Client commands of seed 004: `wizard jobs`, `wizard bots`, `wizard status` and
 * `wizard datalake stats|export`. Each fetches over HTTP and prints a table, or JSON with --json.
 */
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { BotView } from '../core/bots';
import { isDay, LakeStatsView } from '../core/datalake';
import { UsageError } from '../core/errors';
import type { JobView } from '../core/job';
import type { ApiClient } from './http';
import type { Ui } from './ui';

const ago = (iso: string | null, now = Date.now()) => (iso === null ? null : `${Math.max(0, Math.round((now - Date.parse(iso)) / 1000))}s ago`);
const pct = (r: number | null) => (r === null ? null : `${(r * 100).toFixed(1)}%`);

export async function showJobs(api: ApiClient, ui: Ui, q: { status?: string; limit: number; offset: number }): Promise<void> {
  const params = new URLSearchParams({ limit: String(q.limit), offset: String(q.offset) });
  if (q.status) params.set('status', q.status);
  const page = await api.get<{ total: number; offset: number; jobs: JobView[] }>(`/jobs?${params}`);
  if (ui.json) return ui.data(page);
  ui.table(
    ['id', 'type', 'state', 'attempts', 'handled by', 'created', 'duration'],
    page.jobs.map((j) => [j.job_id, j.type, j.state, `${j.attempts}/${j.max_attempts}`, j.handled_by, ago(j.created_at), j.duration_ms === null ? null : `${j.duration_ms} ms`]),
  );
  ui.line(`${page.jobs.length} of ${page.total} jobs${q.status ? ` in ${q.status}` : ''} (from ${page.offset})`);
}

export async function showBots(api: ApiClient, ui: Ui): Promise<void> {
  const list = await api.get<{ total: number; up: number; down: number; bots: BotView[] }>('/bots');
  if (ui.json) return ui.data(list);
  ui.table(
    ['id', 'name', 'status', 'last heartbeat', 'current job', 'done', 'failed'],
    list.bots.map((b) => [b.bot_id, b.name, b.status === 'up' ? ui.c.green('up') : ui.c.red('down'), ago(b.last_heartbeat), b.current_job, b.jobs_done, b.jobs_failed]),
  );
  ui.line(`${list.total} bots: ${list.up} up, ${list.down} down`);
}

interface Summary {
  jobs: { total: number; by_state: Record<string, number> };
  bots: { total: number; up: number; down: number };
  queue: { name: string; waiting: number; active: number; delayed: number };
  throughput_per_minute: number;
  success_rate: number | null;
}

export async function showStatus(api: ApiClient, ui: Ui): Promise<void> {
  const s = await api.get<Summary>('/metrics/summary');
  if (ui.json) return ui.data(s);
  ui.table(Object.keys(s.jobs.by_state), [Object.values(s.jobs.by_state)]);
  ui.table(
    ['bots up', 'bots down', `queue ${s.queue.name}`, 'finished / min', 'success rate'],
    [[s.bots.up, s.bots.down, `${s.queue.waiting} waiting, ${s.queue.active} held`, s.throughput_per_minute, pct(s.success_rate)]],
  );
}

export async function showLakeStats(api: ApiClient, ui: Ui): Promise<void> {
  const s = await api.get<LakeStatsView>('/datalake/stats');
  if (ui.json) return ui.data(s);
  ui.table(['day', 'records', 'success', 'failure', 'success rate', 'mean duration'], s.days.map((d) => [d.date, d.total, d.success, d.failure, pct(d.success_rate), d.mean_duration_ms === null ? null : `${d.mean_duration_ms} ms`]));
  ui.line(`${s.total} records in ${s.days.length} days; recording ${s.records}, keeping ${s.retention_days} days`);
}

/** stream a day's records (NDJSON) to `out` as they arrive */
export async function exportLake(api: ApiClient, date: string, out: Writable): Promise<void> {
  if (!isDay(date)) throw new UsageError(`<date> must be a day written YYYY-MM-DD, got '${date}'`);
  const body = await api.stream(`/datalake/export/${date}`);
  await pipeline(Readable.fromWeb(body as WebReadableStream<Uint8Array>), out, { end: false });
}
