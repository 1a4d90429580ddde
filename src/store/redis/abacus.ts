/** The running sum (store.abacus): one atomic script, or WATCH/MULTI/EXEC on a pool of connections of its own. */
import { WatchError } from 'redis';
import {
  AbacusAddResult,
  AbacusStrategy,
  fitsInt64,
  OPTIMISTIC_MAX_ATTEMPTS,
  optimisticJitterMs,
  sumOutOfRange,
  SumConflictError,
  toAddend,
} from '../../core/abacus';
import { errorMessage } from '../../core/errors';
import { sleep } from '../../util/time';
import { clusterUnavailable } from '../cluster';
import type { AbacusStore } from '../concerns';
import type { RedisKeys } from '../keys';
import { Link } from '../link';
import type { ConnectionPool } from '../pool';
import { OUT_OF_RANGE } from './shared';
import type { RedisConn } from './conn';

export class RedisAbacus implements AbacusStore {
  private readonly keys: RedisKeys;
  private readonly key: string;
  /** the slot of the sum on a Cluster (a WATCH must go to its master), looked up at the first optimistic add */
  private slot = -1;
  /** connections of their own for the optimistic adds (a WATCH belongs to its connection) */
  private readonly watchPool: ConnectionPool<Link>;

  constructor(private readonly c: RedisConn) {
    this.keys = c.group('abacus');
    this.key = this.keys.abacus;
    this.watchPool = c.pool(c.options.watchConnections, c.cluster ? () => c.masterUrlOf(this.slot) : undefined);
  }

  async add(n: bigint | number, strategy: AbacusStrategy = 'atomic'): Promise<AbacusAddResult> {
    const addend = toAddend(n);
    if (strategy === 'optimistic') return this.addOptimistic(addend);
    const [code, sum] = await this.c.run<[number, string]>('addToSum', [addend.toString()], this.keys, true);
    if (code === OUT_OF_RANGE) throw sumOutOfRange(addend);
    return { sum: BigInt(sum), conflicts: 0 };
  }

  /** the abacus's optimistic locking: retried with jitter while the sum moves under it, then 409 */
  private async addOptimistic(n: bigint): Promise<AbacusAddResult> {
    if (this.c.cluster && this.slot < 0) this.slot = Number(await this.c.cmd(['CLUSTER', 'KEYSLOT', this.key]));
    for (let attempt = 1; attempt <= OPTIMISTIC_MAX_ATTEMPTS; attempt++) {
      if (attempt > 1) await sleep(optimisticJitterMs(attempt));
      const sum = await this.watchPool.use((d) => this.tryAddWatched(d, n));
      if (sum !== null) return { sum, conflicts: attempt - 1 };
    }
    throw new SumConflictError(OPTIMISTIC_MAX_ATTEMPTS);
  }

  /**
   * One optimistic attempt, on a connection of its own: WATCH the sum, GET it, MULTI SET sum + n
   * EXEC. Answers the new sum, or null when EXEC was aborted because the sum moved (or the
   * connection was re-made after WATCH, which node-redis also reports as a WatchError).
   */
  private async tryAddWatched(l: Link, n: bigint): Promise<bigint | null> {
    await this.c.ready(l);
    if (!l.isReady) throw this.c.unavailable(this.c.lastError || 'not connected');
    const key = this.key;
    const deadline = this.c.options.commandTimeoutMs;
    const pinned = l.client; // WATCH, GET and EXEC on one connection, or not at all
    try {
      const [, current] = await l.call((c) => Promise.all([c.watch(key), c.get(key)]), deadline, pinned); // one round trip: WATCH, then GET
      const next = BigInt(current ?? 0) + n;
      if (!fitsInt64(next)) {
        await l.call((c) => c.unwatch(), deadline, pinned);
        throw sumOutOfRange(n);
      }
      await this.c.options.betweenReadAndWrite?.();
      await l.call((c) => c.multi().set(key, next.toString()).exec(), deadline, pinned);
      if (this.c.options.durability === 'replica') await this.c.confirmedByReplica(l, pinned);
      return next;
    } catch (err) {
      if (err instanceof WatchError) return null;
      if (clusterUnavailable(err)) l.replace(pinned, errorMessage(err)); // the abacus's slot moved: WATCH on its new master
      throw this.c.classify(err);
    }
  }

  async sum(): Promise<bigint> {
    return BigInt((await this.c.cmd<string | null>(['GET', this.key])) ?? 0);
  }

  async reset(): Promise<void> {
    await this.c.cmd(['DEL', this.key]);
  }
}
