/** A job under a debounce or throttle window (store.jobs.submit), as enqueueDeduped.lua makes or finds it. */
import { decodeJob } from '../codec';
import { dedupeScope, type DedupedJob, type Job } from '../../core/job';
import { dedupeConflict, dedupedRow, type JobRow, windowAnswers } from '../common';
import type { Submitted } from '../types';
import type { MemoryCore } from './core';

/** the window's job, when submitDeduped would answer with it (store.jobs.dedupedJob) */
export function dedupedJob(m: MemoryCore, job: DedupedJob): string | null {
  const window = m.dedupeKeys.get(dedupeScope(job, job.dedupe.key));
  if (!window || window.until <= m.clock() || window.mode !== job.dedupe.mode) return null;
  return windowAnswers(window.mode, m.rec(window.jobId)?.state) ? window.jobId : null;
}

/** enqueueDeduped.lua: the window's job (throttled, or debounced: its params replaced, due later) or a new job under it */
export function submitDeduped(m: MemoryCore, insert: (rows: JobRow[]) => Job[], job: DedupedJob): Submitted {
  const d = job.dedupe;
  const scope = dedupeScope(job, d.key);
  const now = m.step();
  if (m.dedupeKeys.size >= m.dedupeSweepAt) {
    // as Redis's key expiry: lapsed windows go, at a cost spread over the submissions that made them
    for (const [k, w] of m.dedupeKeys) if (w.until <= now) m.dedupeKeys.delete(k);
    m.dedupeSweepAt = Math.max(1000, 2 * m.dedupeKeys.size);
  }
  const found = m.dedupeKeys.get(scope);
  const window = found && found.until > now ? found : undefined;
  const rec = window ? m.rec(window.jobId) : undefined;
  const answer = (id: string): Submitted => ({
    job: decodeJob(m.rec(id)!, id),
    children: [],
    existing: false,
    deduplicated: true,
  });
  if (window && rec) {
    if (window.mode !== d.mode) throw dedupeConflict(job, window.jobId, 'mode', window.mode);
    if (windowAnswers(d.mode, rec.state)) {
      if (d.mode === 'throttle') return answer(window.jobId);
      if (window.type !== job.type) throw dedupeConflict(job, window.jobId, 'type', window.type);
      const row = dedupedRow(job);
      m.unqueue(window.jobId, rec); // by its priority as it was
      rec.params = row.params;
      rec.max_attempts = String(row.max_attempts);
      rec.updated_at = String(now);
      for (const field of ['priority', 'timeout_ms'] as const) {
        if (row[field] === '') delete rec[field];
        else rec[field] = row[field];
      }
      const runAt = Math.max(now, Math.min(now + d.ttlMs, window.cap ?? Infinity));
      rec.run_at = String(runAt);
      m.queue(rec.queue).delayed.set(window.jobId, runAt);
      m.signal(rec.queue); // a consumer learns the new due time
      window.until = runAt + m.options.resultTtlMs;
      return answer(window.jobId);
    }
  }
  const row = dedupedRow(job);
  const [made] = insert([row]);
  Object.assign(m.rec(row.id)!, { dedupe_key: d.key, dedupe_mode: d.mode });
  const delay = row.delay_ms === '' ? 0 : Number(row.delay_ms);
  const at = made.createdAt; // the step's time (insert's)
  m.dedupeKeys.set(scope, {
    jobId: row.id,
    mode: d.mode,
    type: job.type,
    cap: d.mode === 'debounce' && d.maxWaitMs !== undefined ? at + d.maxWaitMs : null,
    until: d.mode === 'throttle' ? at + d.ttlMs : at + delay + m.options.resultTtlMs,
  });
  return { job: { ...made, dedupe: { key: d.key, mode: d.mode } }, children: [], existing: false, deduplicated: false };
}
