/**
 * The rate-limit contract (seed 001's extension): both adapters. A sliding window per bucket,
 * a request counted in all its buckets or in none, Retry-After from the oldest request that
 * must leave the window, and one budget for every API node (two Redis adapters on one prefix).
 */
import { RedisStore } from '../../src/store/redis';
import type { Store } from '../../src/store/types';
import { testPrefix, testRedisUrl } from '../helpers/env';
import { ADAPTERS, makeStore, manualClock } from '../helpers/stores';

describe.each(ADAPTERS)('rate-limit contract: %s', (adapter) => {
  let store: Store;
  const clock = manualClock(1_000_000);

  beforeEach(async () => {
    store = await makeStore(adapter, 'rate', { now: clock.now });
  });
  afterEach(async () => {
    await store.close();
  });

  test('max requests per window pass, the next is refused with the time until room comes back', async () => {
    for (let i = 0; i < 3; i++) {
      expect(await store.limits.hit(['ip:1'], 3, 1000)).toEqual({ allowed: true, retryAfterMs: 0, remaining: 2 - i });
      clock.advance(100);
    }
    // requests at t0, t0+100, t0+200; now t0+300: the first leaves the window at t0+1000
    expect(await store.limits.hit(['ip:1'], 3, 1000)).toEqual({ allowed: false, retryAfterMs: 700, remaining: 0 });
    clock.advance(699);
    expect((await store.limits.hit(['ip:1'], 3, 1000)).allowed).toBe(false);
    clock.advance(1); // the window slides: exactly one request has left it
    expect(await store.limits.hit(['ip:1'], 3, 1000)).toMatchObject({ allowed: true, remaining: 0 });
    expect(await store.limits.hit(['ip:1'], 3, 1000)).toEqual({ allowed: false, retryAfterMs: 100, remaining: 0 });
  });

  test('buckets are separate; a request refused by one bucket is counted in none', async () => {
    expect((await store.limits.hit(['ip:a', 'token:t'], 2, 1000)).allowed).toBe(true);
    expect((await store.limits.hit(['ip:a', 'token:t'], 2, 1000)).allowed).toBe(true);
    expect((await store.limits.hit(['ip:b', 'token:t'], 2, 1000)).allowed).toBe(false); // the token is spent
    expect((await store.limits.hit(['ip:b'], 2, 1000)).allowed).toBe(true); // ip:b was not charged
    expect((await store.limits.hit(['ip:b'], 2, 1000)).allowed).toBe(true);
    expect((await store.limits.hit(['ip:c'], 2, 1000)).allowed).toBe(true);
  });

  test('a lowered max refuses until enough requests have left the window', async () => {
    for (let i = 0; i < 4; i++) {
      await store.limits.hit(['ip:x'], 10, 1000);
      clock.advance(10);
    }
    expect(await store.limits.hit(['ip:x'], 2, 1000)).toEqual({
      allowed: false,
      retryAfterMs: 1000 - 30 + 20 - 10,
      remaining: 0,
    });
  });
});

test('two Redis adapters on one prefix (two API nodes) share one budget', async () => {
  const prefix = testPrefix('rate-shared');
  const a = await new RedisStore({ url: testRedisUrl(), prefix }).connect();
  const b = await new RedisStore({ url: testRedisUrl(), prefix }).connect();
  try {
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).limits.hit(['ip:shared'], 25, 60_000)),
    );
    expect(results.filter((r) => r.allowed)).toHaveLength(25);
    expect(results.filter((r) => !r.allowed).every((r) => r.retryAfterMs > 0 && r.retryAfterMs <= 60_000)).toBe(true);
  } finally {
    await a.close();
    await b.close();
  }
});
