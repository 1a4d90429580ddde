/**
 * Counting primes in [lo, hi] (both inclusive): a segmented sieve of Eratosthenes. Pure, no I/O;
 * the worker runs it in its thread pool (src/roles/pool-thread.ts). Memory is bounded by the
 * segment size and the base primes up to sqrt(hi), so a chunk near 10^12 is fine.
 */
const SEGMENT = 1 << 18;

/** the primes up to `limit` (inclusive), by a plain sieve */
function basePrimes(limit: number): Uint32Array {
  const composite = new Uint8Array(limit + 1);
  const out: number[] = [];
  for (let i = 2; i <= limit; i++) {
    if (composite[i]) continue;
    out.push(i);
    for (let j = i * i; j <= limit; j += i) composite[j] = 1;
  }
  return Uint32Array.from(out);
}

export function countPrimesInRange(lo: number, hi: number): number {
  if (!Number.isSafeInteger(lo) || !Number.isSafeInteger(hi)) throw new RangeError(`lo and hi must be safe integers, got ${lo}, ${hi}`);
  lo = Math.max(lo, 2);
  if (hi < lo) return 0;
  const primes = basePrimes(Math.floor(Math.sqrt(hi)));
  const segment = new Uint8Array(SEGMENT);
  let count = 0;
  for (let start = lo; start <= hi; start += SEGMENT) {
    const end = Math.min(start + SEGMENT - 1, hi);
    const len = end - start + 1;
    segment.fill(0, 0, len);
    for (let k = 0; k < primes.length; k++) {
      const p = primes[k];
      if (p * p > end) break;
      const first = Math.max(p * p, Math.ceil(start / p) * p);
      for (let j = first - start; j < len; j += p) segment[j] = 1;
    }
    for (let i = 0; i < len; i++) if (segment[i] === 0) count++;
  }
  return count;
}
