/** Redis's eviction policy, judged (src/core/eviction.ts), as INFO memory reports it (pairsFromInfo). */
import { evictingMessage, evictionVerdict, hiddenMessage, policyRisk } from '../../src/core/eviction';
import { pairsFromInfo } from '../../src/store/redis';

test.each([
  ['noeviction', 'safe'],
  // every policy that can drop a key: allkeys-* drops anything; volatile-* drops keys with a TTL,
  // and finished jobs carry one (an index, a lease or a chord beside them would point at nothing)
  ['allkeys-lru', 'evicts'],
  ['allkeys-lfu', 'evicts'],
  ['allkeys-random', 'evicts'],
  ['volatile-lru', 'evicts'],
  ['volatile-lfu', 'evicts'],
  ['volatile-random', 'evicts'],
  ['volatile-ttl', 'evicts'],
  ['some-future-policy', 'evicts'], // unknown: taken as one that may evict
  ['', 'hidden'], // an empty field, as some managed services answer
  [null, 'hidden'], // no field at all
] as const)('maxmemory-policy %p is %s', (policy, risk) => {
  expect(policyRisk(policy)).toBe(risk);
});

test('the policy is read from INFO memory as Redis writes it: empty or missing is hidden', () => {
  const info = (line: string) =>
    pairsFromInfo(`# Memory\r\nused_memory:1000\r\n${line}maxmemory:0\r\n`).maxmemory_policy;
  expect(policyRisk(info('maxmemory_policy:allkeys-lru\r\n'))).toBe('evicts');
  expect(policyRisk(info('maxmemory_policy:noeviction\r\n'))).toBe('safe');
  expect(policyRisk(info('maxmemory_policy:\r\n'))).toBe('hidden');
  expect(policyRisk(info('maxmemory_policy:   \r\n'))).toBe('hidden');
  expect(policyRisk(info(''))).toBe('hidden');
});

test('a Cluster is judged master by master; the messages are one line naming the nodes, the policy and the fix', () => {
  const nodes = [
    { node: '127.0.0.1:7001', policy: 'noeviction' },
    { node: '127.0.0.1:7002', policy: 'volatile-lru' },
    { node: '127.0.0.1:7003', policy: '' },
  ];
  const { evicting, hidden } = evictionVerdict(nodes);
  expect(evicting).toEqual([nodes[1]]);
  expect(hidden).toEqual([nodes[2]]);
  const evicts = evictingMessage(evicting, false);
  expect(evicts).toBe(
    'Redis master 127.0.0.1:7002 can evict keys (maxmemory-policy volatile-lru): queued jobs, leases and chord counters would vanish under memory pressure; run CONFIG SET maxmemory-policy noeviction (and set it in its config)',
  );
  expect(evictingMessage([{ node: 'redis://10.0.0.5:6379', policy: 'allkeys-lru' }], true)).toMatch(
    /^Redis at redis:\/\/10\.0\.0\.5:6379 can evict keys \(maxmemory-policy allkeys-lru\): .*CONFIG SET maxmemory-policy noeviction/,
  );
  expect(hiddenMessage(hidden, false)).toBe(
    "Redis master 127.0.0.1:7003 does not report its maxmemory-policy (a managed service may hide it): make sure it is noeviction in the service's settings, or jobs can vanish under memory pressure",
  );
  for (const m of [evicts, hiddenMessage(hidden, false)]) expect(m).not.toMatch(/\n/);
  expect(evictionVerdict([{ node: 'a', policy: 'noeviction' }])).toEqual({ evicting: [], hidden: [] });
});
