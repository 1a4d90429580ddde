/**
 * The abacus contract (seed 003): both adapters, both strategies. The sum is exact over the whole
 * signed 64-bit range, an add past a bound changes nothing, and no concurrent add is lost.
 */
import {
  ABACUS_STRATEGIES,
  INT64_MAX,
  INT64_MIN,
  OPTIMISTIC_MAX_ATTEMPTS,
  SumConflictError,
} from '../../src/core/abacus';
import { UnprocessableError, ValidationError } from '../../src/core/errors';
import { RedisStore } from '../../src/store/redis';
import type { Store } from '../../src/store/types';
import { testPrefix, testRedisUrl } from '../helpers/env';
import { ADAPTERS, makeStore } from '../helpers/stores';

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const randomAddend = () => Math.round((Math.random() * 2 - 1) * 1e12);

describe.each(ADAPTERS)('abacus contract: %s', (adapter) => {
  let store: Store;

  beforeEach(async () => {
    store = await makeStore(adapter, 'abacus');
  });
  afterEach(async () => {
    await store.close();
  });

  describe.each(ABACUS_STRATEGIES)('strategy %s', (strategy) => {
    test('the sum starts at 0, each add answers the sum after it, reset brings it back to 0', async () => {
      expect(await store.abacus.sum()).toBe(0n);
      expect(await store.abacus.add(42, strategy)).toEqual({ sum: 42n, conflicts: 0 });
      expect(await store.abacus.add(-50n, strategy)).toEqual({ sum: -8n, conflicts: 0 });
      expect(await store.abacus.sum()).toBe(-8n);
      await store.abacus.reset();
      expect(await store.abacus.sum()).toBe(0n);
      expect((await store.abacus.add(7, strategy)).sum).toBe(7n);
    });

    test('the sum stays exact beyond 2^53', async () => {
      await store.abacus.add(Number.MAX_SAFE_INTEGER, strategy);
      await store.abacus.add(Number.MAX_SAFE_INTEGER, strategy);
      expect((await store.abacus.add(3, strategy)).sum).toBe(2n * MAX_SAFE + 3n);
      expect(await store.abacus.sum()).toBe(18014398509481985n);
    });

    test('the sum may reach 2^63-1 exactly; one more is refused with 422 and changes nothing', async () => {
      await store.abacus.add(INT64_MAX - 5n, strategy);
      expect((await store.abacus.add(5, strategy)).sum).toBe(INT64_MAX);
      const err = await store.abacus.add(1, strategy).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UnprocessableError);
      expect(err).toMatchObject({
        code: 'unprocessable',
        message: expect.stringContaining('above 9223372036854775807'),
      });
      expect(await store.abacus.sum()).toBe(INT64_MAX);
      expect((await store.abacus.add(-1, strategy)).sum).toBe(INT64_MAX - 1n);
    });

    test('the sum may reach -2^63 exactly; one less is refused with 422 and changes nothing', async () => {
      expect((await store.abacus.add(INT64_MIN, strategy)).sum).toBe(INT64_MIN);
      const err = await store.abacus.add(-Number.MAX_SAFE_INTEGER, strategy).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UnprocessableError);
      expect((err as Error).message).toContain('below -9223372036854775808');
      expect(await store.abacus.sum()).toBe(INT64_MIN);
    });

    test('an addend that is not a signed 64-bit integer is a validation error', async () => {
      await expect(store.abacus.add(INT64_MAX + 1n, strategy)).rejects.toBeInstanceOf(ValidationError);
      await expect(store.abacus.add(1.5, strategy)).rejects.toBeInstanceOf(ValidationError);
      await expect(store.abacus.add(2 ** 60, strategy)).rejects.toBeInstanceOf(ValidationError);
      expect(await store.abacus.sum()).toBe(0n);
    });

    test('500 concurrent adds lose nothing', async () => {
      const addends = Array.from({ length: 500 }, randomAddend);
      const results = await Promise.all(addends.map((n) => addUntilApplied(store, n, strategy)));
      const expected = addends.reduce((s, n) => s + BigInt(n), 0n);
      expect(await store.abacus.sum()).toBe(expected);
      // every answered sum is distinct: each add saw its own moment of the sum
      expect(new Set(results.map((r) => r.sum)).size).toBe(500);
    });
  });

  test('the strategy defaults to atomic', async () => {
    expect(await store.abacus.add(5)).toEqual({ sum: 5n, conflicts: 0 });
  });
});

/** an optimistic add may give up (409): the caller retries, which is safe because nothing was added */
async function addUntilApplied(store: Store, n: number, strategy: (typeof ABACUS_STRATEGIES)[number]) {
  let conflicts = 0;
  for (;;) {
    try {
      const r = await store.abacus.add(n, strategy);
      return { sum: r.sum, conflicts: conflicts + r.conflicts };
    } catch (err) {
      if (!(err instanceof SumConflictError)) throw err;
      conflicts += err.conflicts;
    }
  }
}

describe('abacus on Redis: optimistic conflicts', () => {
  const prefix = testPrefix('abacus-optimistic');
  const stores: RedisStore[] = [];
  const open = async () => {
    const s = await new RedisStore({ url: testRedisUrl(), prefix }).connect();
    stores.push(s);
    return s;
  };
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
  });

  test('three nodes adding at once see conflicts, retry them, and the sum is exact', async () => {
    const nodes = await Promise.all([open(), open(), open()]);
    await nodes[0].abacus.reset();
    const addends = Array.from({ length: 900 }, randomAddend);
    const results = await Promise.all(addends.map((n, i) => addUntilApplied(nodes[i % 3], n, 'optimistic')));
    expect(await nodes[1].abacus.sum()).toBe(addends.reduce((s, n) => s + BigInt(n), 0n));
    expect(results.reduce((s, r) => s + r.conflicts, 0)).toBeGreaterThan(0);
  });

  test('when the sum moves under every attempt, the add gives up with a conflict and adds nothing', async () => {
    const other = await open();
    // another client writes the sum (INCRBY 0) between every read and write of this node's add
    const node = await new RedisStore({
      url: testRedisUrl(),
      prefix,
      betweenReadAndWrite: async () => void (await other.abacus.add(0)),
    }).connect();
    stores.push(node);
    await node.abacus.reset();
    await expect(node.abacus.add(1, 'optimistic')).rejects.toMatchObject({
      code: 'conflict',
      conflicts: OPTIMISTIC_MAX_ATTEMPTS,
    });
    expect(await node.abacus.sum()).toBe(0n);
  });
});
