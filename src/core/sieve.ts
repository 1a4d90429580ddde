/**
 * Counting primes in [lo, hi] with a segmented sieve of Eratosthenes: pure and CPU-bound (the
 * worker runs it in its thread pool). Memory stays O(sqrt(hi) + segment) whatever the range.
 */
const SEGMENT = 1 << 18;

/** primes up to and including n */
function basePrimes(n: number): number[] {
  const composite = new Uint8Array(n + 1);
  const primes: number[] = [];
  for (let i = 2; i <= n; i++) {
    if (composite[i]) continue;
    primes.push(i);
    for (let j = i * i; j <= n; j += i) composite[j] = 1;
  }
  return primes;
}

export function countPrimesInRange(lo: number, hi: number): number {
  if (!Number.isSafeInteger(lo) || !Number.isSafeInteger(hi)) throw new RangeError('lo and hi must be safe integers');
  const from = Math.max(2, lo);
  if (hi < from) return 0;
  const primes = basePrimes(Math.floor(Math.sqrt(hi)));
  const marks = new Uint8Array(SEGMENT);
  let count = 0;
  for (let start = from; start <= hi; start += SEGMENT) {
    const end = Math.min(hi, start + SEGMENT - 1);
    const size = end - start + 1;
    marks.fill(0, 0, size);
    for (const p of primes) {
      if (p * p > end) break;
      const first = Math.max(p * p, Math.ceil(start / p) * p);
      for (let j = first - start; j < size; j += p) marks[j] = 1;
    }
    for (let i = 0; i < size; i++) if (!marks[i]) count++;
  }
  return count;
}
