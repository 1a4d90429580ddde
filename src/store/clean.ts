/**
 * Finished jobs deleted by filter (store.dead.clean, DELETE /jobs), as BullMQ's clean: each
 * state's index is looked at oldest first, shard by shard, a bounded part a call; a cursor says
 * where the next call goes on. Both adapters run this loop; each gives the step that looks at
 * one shard's index of one state (cleanJobs.lua, and its memory twin).
 */
import { ValidationError } from '../core/errors';
import type { FinalState } from '../core/states';

export interface CleanQuery {
  /** the final states to delete jobs of, looked at in this order */
  states: readonly FinalState[];
  type?: string;
  queue?: string;
  /** the most jobs to delete */
  limit: number;
  /** where an earlier call with the same filter stopped */
  cursor?: string;
}

export interface CleanResult {
  /** the top-level jobs deleted (a prime count's chunks went with it) */
  deleted: string[];
  /** matched but kept: nodes of a flow that is still running */
  skipped: number;
  /** where to go on (null: every index was looked at to its end) */
  cursor: string | null;
}

/** what one step did: the next one starts at (from, ties) unless done (the index was looked at to its end) */
export interface CleanStep {
  deleted: string[];
  kept: number;
  looked: number;
  from: string;
  ties: number;
  done: boolean;
}

/** look at one shard's index of a state from the first entry of score `from` after `ties` kept ones of that score */
export type CleanStepFn = (
  shard: number,
  state: FinalState,
  from: string,
  ties: number,
  limit: number,
  scan: number,
) => Promise<CleanStep>;

/** the most index entries one call looks at (across states and shards), and one step */
export const CLEAN_SCAN = 5000;
const CLEAN_STEP = 1000;

/** a cursor: the state, the shard, the score ('' the start) and the kept entries of that score */
export const CLEAN_CURSOR = /^([A-Z]+)\.(\d{1,4})\.(\d{0,16})\.(\d{1,9})$/;

interface Position {
  state: number;
  shard: number;
  from: string;
  ties: number;
}

function parseCursor(cursor: string, states: readonly FinalState[]): Position {
  const m = CLEAN_CURSOR.exec(cursor);
  const state = m ? states.indexOf(m[1] as FinalState) : -1;
  if (!m || state < 0) {
    const must = 'must be a cursor an earlier call with the same status answered';
    throw new ValidationError(`cursor ${must}`, [{ field: 'cursor', message: must }]);
  }
  return { state, shard: Number(m[2]), from: m[3], ties: Number(m[4]) };
}

/** run steps until `limit` jobs are deleted, CLEAN_SCAN entries were looked at, or every index was */
export async function cleanIndexes(q: CleanQuery, shards: number, step: CleanStepFn): Promise<CleanResult> {
  const at = q.cursor ? parseCursor(q.cursor, q.states) : { state: 0, shard: 0, from: '', ties: 0 };
  const deleted: string[] = [];
  let skipped = 0;
  let looked = 0;
  const next = () =>
    Object.assign(at, at.shard + 1 < shards ? { shard: at.shard + 1 } : { state: at.state + 1, shard: 0 }, {
      from: '',
      ties: 0,
    });
  if (at.shard >= shards) next();
  while (at.state < q.states.length && deleted.length < q.limit && looked < CLEAN_SCAN) {
    const scan = Math.min(CLEAN_STEP, CLEAN_SCAN - looked);
    const r = await step(at.shard, q.states[at.state], at.from, at.ties, q.limit - deleted.length, scan);
    deleted.push(...r.deleted);
    skipped += r.kept;
    looked += r.looked;
    if (r.done) next();
    else Object.assign(at, { from: r.from, ties: r.ties });
    if (r.looked === 0 && !r.done) break;
  }
  const cursor = at.state < q.states.length ? `${q.states[at.state]}.${at.shard}.${at.from}.${at.ties}` : null;
  return { deleted, skipped, cursor };
}
