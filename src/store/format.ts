/**
 * The format version of a prefix: the key `{prefix}:format`, written by the first role that
 * joins an empty prefix. A role joining a prefix of the previous release's format (ROLLING_FORMAT)
 * leaves it so, as roles of that release may still run on it; one of a format before it this
 * code migrates (in one atomic step, joinFormat.lua) to FORMAT_VERSION; one written by a newer or
 * an incompatible wizard stops the role (exit 2) before it touches anything. `wizard upgrade finish` (src/store/upgrade.ts) takes a prefix on to FORMAT_VERSION
 * once no older role is alive, and the roles of this version running on it see that (watchFormat).
 *   1  before formats were versioned (no format key, but wizard data under the prefix)
 *   2  queued PENDING and STARTED jobs are counted ({prefix}:counts), not in the state indexes
 *   3  CPU jobs (a prime chunk, a `cpu: true` type) may wait in their queue's CPU lists
 *      (`q:<queue>:cpuwait`), which a worker of format 2 never reads: until then this version
 *      puts them in the ordinary lists, as the previous release does (RedisStore.cpuLists); and a
 *      new job's record leaves out `queue` and `max_attempts` when they hold wire.ts's OMITTED
 *      values, which a worker of format 2 reads as missing (until then records are written whole),
 *      and such a record of a job with no options also its `state` while it is PENDING (a record
 *      with `created_at` and no state is PENDING: lib.lua's stateOf, codec.ts's stateOfRecord)
 * The in-memory store is always new.
 */
import fs from 'node:fs';
import { UsageError } from '../core/errors';
import { COUNTED_NOT_INDEXED_LIST } from '../core/states';
import { assetPath, packageVersion } from '../util/package-root';
import type { Logger } from '../util/log';
import type { RedisStore } from './redis';
import type { Store } from './types';

/** the newest format this code reads and writes: what an empty prefix gets */
export const FORMAT_VERSION = 3;
/** the previous release's format: a prefix there stays there until `wizard upgrade finish` */
export const ROLLING_FORMAT = 2;
/** the oldest format it migrates from */
export const OLDEST_MIGRATED_FORMAT = 1;
/** the first format with the CPU lists */
const CPU_LISTS_FORMAT = 3;
/** how often a role on a prefix below FORMAT_VERSION looks whether an upgrade was finished */
export const FORMAT_WATCH_MS = 5_000;

/**
 * what every role of this version says of itself in its heartbeat (src/store/upgrade.ts reads
 * it): its version and the newest format it reads. The versions before this one say neither.
 */
export const roleStamp = (): { version: string; format: number } => ({
  version: packageVersion(),
  format: FORMAT_VERSION,
});

export interface JoinedPrefix {
  /** the prefix was empty (or the store is in memory) */
  created: boolean;
  /** the format the prefix had when this role came (null when it was empty) */
  found: number | null;
  /** the format it has now */
  format: number;
  /** the format migrated from, or null when nothing was migrated */
  migratedFrom: number | null;
  /** queued jobs the migration moved from the state indexes to the counters */
  moved: number;
}

type Outcome = 'new' | 'same' | 'migrated' | 'newer' | 'incompatible';

let source: string | null = null;

/** the prefix's format key as it is (null: none; '2>3' while an upgrade is being finished) */
export const readFormat = (redis: RedisStore): Promise<string | null> =>
  redis.evalOnce<string | null>("return redis.call('GET', KEYS[1])", [redis.keys.format], []);

/** join the store's prefix: write its format, migrate it, or refuse it (UsageError) */
export async function joinPrefix(store: Store): Promise<JoinedPrefix> {
  if (store.kind === 'memory')
    return { created: true, found: null, format: FORMAT_VERSION, migratedFrom: null, moved: 0 };
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
  const [found, outcome, moved, now] = await redis.evalOnce<[string, Outcome, number, number]>(
    source,
    [k.base, k.format, k.counts, ...COUNTED_NOT_INDEXED_LIST.map((s) => k.state(s)), ...dataKeys],
    [FORMAT_VERSION, OLDEST_MIGRATED_FORMAT, ROLLING_FORMAT],
  );
  const where = `prefix '${redis.options.prefix}' at ${redis.location}`;
  if (outcome === 'newer')
    throw new UsageError(
      `${where} has format ${found}, newer than this wizard's ${FORMAT_VERSION}: upgrade wizard (docs/operations.md: Upgrading: roll it)`,
    );
  if (outcome === 'incompatible')
    throw new UsageError(
      `${where} has format '${found}', which this wizard cannot read or migrate (it knows ${OLDEST_MIGRATED_FORMAT} to ${FORMAT_VERSION}): use another --prefix`,
    );
  const version = found === '' ? null : Number(/^\d+/.exec(found)?.[0]); // an upgrade being finished ('2>3') reads as its 'from'
  redis.cpuLists = Number(now) >= CPU_LISTS_FORMAT;
  return {
    created: outcome === 'new',
    found: version,
    format: Number(now),
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
  const fields = { redis: store.location, prefix, format: j.format, new: j.created };
  if (j.created) return { msg: `joined a new prefix '${prefix}' at ${store.location}`, fields };
  if (j.migratedFrom !== null) {
    return {
      msg: `joined prefix '${prefix}' at ${store.location}, migrated from format ${j.migratedFrom} to ${j.format}`,
      fields: { ...fields, migrated_from: j.migratedFrom, moved: j.moved },
    };
  }
  const rolling =
    j.format < FORMAT_VERSION
      ? `; older roles may run beside it until \`wizard upgrade finish\` takes it to ${FORMAT_VERSION}`
      : '';
  return { msg: `joined prefix '${prefix}' at ${store.location} (format ${j.format}, not new${rolling})`, fields };
}

/**
 * a role on a prefix below FORMAT_VERSION (an upgrade not finished) looks every FORMAT_WATCH_MS
 * whether `wizard upgrade finish` took it on, and from then writes what that format adds (the
 * CPU lists). Until it sees it, it writes what older roles read, which this version reads too.
 */
export function watchFormat(store: Store, log: Logger, everyMs = FORMAT_WATCH_MS): { close(): Promise<void> } {
  const redis = store as RedisStore;
  if (store.kind === 'memory' || redis.cpuLists) return { close: async () => undefined };
  const timer = setInterval(() => {
    void readFormat(redis).then(
      (found) => {
        const format = Number(found);
        if (!(format >= CPU_LISTS_FORMAT) || redis.cpuLists) return;
        redis.cpuLists = true;
        clearInterval(timer);
        log.info(`the prefix is at format ${format} now: CPU jobs wait in their queue's CPU lists`, { format });
      },
      () => undefined, // the store is away: the next look
    );
  }, everyMs);
  timer.unref();
  return { close: async () => clearInterval(timer) };
}
