import { keySlot } from '../../src/store/cluster-durable';

// the slots `CLUSTER KEYSLOT` answers for these keys (Redis 7.0)
test.each([
  ['foo', 12182],
  ['123456789', 12739],
  ['{p}:', 16023],
  ['{p}:job:abc', 16023],
  ['{}foo', 9500],
  ['a{}{b}', 15033],
])('keySlot(%s) is %i', (key, slot) => {
  expect(keySlot(key)).toBe(slot);
});
