/**
 * Client commands of the bots' work: `wizard jobs`, `wizard bots`, `wizard status` and
 * `wizard datalake stats|export`. Each fetches over HTTP and prints a table, or JSON with --json.
 */
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { isDay } from '../core/datalake';
import { UsageError } from '../core/errors';
import type { ApiClient } from './http';
import { ago, plural, Ui } from './ui';
import type { Reply } from './replies';

const pct = (r: number | null) => (r === null ? null : `${(r * 100).toFixed(1)}%`);

export async function showJobs(
  api: ApiClient,
  ui: Ui,
  q: { status?: string; limit: number; offset: number },
): Promise<void> {
  const params = new URLSearchParams({ limit: String(q.limit), offset: String(q.offset) });
  if (q.status) params.set('status', q.status);
  const page = await api.get<Reply<'jobs'>>(`/jobs?${params}`);
  if (ui.json) return ui.data(page);
  ui.table(
    ['id', 'type', 'state', 'attempts', 'handled by', 'created', 'duration'],
    page.jobs.map((j) => [
      j.job_id,
      j.type,
      j.state,
      j.type === 'primes' ? 'its chunks' : `${j.attempts}/${j.max_attempts}`, // a prime count runs as its chunks
      j.handled_by,
      ago(j.created_at),
      j.duration_ms === null ? null : `${j.duration_ms} ms`,
    ]),
    { ids: [0, 4] }, // handled by: a bot's id, or a worker's node id (kept whole)
  );
  ui.line(pageLine(page.jobs.length, page.total, page.offset, `jobs${q.status ? ` in ${q.status}` : ''}`));
}

/** "20 of 57 jobs; next: --offset 20", "7 of 57 jobs (51 to 57)" */
export function pageLine(shown: number, total: number, offset: number, what: string): string {
  const range = offset > 0 && shown > 0 ? ` (${offset + 1} to ${offset + shown})` : '';
  const next = offset + shown < total && shown > 0 ? `; next: --offset ${offset + shown}` : '';
  return `${shown} of ${total} ${what}${range}${next}`;
}

export async function showBots(api: ApiClient, ui: Ui): Promise<void> {
  const list = await api.get<Reply<'bots'>>('/bots');
  if (ui.json) return ui.data(list);
  ui.table(
    ['id', 'name', 'status', 'last heartbeat', 'current job', 'done', 'failed'],
    list.bots.map((b) => [
      b.bot_id,
      b.name === b.bot_id ? null : b.name,
      b.status === 'up' ? ui.c.green('up') : ui.c.red('down'),
      ago(b.last_heartbeat),
      b.current_job,
      b.jobs_done,
      b.jobs_failed,
    ]),
    { ids: [0, 4] },
  );
  ui.line(`${list.total} bots: ${list.up} up, ${list.down} down`);
}

export async function showStatus(api: ApiClient, ui: Ui): Promise<void> {
  const s = await api.get<Reply<'summary'>>('/metrics/summary');
  if (ui.json) return ui.data(s);
  ui.table(Object.keys(s.jobs.by_state), [Object.values(s.jobs.by_state)]);
  ui.table(
    ['bots up', 'bots down', `queue ${s.queue.name}`, 'finished / min', 'success rate'],
    [
      [
        s.bots.up,
        s.bots.down,
        `${s.queue.waiting} waiting, ${s.queue.active} held`,
        s.throughput_per_minute,
        pct(s.success_rate),
      ],
    ],
  );
}

export async function showLakeStats(api: ApiClient, ui: Ui): Promise<void> {
  const s = await api.get<Reply<'lakeStats'>>('/datalake/stats');
  if (ui.json) return ui.data(s);
  ui.table(
    ['day', 'records', 'success', 'failure', 'success rate', 'mean duration'],
    s.days.map((d) => [
      d.date,
      d.total,
      d.success,
      d.failure,
      pct(d.success_rate),
      d.mean_duration_ms === null ? null : `${d.mean_duration_ms} ms`,
    ]),
  );
  ui.line(
    `${plural(s.total, 'record')} in ${plural(s.days.length, 'day')}; recording ${s.records}, keeping ${plural(s.retention_days, 'day')}`,
  );
}

/** stream a day's records (NDJSON) to `out` as they arrive */
export async function exportLake(api: ApiClient, date: string, out: Writable): Promise<void> {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) throw new UsageError(`<date> must be a day written YYYY-MM-DD, got '${date}'`);
  if (!isDay(date)) throw new UsageError(`<date> ${date} is not a real date`);
  const body = await api.stream(`/datalake/export/${date}`);
  await pipeline(Readable.fromWeb(body as WebReadableStream<Uint8Array>), out, { end: false });
}
