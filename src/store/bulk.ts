/**
 * Bulk enqueue (POST /jobs/bulk, store.jobs.enqueueBulk), shared by both adapters: which shard
 * each item goes to, its id, and each shard's once-key. The items are split into runs of BULK_RUN
 * in a row, each run in the next shard (the bot queue's jobs stay in shard 0, with the bots), and
 * each shard's jobs are written in one atomic step, in order. Under a key the plan is the same on every call:
 * the first shard follows from the key, each id from the key and the item's index, and each
 * shard's run is written once (its once-key), so a retry after some shards were written writes
 * only the others and answers the same ids.
 */
import { createHash } from 'node:crypto';
import { givenIdempotencyKey, type Job, type NewJob } from '../core/job';
import { uuidShaped } from '../core/ids';
import { fingerprint, flowRows, idempotencyConflict, jobRow, type JobRow, withJobId } from './common';
import { shardIdPrefix } from './keys';
import type { FlowSpec, Submitted } from './types';

/** one item of a bulk: a job, or a flow (a prime count: its parent and chunks) */
export type BulkItem = NewJob | FlowSpec;

/**
 * each BULK_RUN items in a row go to one shard (the next run: the next shard), so a bulk of up to
 * BULK_RUN jobs is written in one atomic step, and a job's shard follows from its index alone
 */
export const BULK_RUN = 1000;

/** how long a bulk's key keeps each shard's run from being written again */
export const BULK_KEY_TTL_MS = 24 * 60 * 60 * 1000;

/** one shard's run: the items' indexes in the bulk, with their ids given */
export interface BulkGroup {
  shard: number;
  indexes: number[];
  items: BulkItem[];
  /** under a key: the once-key of this run */
  onceKey?: string;
}

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

/** the item's first job (a flow's parent) */
export const firstOf = (item: BulkItem): NewJob => ('parent' in item ? item.parent : item);

/** the item with ids given: under a key, from the key and the index (a flow's chunks: and their own index) */
function withIds(item: BulkItem, id: (suffix: string) => string): BulkItem {
  const named = (j: NewJob, suffix: string): NewJob => withJobId(j, j.id ?? id(suffix));
  if (!('parent' in item)) return named(item, '');
  return { parent: named(item.parent, ''), children: item.children.map((c, i) => named(c, `:${i}`)) };
}

/**
 * the runs of a bulk over `shards` shards from `start` (the key's shard, or the next in turn):
 * `newId(shard)` names a job of an unkeyed bulk
 */
export function planBulk(
  items: readonly BulkItem[],
  o: { shards: number; start: number; botQueue: string; key?: string; newId: (shard: number) => string },
): BulkGroup[] {
  const queueOf = (item: BulkItem) => ('parent' in item ? item.children[0]?.queue : item.queue);
  const shardOf = (index: number) =>
    queueOf(items[index]) === o.botQueue ? 0 : (o.start + Math.floor(index / BULK_RUN)) % o.shards;
  const groups = new Map<number, BulkGroup>();
  items.forEach((item, index) => {
    const shard = shardOf(index);
    let g = groups.get(shard);
    if (!g) {
      g = { shard, indexes: [], items: [], onceKey: o.key === undefined ? undefined : `bulk:${o.key}:${shard}` };
      groups.set(shard, g);
    }
    const id = (suffix: string) =>
      o.key === undefined ? o.newId(shard) : shardIdPrefix(shard) + uuidShaped(sha(`bulk:${o.key}:${index}${suffix}`));
    g.indexes.push(index);
    g.items.push(withIds(item, id));
  });
  return [...groups.values()];
}

/** a run's rows, in order (a flow: its parent, then its chunks) */
export const bulkRows = (items: readonly BulkItem[]): JobRow[] =>
  items.flatMap((item) => ('parent' in item ? flowRows(item) : [jobRow(item)]));

/**
 * a run written before, under the bulk's key: its jobs as they are now, each the same work as
 * asked (else the key was used for another bulk: a 409 naming it)
 */
export function repeatedRun(group: BulkGroup, found: (Job | null)[], key: string): Submitted[] {
  return group.items.map((item, i) => {
    const job = found[i];
    const wanted = firstOf(item);
    if (!job || fingerprint(job) !== fingerprint(wanted))
      throw idempotencyConflict(givenIdempotencyKey(key, wanted.principal), wanted.id!);
    return { job, children: [], existing: true };
  });
}

/** the answers of every run, in the bulk's order */
export function inOrder(groups: readonly BulkGroup[], answers: Submitted[][], size: number): Submitted[] {
  const out = new Array<Submitted>(size);
  groups.forEach((g, gi) => g.indexes.forEach((index, i) => (out[index] = answers[gi][i])));
  return out;
}

/** a written run's answers: its top-level jobs (a flow's parent, its children after it) */
export function madeRun(group: BulkGroup, jobs: Job[]): Submitted[] {
  let at = 0;
  return group.items.map((item) => {
    const job = jobs[at++];
    const children = 'parent' in item ? jobs.slice(at, (at += item.children.length)) : [];
    return { job, children, existing: false };
  });
}
