/**
 * A handler's ctx.progress(value): a fraction 0..1, or {completed, total}. Both are kept as
 * {completed, total} (a fraction f as {completed: f, total: 1}), the shape a prime count's
 * progress has, so every view (GET /jobs/:id, the event streams, `wizard watch`, the console)
 * shows them alike: a total of 1 as a percentage, any other as completed/total.
 */
import type { Progress } from './job';

export type ProgressValue = number | { completed: number; total: number };

const bad = (v: unknown) =>
  new TypeError(
    `ctx.progress takes a fraction from 0 to 1 or {completed, total} (numbers >= 0, total > 0), got ${JSON.stringify(v)}`,
  );

export function normalizeProgress(v: unknown): Progress {
  if (typeof v === 'number') {
    if (!Number.isFinite(v) || v < 0 || v > 1) throw bad(v);
    return { completed: v, total: 1 };
  }
  if (typeof v !== 'object' || v === null) throw bad(v);
  const { completed, total } = v as Record<string, unknown>;
  if (
    typeof completed !== 'number' ||
    typeof total !== 'number' ||
    !Number.isFinite(completed) ||
    !Number.isFinite(total) ||
    completed < 0 ||
    total <= 0
  )
    throw bad(v);
  return { completed, total };
}

/** how a progress reads: a percentage for a fraction (total 1), else completed/total */
export function progressText(p: Progress): string {
  return p.total === 1 ? `${Math.round(p.completed * 100)}%` : `${p.completed}/${p.total}`;
}
