/**
 * The datalake's drainer (docs/datalake.md): moves the records finishing steps left in the store's
 * buffers into the day files, then trims the buffers up to what it wrote. The scheduler leader
 * runs it (one across the cluster: its lease), `wizard up` in its own process.
 *
 * Exactly once: a record is in its day file once (files.ts: the mark's last id per buffer), and
 * leaves the buffer only once its file and mark are on disk. A buffer that grows past
 * DEFAULTS.datalakeBufferAlarm entries (no drainer runs, or it cannot keep up) keeps every record
 * and says so: a warning here, wizard_datalake_buffer_entries and /health's `datalake` note.
 */
import { DAY_MS, LakeBatch } from '../../core/datalake';
import { DEFAULTS } from '../../core/defaults';
import type { Store } from '../../store/types';
import type { Logger } from '../../util/log';
import { DayFiles } from './files';

/** entries read from a buffer at a time */
export const DRAIN_PAGE = 1000;

export interface Drained {
  /** records written to the day files */
  records: number;
  /** buffer entries trimmed */
  entries: number;
}

/**
 * one pass: every buffer until it is empty or `maxPages` pages were moved. Days older than the
 * retention are trimmed unwritten (the retention would drop their file at once).
 */
export async function drainLake(store: Store, files: DayFiles, maxPages = 50): Promise<Drained> {
  const [{ retentionDays }, now] = await Promise.all([store.lake.config(), store.server.time()]);
  const cutoff = Math.floor(now / DAY_MS) * DAY_MS - retentionDays * DAY_MS;
  const done: Drained = { records: 0, entries: 0 };
  let pages = 0;
  for (const buffer of await store.lake.buffers()) {
    while (pages < maxPages) {
      const page = await store.lake.pending(buffer, '', DRAIN_PAGE);
      if (page.length === 0) break;
      pages++;
      const byDay = new Map<string, LakeBatch[]>();
      for (const b of page) {
        if (Date.parse(`${b.day}T00:00:00.000Z`) < cutoff) continue;
        byDay.set(b.day, [...(byDay.get(b.day) ?? []), b]);
      }
      for (const [day, batches] of byDay) done.records += await files.append(day, buffer, batches);
      await store.lake.trim(buffer, page[page.length - 1].id);
      done.entries += page.length;
      if (page.length < DRAIN_PAGE) break;
    }
  }
  return done;
}

/** the day files of a store's prefix under the --datalake-dir `root` */
export const lakeFiles = (store: Store, root: string): DayFiles => new DayFiles(root, store.options.prefix);

/**
 * a drainer's loop, run while `active()` says so (the scheduler's leadership): a pass every
 * `intervalMs`, one at a time, the files pruned to the retention once a minute, and a warning
 * (at most once a minute) while the buffers hold more than DEFAULTS.datalakeBufferAlarm entries
 */
export function startDrainer(
  store: Store,
  files: DayFiles,
  o: { intervalMs: number; log: Logger; active: () => boolean },
): { close(): Promise<void> } {
  let running: Promise<void> | null = null;
  let prunedAt = 0;
  let warnedAt = 0;
  const pass = async () => {
    try {
      const backlog = await store.lake.backlog();
      if (backlog > DEFAULTS.datalakeBufferAlarm && Date.now() - warnedAt > 60_000) {
        warnedAt = Date.now();
        o.log.warn('the datalake buffer is past its bound: records are kept, but Redis memory grows', {
          buffer_entries: backlog,
          bound: DEFAULTS.datalakeBufferAlarm,
          dir: files.dir,
        });
      }
      if (backlog > 0) {
        const { records } = await drainLake(store, files);
        if (records) o.log.debug('datalake drained', { records, dir: files.dir });
      }
      if (Date.now() - prunedAt > 60_000) {
        prunedAt = Date.now();
        const [{ retentionDays }, now] = await Promise.all([store.lake.config(), store.server.time()]);
        const dropped = await files.prune(retentionDays, now);
        if (dropped.length) o.log.info('datalake day files dropped', { days: dropped, dir: files.dir });
      }
    } catch (err) {
      o.log.warn('datalake drain failed: retrying', { error: err instanceof Error ? err.message : String(err) });
    }
  };
  const timer = setInterval(() => {
    if (o.active()) running ??= pass().finally(() => (running = null));
  }, o.intervalMs);
  return {
    async close() {
      clearInterval(timer);
      await running;
    },
  };
}
