import { countPrimesInRange } from '../../src/core/sieve';

const naive = (lo: number, hi: number) => {
  let n = 0;
  for (let x = Math.max(2, lo); x <= hi; x++) {
    let prime = true;
    for (let d = 2; d * d <= x; d++) if (x % d === 0) { prime = false; break; }
    if (prime) n++;
  }
  return n;
};

test('counts the primes of known ranges', () => {
  expect(countPrimesInRange(1, 100)).toBe(25);
  expect(countPrimesInRange(1, 1_000_000)).toBe(78_498);
  expect(countPrimesInRange(1, 1)).toBe(0);
  expect(countPrimesInRange(2, 2)).toBe(1);
});

test('agrees with trial division on ranges across segment edges', () => {
  for (const [lo, hi] of [[1, 5000], [262_100, 262_200], [999_000, 1_001_000], [50, 49]]) {
    expect(countPrimesInRange(lo, hi)).toBe(naive(lo, hi));
  }
});
