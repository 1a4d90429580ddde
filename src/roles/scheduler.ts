/**
 * `wizard scheduler`: the loop that makes the bot batches, run by one leader across the cluster.
 *
 * - Leadership is a lease in the store (holdLock: SET NX PX, renewed by the holder only, in Lua);
 *   a standby takes over within leaderLeaseMs of the leader's death, at once if it stepped down.
 * - Every populateIntervalMs the leader makes one batch. The batch is keyed by its interval slot
 *   (floor(now / interval), now being the store's time: Redis's clock, not this host's) and made with that key NX in the same script as the enqueue, so even
 *   two leaders for a moment (a paused process whose lease lapsed) cannot double a batch.
 * - That batch is the built-in schedule `seed-batch` (core/schedule.ts); the schedules kept in the
 *   store (POST /schedules) are made the same way, each slot once, with a once-key per
 *   (schedule, slot); their jobs carry the schedule's name and the slot. A schedule of type
 *   primes makes one prime count (a parent and its chunks) per slot, under the same once-key.
 * - It marks bots silent for botDownAfterMs down and puts their jobs back (store.bots.markDown), reaps
 *   lapsed leases on every queue the cluster knows, and prunes the datalake to its retention.
 * - With datalakeDir, the leader drains the datalake's buffers into the day files there
 *   (datalake/drain.ts): its lease makes it the one drainer.
 * - The store going away (or out of memory) is logged once ("lost the store") and its return once;
 *   ticks fail fast meanwhile and the leader resumes by itself.
 * - close() steps down (releases the lease) so a standby leads at once; close(true) just stops.
 */
import type { BatchSpec } from '../core/batch';
import {
  catchUpMs,
  dueSlots,
  makeSchedule,
  occurrenceWork,
  Schedule,
  SEED_BATCH,
  slotKey,
  slotKeyTtl,
} from '../core/schedule';
import { errorMessage } from '../core/errors';
import { roleStamp } from '../store/format';
import type { Store } from '../store/types';
import { createLogger, Logger } from '../util/log';
import { storeOutage } from './store-outage';
import { DEFAULTS } from '../core/defaults';
import { lakeFiles, startDrainer } from './datalake/drain';

export interface SchedulerOptions {
  nodeId: string;
  populateIntervalMs: number;
  batch: BatchSpec;
  botDownAfterMs: number;
  /** how long a leader's lease lasts without renewal */
  leaderLeaseMs: number;
  log: Logger;
  /** --datalake-dir: the leader drains the datalake into day files under it; unset: it does not drain */
  datalakeDir?: string;
}

export const SCHEDULER_DEFAULTS = {
  populateIntervalMs: DEFAULTS.populateIntervalMs,
  botDownAfterMs: DEFAULTS.botDownAfterMs,
  leaderLeaseMs: DEFAULTS.leaderLeaseMs,
};

export const LEADER_LOCK = 'scheduler';

export interface RunningScheduler {
  readonly nodeId: string;
  isLeader(): boolean;
  /** batches this scheduler made */
  batches(): number;
  close(force?: boolean): Promise<void>;
}

export function validateSchedulerOptions(o: SchedulerOptions): void {
  for (const k of ['populateIntervalMs', 'botDownAfterMs', 'leaderLeaseMs'] as const) {
    if (!Number.isInteger(o[k]) || o[k] < 1) throw new Error(`options.${k} must be a positive integer`);
  }
  if (!Number.isInteger(o.batch.size) || o.batch.size < 1)
    throw new Error('options.batch.size must be a positive integer');
}

/** the slot of a time: one batch per slot */
export const slotOf = (now: number, intervalMs: number): number => Math.floor(now / intervalMs);

export function startScheduler(
  store: Store,
  options: Partial<SchedulerOptions> & { nodeId: string; batch: BatchSpec },
): RunningScheduler {
  const o: SchedulerOptions = {
    ...SCHEDULER_DEFAULTS,
    log: createLogger({ role: 'scheduler', node_id: options.nodeId }),
    ...options,
  };
  validateSchedulerOptions(o);
  const log = o.log;
  const outage = storeOutage(log, store.location);
  // tick often enough to renew the lease (a third of it) and to catch each slot early
  const tickMs = Math.max(50, Math.min(1000, Math.floor(o.leaderLeaseMs / 3), Math.floor(o.populateIntervalMs / 4)));
  let leader: boolean | null = null;
  let made = 0;
  let stopping = false;
  let ticking: Promise<void> | null = null;

  const windowMs = catchUpMs(o.leaderLeaseMs);
  /** the bot batch, as a schedule of this scheduler's settings */
  const seedBatch = makeSchedule(SEED_BATCH, o.batch, { every_ms: o.populateIntervalMs }, 0, true);
  /** per schedule, the newest slot this scheduler saw made (by it or another): older ones are not asked again */
  const seen = new Map<string, number>();
  let seedListed = false;

  /** one occurrence of a schedule, made once across the cluster (the once-key in the enqueue's step) */
  const occur = async (s: Schedule, slot: number) => {
    const at = new Date(slot).toISOString();
    const jobs = await store.schedules.enqueue(
      s.name,
      at,
      slotKey(s, slot),
      slotKeyTtl(s, windowMs, o.leaderLeaseMs),
      occurrenceWork(s, at, o.nodeId),
    );
    seen.set(s.name, slot);
    if (!jobs) return;
    if (s.builtin) {
      made++;
      log.info('batch created', { batch: at, jobs: jobs.length, type: s.type, queue: s.queue });
    } else {
      log.info('schedule occurrence made', {
        schedule: s.name,
        slot: at,
        jobs: jobs.length,
        type: s.type,
        queue: s.queue,
      });
    }
  };

  /** now: the store's time (Redis's), so every scheduler, leader or standby, sees the same slots */
  const populate = async (now: number) => {
    const stored = (await store.schedules.list()).filter((s) => !s.builtin);
    for (const s of [seedBatch, ...stored]) {
      for (const slot of dueSlots(s, now, windowMs)) {
        if (slot > (seen.get(s.name) ?? -Infinity)) await occur(s, slot);
      }
    }
  };

  const housekeeping = async () => {
    const { down, reclaimed } = await store.bots.markDown(o.botDownAfterMs);
    if (down.length) log.warn('bots marked down', { bots: down, jobs_requeued: reclaimed });
    for (const queue of await store.queues.known()) {
      const { requeued, dead } = await store.jobs.reap(queue);
      if (requeued.length || dead.length)
        log.info('reclaimed lapsed leases', { queue, requeued: requeued.length, dead: dead.length });
    }
    const delivered = await store.flows.recover(DEFAULTS.flowOutboxGraceMs);
    if (delivered) log.info('delivered flow steps left undelivered', { entries: delivered });
    const pruned = await store.lake.prune();
    if (pruned.length) log.info('datalake days dropped', { days: pruned });
  };

  const tick = async () => {
    try {
      const was = leader;
      leader = await store.nodes.holdLock(LEADER_LOCK, o.nodeId, o.leaderLeaseMs);
      if (leader !== was)
        log.info(leader ? 'leading: this scheduler makes the batches' : 'standing by: another scheduler leads');
      // GET /schedules lists seed-batch as this leader makes it (kept again after an outage, not on every tick)
      if (!leader) seedListed = false;
      else if (!seedListed && !stopping) seedListed = await store.schedules.save(seedBatch, true).catch(() => false);
      if (!leader) outage.ok();
      const now = await store.server.time(); // Redis's clock: the slots are its, and so is when the next one is due
      void store.nodes
        .heartbeat('scheduler', o.nodeId, o.leaderLeaseMs, {
          ...roleStamp(),
          leader,
          pid: process.pid,
          interval_ms: o.populateIntervalMs,
          next_batch_at: (slotOf(now, o.populateIntervalMs) + 1) * o.populateIntervalMs,
          batches: made,
        })
        .catch(() => undefined);
      if (!leader || stopping) return;
      await populate(now);
      await housekeeping();
      outage.ok();
    } catch (err) {
      if (!outage.failed(err)) log.warn('scheduler tick failed: retrying next tick', { error: errorMessage(err) });
    }
  };

  /** one tick at a time: a slow store skips ticks rather than piling them up */
  const run = () => {
    ticking ??= tick().finally(() => (ticking = null));
  };
  const timer = setInterval(run, tickMs);
  run();
  const drainer = o.datalakeDir
    ? startDrainer(store, lakeFiles(store, o.datalakeDir), {
        intervalMs: DEFAULTS.datalakeDrainMs,
        log,
        active: () => leader === true && !stopping,
      })
    : null;
  log.info('scheduler started', {
    interval_ms: o.populateIntervalMs,
    batch_size: o.batch.size,
    type: o.batch.type,
    queue: o.batch.queue,
    store: store.location,
  });

  return {
    nodeId: o.nodeId,
    isLeader: () => leader === true,
    batches: () => made,
    async close(force = false) {
      if (stopping) return;
      stopping = true;
      clearInterval(timer);
      if (force) return;
      await Promise.all([ticking, drainer?.close()]);
      if (leader) await store.nodes.releaseLock(LEADER_LOCK, o.nodeId).catch(() => undefined);
      await store.nodes.remove('scheduler', o.nodeId).catch(() => undefined);
      log.info('scheduler stopped', { batches: made });
    },
  };
}
