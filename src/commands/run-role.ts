/**
 * Running a long-lived role from the CLI: open the store, start, and on the first SIGTERM or
 * SIGINT close gracefully (exit 0); a second signal exits at once.
 */
import { StoreUnavailableError, UsageError } from '../core/errors';
import { retryDelay, sleep } from '../util/time';
import { redisTlsFromFlags, RedisTlsFlags } from './security-options';
import type { Store } from '../store/types';
import { createLogger } from '../util/log';
import { defaultNodeId } from './options';

export interface Closable {
  close(force?: boolean): Promise<void>;
}

export interface StoreFlags extends RedisTlsFlags {
  redis?: string;
  prefix: string;
  nodeId?: string;
  resultTtlMs?: number;
  eventRetentionMs?: number;
}

export async function storeFromFlags(flags: StoreFlags): Promise<Store> {
  const { redis, prefix, resultTtlMs, eventRetentionMs } = flags;
  const redisTls = redisTlsFromFlags(flags);
  if (redisTls && !redis?.startsWith('rediss://')) throw new UsageError('--redis-ca, --redis-cert and --redis-key need a rediss:// --redis URL');
  const { openStore } = await import('../store'); // the Redis client loads when a role runs
  return openStore({ redisUrl: redis, redisTls, prefix, ...(resultTtlMs ? { resultTtlMs } : {}), ...(eventRetentionMs ? { eventRetentionMs } : {}) });
}

/**
 * a role's store: opened, and its prefix joined (src/store/format.ts). It logs which Redis and
 * prefix this role joined and whether they were new; a prefix of a newer or incompatible
 * format is a UsageError (exit 2). A Redis that is away at start is waited for.
 */
export async function roleStore(flags: StoreFlags, role: string): Promise<Store> {
  const store = await storeFromFlags(flags);
  const { joinedLine, joinPrefix } = await import('../store/format');
  const log = createLogger({ role, node_id: flags.nodeId ?? defaultNodeId() });
  try {
    // a Redis that is away at start is waited for, as a running role waits for it
    for (let failures = 0; ; failures++) {
      try {
        const line = joinedLine(store, flags.prefix, await joinPrefix(store));
        if (line) log.info(line.msg, line.fields);
        return store;
      } catch (err) {
        if (!(err instanceof StoreUnavailableError)) throw err;
        if (failures === 0) log.warn('store unavailable: waiting for it to join the prefix', { store: store.location, error: err.message });
        await sleep(retryDelay(failures));
      }
    }
  } catch (err) {
    await store.close();
    throw err;
  }
}

/** (store null: a role with no store of its own, a bot) */
export function untilSignal(store: Store | null, parts: Closable[]): Promise<void> {
  return new Promise((resolve) => {
    let closing = false;
    const onSignal = () => {
      if (closing) process.exit(130);
      closing = true;
      void (async () => {
        for (const p of parts) await p.close().catch(() => undefined);
        await store?.close();
        resolve();
        // anything still holding the event loop (a slow socket) must not keep a stopped role alive
        setTimeout(() => process.exit(0), 200).unref();
      })();
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
