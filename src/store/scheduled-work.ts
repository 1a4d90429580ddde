/**
 * What one occurrence of a schedule makes (store.schedules.enqueue): a batch of plain jobs, or one
 * flow (a prime count: its parent and its chunks). Either becomes the rows that enqueueScheduled.lua
 * (and the memory adapter's insert) write under the slot's once-key, in one step, so a prime count
 * is made once per slot as a batch is.
 */
import type { NewJob } from '../core/job';
import { flowRows, jobRow, JobRow } from './common';
import type { FlowSpec } from './types';

export type ScheduledWork = NewJob[] | FlowSpec;

/** the rows of an occurrence's work: a flow's parent first, its chunks linked to it */
export function scheduledRows(work: ScheduledWork): JobRow[] {
  return Array.isArray(work) ? work.map((j) => jobRow(j)) : flowRows(work);
}
