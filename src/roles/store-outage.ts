/**
 * A role's word on its store: "lost the store" once when its calls start failing for a store
 * condition (unreachable, no answer in time, out of memory), "store is back" once when a call
 * that needs it succeeds again. One per process role, shared by all its loops (lanes, renewals,
 * heartbeats, the reaper), so an outage is two lines in the log, not one per loop and per retry.
 */
import { errorMessage, StoreCondition, StoreUnavailableError, UnreachableError } from '../core/errors';
import type { Logger } from '../util/log';

export interface StoreOutage {
  /** a call failed: true when it was for a store condition (then it is logged, once per outage) */
  failed(err: unknown): boolean;
  /** a call that needs the store succeeded */
  ok(): void;
  /** the outage going on, or null */
  readonly condition: StoreCondition | null;
}

/** a store condition, seen directly (StoreUnavailableError) or through the API (a 503 naming it) */
export function storeCondition(err: unknown): StoreCondition | null {
  if (err instanceof StoreUnavailableError) return err.reason;
  if (err instanceof UnreachableError) return err.store;
  return null;
}

/** onBack: called once when an outage ends (a worker renews its leases then) */
export function storeOutage(log: Logger, store: string, onBack?: () => void): StoreOutage {
  let condition: StoreCondition | null = null;
  return {
    failed(err) {
      const c = storeCondition(err);
      if (c === null) return false;
      if (condition === null)
        log.warn('lost the store: backing off until it is back', { store, reason: c, error: errorMessage(err) });
      condition ??= c;
      return true;
    },
    ok() {
      if (condition === null) return;
      condition = null;
      log.info('store is back: resuming', { store });
      onBack?.();
    },
    get condition() {
      return condition;
    },
  };
}
