/**
 * Two schedulers on one Redis make exactly one batch per interval: one leads (a lease in Redis),
 * the other stands by, and when the leader is SIGKILLed the standby takes over. Every batch has
 * exactly BATCH_SIZE jobs and no interval slot has two batches.
 */
import { RedisStore } from '../../src/store/redis';
import { testPrefix, testRedisUrl } from '../helpers/env';
import { killAll, spawnWizard, waitUntil } from '../helpers/procs';

afterAll(killAll);

test('two schedulers: one batch per interval, and the standby takes over from a killed leader', async () => {
  const prefix = testPrefix('scheduler-leader');
  const env = {
    REDIS_URL: testRedisUrl(),
    WIZARD_PREFIX: prefix,
    POPULATE_INTERVAL_MS: '1000',
    BATCH_SIZE: '4',
    WIZARD_LEADER_LEASE_MS: '1000',
  };
  const store = await new RedisStore({ url: testRedisUrl(), prefix }).connect();
  const batches = async () => {
    const { jobs } = await store.reads.list({ limit: 1000 });
    const by = new Map<string, { n: number; by: Set<string> }>();
    for (const j of jobs) {
      const b = by.get(j.params.batch as string) ?? { n: 0, by: new Set<string>() };
      b.n++;
      b.by.add(j.initiatedBy!);
      by.set(j.params.batch as string, b);
    }
    return by;
  };
  try {
    const s1 = spawnWizard(['scheduler', '--node-id', 's1'], env, 's1');
    const s2 = spawnWizard(['scheduler', '--node-id', 's2'], env, 's2');
    await waitUntil(async () => (await batches()).size >= 3, 15_000, 'three batches');
    const leaderId = (await store.reads.list({ limit: 1 })).jobs[0].initiatedBy!;
    const [leader, standby] = leaderId === 's1' ? [s1, s2] : [s2, s1];
    expect(leader.output()).toMatch(/leading: this scheduler makes the batches/);
    expect(standby.output()).toMatch(/standing by: another scheduler leads/);
    expect(await leader.kill('SIGKILL')).toBe('SIGKILL');
    const killedAt = Date.now();
    await waitUntil(
      async () => [...(await batches()).values()].filter((b) => b.by.has(standby.name)).length >= 3,
      15_000,
      'three batches from the standby',
    );
    expect(Date.now() - killedAt).toBeLessThan(10_000);
    expect(await standby.kill('SIGTERM')).toBe(0);

    const all = await batches();
    for (const [batch, b] of all) {
      expect([batch, b.n, b.by.size]).toEqual([batch, 4, 1]);
    }
    // one batch per slot: the batch names are the slot times, distinct and whole seconds
    const slots = [...all.keys()].map((b) => Date.parse(b));
    expect(slots.every((t) => t % 1000 === 0)).toBe(true);
    expect(new Set(slots).size).toBe(slots.length);
    for (const [batch, b] of all)
      if (Date.parse(batch) < killedAt - 1000) expect([batch, [...b.by]]).toEqual([batch, [leader.name]]);
    const makers = [...all.values()].map((b) => [...b.by][0]);
    expect(new Set(makers)).toEqual(new Set([leader.name, standby.name]));
    expect((await store.reads.list({ limit: 1000 })).total).toBe(4 * all.size);
  } finally {
    await store.close();
  }
}, 60_000);
