/**
 * A role's eye on Redis's eviction policy (src/core/eviction.ts). At start, before the role
 * writes anything: a policy that can evict is an error (UsageError: exit 2, one line naming the
 * policy and the fix) unless --allow-eviction accepts it, then a warning; a Redis that hides its
 * policy is a warning. While the role runs, the policy and INFO stats' evicted_keys are read again
 * every `everyMs` (two INFO calls per Redis): a change of policy is logged, a policy that evicts
 * is warned of again every `warnEveryMs`, and keys that Redis did evict are logged with how many.
 * The in-memory store has no policy: nothing to watch.
 */
import { UsageError, errorMessage } from '../core/errors';
import { evictingMessage, evictionVerdict, hiddenMessage } from '../core/eviction';
import type { Store } from '../store/types';
import type { Logger } from '../util/log';

export interface EvictionWatchOptions {
  /** --allow-eviction: a policy that evicts is a warning, not an error */
  allow: boolean;
  log: Logger;
  /** how often the policy and the evicted keys are read again (ms) */
  everyMs?: number;
  /** how often a policy that evicts is warned of again (ms) */
  warnEveryMs?: number;
}

export const EVICTION_WATCH_DEFAULTS = { everyMs: 60_000, warnEveryMs: 3_600_000 };

export interface EvictionWatch {
  close(): Promise<void>;
}

/** what the UsageError adds to the message: how to accept the policy instead */
const ACCEPT_HINT = ', or start with --allow-eviction (WIZARD_ALLOW_EVICTION=yes) to accept that';

/**
 * check the store's eviction policy now (throws UsageError for one that evicts, unless allowed;
 * a store that is away throws as any call does) and keep watching it
 */
export async function watchEviction(store: Store, options: EvictionWatchOptions): Promise<EvictionWatch> {
  const o = { ...EVICTION_WATCH_DEFAULTS, ...options };
  const { log } = o;
  const first = await store.server.eviction();
  if (first.nodes.length === 0) return { close: async () => undefined };
  const judge = (nodes: typeof first.nodes, single: boolean) => {
    const { evicting, hidden } = evictionVerdict(nodes);
    return {
      evicting: evicting.length > 0 ? evictingMessage(evicting, single) : null,
      hidden: hidden.length > 0 ? hiddenMessage(hidden, single) : null,
    };
  };
  let seen = judge(first.nodes, first.single);
  if (seen.evicting && !o.allow) throw new UsageError(seen.evicting + ACCEPT_HINT);
  if (seen.evicting) log.warn(`${seen.evicting} (--allow-eviction: running anyway)`);
  if (seen.hidden) log.warn(seen.hidden);
  let warnedAt = Date.now(); // durations of this process's own: nothing here is compared across hosts
  let evicted = first.evictedKeys;

  let looking = false;
  const look = async () => {
    if (looking) return;
    looking = true;
    try {
      const now = await store.server.eviction();
      const verdict = judge(now.nodes, now.single);
      if (verdict.evicting !== seen.evicting) {
        if (verdict.evicting) log.warn(`${verdict.evicting} (the policy changed while this role runs)`);
        else log.info('Redis no longer evicts keys: maxmemory-policy noeviction');
        warnedAt = Date.now();
      } else if (verdict.evicting && Date.now() - warnedAt >= o.warnEveryMs) {
        log.warn(verdict.evicting);
        warnedAt = Date.now();
      }
      if (verdict.hidden && verdict.hidden !== seen.hidden) log.warn(verdict.hidden);
      seen = verdict;
      // a Redis that restarted counts from 0 again: only a rise is an eviction
      if (now.evictedKeys > evicted)
        log.warn('Redis evicted keys: jobs, leases or counters may be gone', {
          evicted: now.evictedKeys - evicted,
          evicted_keys: now.evictedKeys,
        });
      evicted = now.evictedKeys;
    } catch (err) {
      log.debug('eviction check failed: trying again later', { error: errorMessage(err) }); // an outage is the role's own loops' to report
    } finally {
      looking = false;
    }
  };
  const timer = setInterval(() => void look(), o.everyMs);
  timer.unref();
  return {
    async close() {
      clearInterval(timer);
    },
  };
}
