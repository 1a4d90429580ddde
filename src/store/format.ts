/**
 * The format version of a prefix: the key `{prefix}:format`, written by the first role that
 * joins an empty prefix. A role joining a prefix of an older format this code knows migrates it
 * (in one atomic step, joinFormat.lua); one written by a newer or an incompatible wizard stops
 * the role (exit 2) before it touches anything.
 *   1  before formats were versioned (no format key, but wizard data under the prefix)
 *   2  queued PENDING and STARTED jobs are counted ({prefix}:counts), not in the state indexes
 * The in-memory store is always new.
 */
import fs from 'node:fs';
import { UsageError } from '../core/errors';
import { COUNTED_NOT_INDEXED_LIST } from '../core/states';
import { assetPath } from '../util/package-root';
import type { RedisStore } from './redis';
import type { Store } from './types';

/** the format this code writes */
export const FORMAT_VERSION = 2;
/** the oldest format it migrates from */
export const OLDEST_MIGRATED_FORMAT = 1;

export interface JoinedPrefix {
  /** the prefix was empty (or the store is in memory) */
  created: boolean;
  /** the format the prefix had when this role came (null when it was empty) */
  found: number | null;
  /** the format migrated from, or null when nothing was migrated */
  migratedFrom: number | null;
  /** queued jobs the migration moved from the state indexes to the counters */
  moved: number;
}

type Outcome = 'new' | 'same' | 'migrated' | 'newer' | 'incompatible';

let source: string | null = null;

/** join the store's prefix: write its format, migrate it, or refuse it (UsageError) */
export async function joinPrefix(store: Store): Promise<JoinedPrefix> {
  if (store.kind === 'memory') return { created: true, found: null, migratedFrom: null, moved: 0 };
  const redis = store as RedisStore;
  const k = redis.keys;
  // on a Cluster one script sees one slot: shard 0's keys (the format is the whole prefix's; a
  // Cluster's prefixes are all of this format, which came before Cluster support)
  // (not the config: a role writes its shard layout there as it connects, before it joins)
  const dataKeys = [
    k.jobs,
    k.queues,
    k.bots,
    k.abacus,
    k.counts,
    k.dlq,
    k.events,
    k.lakeDays,
    k.nodes('api'),
    k.nodes('worker'),
    k.nodes('scheduler'),
  ].filter((key) => !redis.cluster || key.startsWith(k.base));
  source ??= fs.readFileSync(assetPath('src', 'store', 'lua', 'joinFormat.lua'), 'utf8');
  const [found, outcome, moved] = await redis.evalOnce<[string, Outcome, number]>(
    source,
    [k.base, k.format, k.counts, ...COUNTED_NOT_INDEXED_LIST.map((s) => k.state(s)), ...dataKeys],
    [FORMAT_VERSION, OLDEST_MIGRATED_FORMAT],
  );
  const where = `prefix '${redis.options.prefix}' at ${redis.location}`;
  if (outcome === 'newer')
    throw new UsageError(
      `${where} has format ${found}, newer than this wizard's ${FORMAT_VERSION}: upgrade wizard (README: Format versions and upgrading)`,
    );
  if (outcome === 'incompatible')
    throw new UsageError(
      `${where} has format '${found}', which this wizard cannot migrate (it migrates ${OLDEST_MIGRATED_FORMAT} to ${FORMAT_VERSION}): use another --prefix`,
    );
  const version = found === '' ? null : Number(found);
  return {
    created: outcome === 'new',
    found: version,
    migratedFrom: outcome === 'migrated' ? version : null,
    moved: Number(moved),
  };
}

/**
 * the log line of a role that joined: which Redis and prefix, and whether they were new (null
 * for the in-memory store: always new, and `wizard up` says so on its first line)
 */
export function joinedLine(
  store: Store,
  prefix: string,
  j: JoinedPrefix,
): { msg: string; fields: Record<string, unknown> } | null {
  if (store.kind === 'memory') return null;
  const fields = { redis: store.location, prefix, format: FORMAT_VERSION, new: j.created };
  if (j.created) return { msg: `joined a new prefix '${prefix}' at ${store.location}`, fields };
  if (j.migratedFrom !== null) {
    return {
      msg: `joined prefix '${prefix}' at ${store.location}, migrated from format ${j.migratedFrom} to ${FORMAT_VERSION}`,
      fields: { ...fields, migrated_from: j.migratedFrom, moved: j.moved },
    };
  }
  return { msg: `joined prefix '${prefix}' at ${store.location} (format ${FORMAT_VERSION}, not new)`, fields };
}
