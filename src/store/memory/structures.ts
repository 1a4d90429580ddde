/** The memory adapter's Redis-shaped data (a hash, a sorted set, a queue's keys) and the commands it needs on them. */
import { DEFAULT_PRIORITY } from '../../core/job';
import type { Rate } from '../concerns';
import { COUNTED_NOT_INDEXED as COUNTED_STATES, FINAL_STATES, HELD_STATES, RUNNABLE_STATES } from '../../core/states';

/** a job record: hash field → value, the fields the Lua scripts write and no other (one they leave out is absent) */
export type Rec = Record<string, string>;
/** a sorted set: member → score */
export type ZSet = Map<string, number>;
export type Waiter = (woken: boolean) => void;
export type StreamId = [ms: number, seq: number];

export interface Queue {
  waits: string[][]; // per priority 0..9, ids ready to run; [0] is the head (claimed next)
  cpuWaits: string[][]; // the CPU lists (a record with cpu '1'), the same way
  paused: boolean;
  active: ZSet; // held id → lease deadline
  delayed: ZSet; // RETRY id → when it may run again
  marker: boolean; // the marker zset's one member: a pending wake-up
  cpuMarker: boolean; // the CPU lists'
  waiters: Waiter[]; // consumers blocked in waitForWork for ordinary work, first come first woken
  cpuWaiters: Waiter[]; // those blocked for CPU work (one waiting for both is in both)
  /** per kind ('' ordinary, '1' CPU): the ring of groups with waiting jobs and each group's waiting jobs (K.groups, K.groupWait) */
  lanes: Record<string, GroupLane>;
  groupHeld: Map<string, string>; // held grouped job id → its group
  groupRunning: Map<string, number>; // group → how many of its jobs are held
  flow: QueueLimits | null; // the limits (K.flow), null when none is set
  heldBack: number;
  heldBackRate: number; // K.heldBackRate
  rateLogs: Map<string, number[]>; // K.rateLog ('') and K.groupRateLog (the group): start times in the window, oldest first
}

/** a kind's groups: the ring (its head takes the next turn) and each group's waiting ids per priority, [0] the head */
export interface GroupLane {
  ring: string[];
  waits: Map<string, string[][]>;
}

/** a queue's limits as K.flow keeps them (docs/flow-control.md) */
export interface QueueLimits {
  concurrency: number | null;
  groupConcurrency: number | null;
  /** one group's own concurrency, overriding groupConcurrency */
  groups: Map<string, number>;
  rate: Rate | null;
  groupRate: Rate | null;
  /** one group's own rate, overriding groupRate */
  groupRates: Map<string, Rate>;
  /** until when the queue ('') or a group starts nothing (a handler's rate_limited: K.flow's hold, hold:<group>) */
  holds: Map<string, number>;
}

/** a queue's limits with none set */
export const noLimits = (): QueueLimits => ({
  concurrency: null,
  groupConcurrency: null,
  groups: new Map(),
  rate: null,
  groupRate: null,
  groupRates: new Map(),
  holds: new Map(),
});

/** no limit left in them: K.flow would be deleted */
export const noneSet = (f: QueueLimits): boolean =>
  f.concurrency === null &&
  f.groupConcurrency === null &&
  f.groups.size === 0 &&
  f.rate === null &&
  f.groupRate === null &&
  f.groupRates.size === 0 &&
  f.holds.size === 0;

/**
 * lib-queue.lua's rateRoom: how many more may start now under `rate` (its log trimmed to the
 * window), and when none may, when one may again
 */
export function rateRoom(log: number[], rate: Rate, now: number): { room: number; at: number | null } {
  while (log.length > 0 && log[0] <= now - rate.perMs) log.shift();
  if (log.length < rate.max) return { room: rate.max - log.length, at: null };
  return { room: 0, at: log[log.length - rate.max] + rate.perMs };
}

/** a reaper hash (lib-state.lua's reapableUpTo): its last look, the grace after a gap, the lease it reaps by */
export interface Reaper {
  at: number | null;
  gapFrom: number;
  graceUntil: number | null;
  leaseMs: number | null;
}

/** src/core/states.ts's sets, read with a record's state (a string) */
export const RUNNABLE: ReadonlySet<string> = RUNNABLE_STATES;
export const HELD: ReadonlySet<string> = HELD_STATES;
export const FINAL: ReadonlySet<string> = FINAL_STATES;
/** a queued top-level job in these states is only counted (its queue holds it) */
export const COUNTED_NOT_INDEXED: ReadonlySet<string> = COUNTED_STATES;

/** a record's priority (its field is '' for the default) */
export const priorityOf = (rec: Rec): number => (rec.priority ? Number(rec.priority) : DEFAULT_PRIORITY);
/** the wait lists of a job's kind (lib-state.lua's waitListOf): the CPU lists for a record with cpu '1' */
export const waitsOf = (q: Queue, rec: { cpu?: string } | undefined): string[][] =>
  rec?.cpu === '1' ? q.cpuWaits : q.waits;
/** lib-state.lua's pushGrouped: a grouped job waits in its group's lists, and the group joins the ring if it had none */
export function pushGrouped(q: Queue, id: string, rec: Rec, head: boolean): void {
  const lane = q.lanes[rec.cpu === '1' ? '1' : ''];
  const waits = getOr(lane.waits, rec.group, () => Array.from({ length: 10 }, (): string[] => []));
  if (waitingInLists(waits) === 0) lane.ring.push(rec.group);
  if (head) waits[priorityOf(rec)].unshift(id);
  else waits[priorityOf(rec)].push(id);
}
/** every grouped job waiting in a queue */
export const groupedWaiting = (q: Queue): string[] =>
  Object.values(q.lanes).flatMap((lane) => [...lane.waits.values()].flatMap((w) => w.flat()));
export const waitingInLists = (waits: string[][]): number => waits.reduce((n, w) => n + w.length, 0);
export const waitingIn = (q: Queue): number =>
  waitingInLists(q.waits) + waitingInLists(q.cpuWaits) + groupedWaiting(q).length;
export const MAX_EVENTS = 100_000; // XADD MAXLEN
export const MAX_TIMER_MS = 2 ** 31 - 1;

export function getOr<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let v = map.get(key);
  if (v === undefined) map.set(key, (v = make()));
  return v;
}

/** ZRANGE order: by score, then by member */
export function zsorted(entries: Iterable<[string, number]>): [string, number][] {
  return [...entries].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

/** ZRANGEBYSCORE z -inf max LIMIT 0 limit (a negative limit: all) */
export function zrangeByScore(z: ZSet, max: number, limit: number): string[] {
  const ids = zsorted([...z].filter(([, score]) => score <= max)).map(([id]) => id);
  return limit < 0 ? ids : ids.slice(0, limit);
}

/** ZRANGE z start stop REV, with Redis's index rules (negative counts from the end) */
export function zrangeRev(z: ZSet, start: number, stop: number): string[] {
  start = Math.max(start < 0 ? start + z.size : start, 0);
  stop = stop < 0 ? stop + z.size : stop;
  if (start > stop || start >= z.size) return [];
  return zsorted(z)
    .reverse()
    .slice(start, stop + 1)
    .map(([id]) => id);
}

/** a stream id "<ms>-<seq>" (or "<ms>": seq 0) */
export function parseId(id: string): StreamId {
  const [ms, seq] = id.split('-');
  return [Number(ms), Number(seq ?? 0)];
}
export const idAfter = (a: StreamId, b: StreamId) => a[0] > b[0] || (a[0] === b[0] && a[1] > b[1]);

/** Redis's used_memory_human format: 1023B, 1.50K, 12.34M, ... */
export function bytesToHuman(n: number): string {
  let i = 0;
  while (i < 5 && n >= 1024 ** (i + 1)) i++;
  return i === 0 ? `${n}B` : `${(n / 1024 ** i).toFixed(2)}${'BKMGTP'[i]}`;
}
