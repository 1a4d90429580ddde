/**
 * Running a long-lived role from the CLI: open the store, start, and on the first SIGTERM or
 * SIGINT close gracefully (exit 0); a second signal exits at once.
 */
import { UsageError } from '../core/errors';
import { redisTlsFromFlags, RedisTlsFlags } from './security-options';
import type { Store } from '../store/types';

export interface Closable {
  close(force?: boolean): Promise<void>;
}

export interface StoreFlags extends RedisTlsFlags {
  redis?: string;
  prefix: string;
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
