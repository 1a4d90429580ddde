import fc from 'fast-check';
import { countPrimesInRange, countPrimesUpTo } from '../../src/core/sieve';
import { seededRandom } from '../helpers/prng';

const MAX_N = 1e12;
const SLOW = process.env.WIZARD_SLOW_TESTS === '1';

/** Where segments of any power-of-two size from 32 KiB to 1 MiB (30 numbers a byte) would end. */
const SEGMENT_SPANS = [32, 64, 128, 256, 512, 1024].map((kib) => 30 * 1024 * kib);

/** Trial division: the reference for small numbers. */
function isPrimeByTrialDivision(n: number): boolean {
  if (n < 2) return false;
  if (n % 2 === 0) return n === 2;
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false;
  return true;
}

/** Deterministic Miller–Rabin for n < 1,122,004,669,633 (bases 2, 13, 23, 1662803): the reference near 1e12. */
function isPrimeByMillerRabin(n: number): boolean {
  if (n < 2) return false;
  for (const p of [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37]) {
    if (n % p === 0) return n === p;
  }
  const big = BigInt(n);
  let d = big - 1n;
  let s = 0;
  while (d % 2n === 0n) {
    d /= 2n;
    s++;
  }
  return [2n, 13n, 23n, 1662803n].every((a) => {
    if (a % big === 0n) return true; // a base that n divides says nothing
    let x = modPow(a % big, d, big);
    if (x === 1n || x === big - 1n) return true;
    for (let i = 1; i < s; i++) {
      x = (x * x) % big;
      if (x === big - 1n) return true;
    }
    return false;
  });
}

function modPow(base: bigint, exponent: bigint, modulus: bigint): bigint {
  let result = 1n;
  for (let b = base, e = exponent; e > 0n; e >>= 1n, b = (b * b) % modulus) {
    if (e & 1n) result = (result * b) % modulus;
  }
  return result;
}

function countByReference(lo: number, hi: number, isPrime: (n: number) => boolean): number {
  let count = 0;
  for (let n = lo; n <= hi; n++) if (isPrime(n)) count++;
  return count;
}

/** A plain sieve of Eratosthenes over [0, limit] with prefix counts, for exact counts of wide ranges below it. */
function referenceSieve(limit: number): (lo: number, hi: number) => number {
  const BLOCK = 1024;
  const composite = new Uint8Array(limit + 1);
  composite[0] = composite[1] = 1;
  for (let i = 2; i * i <= limit; i++) {
    if (!composite[i]) for (let j = i * i; j <= limit; j += i) composite[j] = 1;
  }
  /** primesBelow[b]: the number of primes below b * BLOCK. */
  const blocks = Math.ceil((limit + 1) / BLOCK);
  const primesBelow = new Float64Array(blocks + 1);
  for (let b = 0; b < blocks; b++) {
    const end = Math.min(limit + 1, (b + 1) * BLOCK);
    let count = 0;
    for (let n = b * BLOCK; n < end; n++) count += 1 - composite[n];
    primesBelow[b + 1] = primesBelow[b] + count;
  }
  const upTo = (n: number): number => {
    const block = Math.floor((n + 1) / BLOCK);
    let count = primesBelow[block];
    for (let m = block * BLOCK; m <= n; m++) count += 1 - composite[m];
    return count;
  };
  return (lo, hi) => upTo(hi) - upTo(lo - 1);
}

describe('countPrimesInRange: small cases', () => {
  test('π(n) for n = 0..3000 matches trial division', () => {
    let expected = 0;
    for (let n = 0; n <= 3000; n++) {
      if (isPrimeByTrialDivision(n)) expected++;
      expect(countPrimesUpTo(n)).toBe(expected);
    }
  });

  test('edges: 0, 1, 2, 3, single numbers and lo > hi', () => {
    expect(countPrimesUpTo(0)).toBe(0);
    expect(countPrimesUpTo(1)).toBe(0);
    expect(countPrimesUpTo(2)).toBe(1);
    expect(countPrimesUpTo(3)).toBe(2);
    expect(countPrimesInRange(0, 0)).toBe(0);
    expect(countPrimesInRange(0, 1)).toBe(0);
    expect(countPrimesInRange(1, 2)).toBe(1);
    expect(countPrimesInRange(2, 2)).toBe(1);
    expect(countPrimesInRange(4, 4)).toBe(0);
    expect(countPrimesInRange(3, 2)).toBe(0);
    expect(countPrimesInRange(MAX_N, 0)).toBe(0);
    expect(countPrimesInRange(MAX_N, MAX_N)).toBe(0);
    expect(countPrimesInRange(999_999_999_989, 999_999_999_989)).toBe(1);
    expect(countPrimesInRange(999_999_999_900, MAX_N)).toBe(4);
  });

  test('every range within [0, 250] matches trial division', () => {
    for (let lo = 0; lo <= 250; lo++) {
      for (let hi = lo; hi <= 250; hi++) {
        expect(countPrimesInRange(lo, hi)).toBe(countByReference(lo, hi, isPrimeByTrialDivision));
      }
    }
  });

  test('rejects non-integers, negatives and bounds above 1e12 with a RangeError', () => {
    for (const bad of [-1, 0.5, 1e12 + 1, NaN, Infinity, -Infinity, Number.MAX_SAFE_INTEGER]) {
      expect(() => countPrimesUpTo(bad)).toThrow(RangeError);
      expect(() => countPrimesInRange(bad, 10)).toThrow(RangeError);
      expect(() => countPrimesInRange(0, bad)).toThrow(RangeError);
    }
    expect(() => countPrimesInRange(0, 1e12 + 1)).toThrow(/hi must be an integer between 0 and 1000000000000/);
  });
});

describe('countPrimesUpTo: known values of π', () => {
  test.each([
    [1e4, 1229],
    [1e5, 9592],
    [1e6, 78498],
    [1e7, 664579],
    [1e8, 5761455],
    [1e9, 50847534],
    [2 ** 31, 105097565],
  ])('π(%d) = %d', (n, expected) => {
    expect(countPrimesUpTo(n)).toBe(expected);
  });

  // About 3 s, 1 min and 10 min on one core (measured under load: 3 s, 62 s, 774 s).
  (SLOW ? test.each : test.skip.each)([
    [1e10, 455052511],
    [1e11, 4118054813],
    [1e12, 37607912018],
  ])(
    'π(%d) = %d (WIZARD_SLOW_TESTS=1)',
    (n, expected) => {
      expect(countPrimesUpTo(n)).toBe(expected);
    },
    3_600_000,
  );
});

describe('countPrimesInRange: large numbers against Miller–Rabin', () => {
  test.each([
    [MAX_N - 30_000, MAX_N],
    [999_000_000_000, 999_000_020_000],
    [549_755_813_888 - 10_000, 549_755_813_888 + 10_000], // around 2^39
    [123_456_789_012, 123_456_809_012],
    [10_000_000_000 - 10_000, 10_000_000_000 + 10_000],
    [99_999_990_000, 100_000_010_000],
  ])('[%d, %d]', (lo, hi) => {
    expect(countPrimesInRange(lo, hi)).toBe(countByReference(lo, hi, isPrimeByMillerRabin));
  });
});

describe('countPrimesInRange: segment boundaries', () => {
  const limit = 3 * SEGMENT_SPANS[SEGMENT_SPANS.length - 1] + 1000;
  let countBySieve: (lo: number, hi: number) => number;
  beforeAll(() => {
    countBySieve = referenceSieve(limit);
  });

  test('π(n), short ranges and one-span ranges at and around every candidate segment boundary', () => {
    for (const span of SEGMENT_SPANS) {
      for (const boundary of [span, 2 * span]) {
        for (const n of [boundary - 31, boundary - 1, boundary, boundary + 1, boundary + 29, boundary + 30]) {
          expect(countPrimesUpTo(n)).toBe(countBySieve(0, n));
          expect(countPrimesInRange(n - 100, n + 100)).toBe(countBySieve(n - 100, n + 100));
          const lo = Math.max(0, n - span + 60);
          expect(countPrimesInRange(lo, n + 60)).toBe(countBySieve(lo, n + 60));
          expect(countPrimesInRange(n, n + span)).toBe(countBySieve(n, n + span));
        }
      }
    }
  });

  test('random ranges, some wider than a segment, match a plain sieve', () => {
    const random = seededRandom(20240601);
    for (let i = 0; i < 200; i++) {
      const width = i % 4 === 0 ? Math.floor(random() * 2 * SEGMENT_SPANS[4]) : Math.floor(random() * 5000);
      const lo = Math.floor(random() * (limit - width));
      expect(countPrimesInRange(lo, lo + width)).toBe(countBySieve(lo, lo + width));
    }
  });
});

describe('countPrimesInRange: additivity', () => {
  test('count(a, b) + count(b + 1, c) = count(a, c) anywhere up to 1e12', () => {
    const start = fc.integer({ min: 0, max: MAX_N });
    const width = fc.integer({ min: 0, max: 40_000_000 }); // up to ~2.5 segments
    const cutAt = fc.double({ min: 0, max: 1, noNaN: true });
    const triple = fc.tuple(start, width, cutAt).map(([start, width, cut]) => {
      const a = Math.min(start, MAX_N - width);
      const c = a + width;
      return { a, b: a + Math.floor(cut * width), c };
    });
    fc.assert(
      fc.property(triple, ({ a, b, c }) => {
        return countPrimesInRange(a, b) + countPrimesInRange(b + 1, c) === countPrimesInRange(a, c);
      }),
      { seed: 42, numRuns: 40 },
    );
  });

  test('contiguous chunks of uneven size add up to π(n)', () => {
    const n = 123_456_789;
    for (const chunks of [1, 3, 7, 10]) {
      const size = Math.floor(n / chunks);
      let sum = 0;
      for (let i = 0; i < chunks; i++) {
        sum += countPrimesInRange(i * size + 1, i === chunks - 1 ? n : (i + 1) * size);
      }
      expect(sum).toBe(countPrimesUpTo(n));
    }
  });

  test('random cut points near 1e12 add up to the whole range', () => {
    const random = seededRandom(7);
    const lo = MAX_N - 50_000_000;
    const cuts = Array.from({ length: 6 }, () => lo + Math.floor(random() * (MAX_N - lo))).sort((x, y) => x - y);
    const bounds = [lo - 1, ...cuts, MAX_N];
    let sum = 0;
    for (let i = 1; i < bounds.length; i++) sum += countPrimesInRange(bounds[i - 1] + 1, bounds[i]);
    expect(sum).toBe(countPrimesInRange(lo, MAX_N));
  });
});
