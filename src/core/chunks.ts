/**
 * Contiguous range splitting for prime counts: [1, n] in `chunks` ranges of floor(n/chunks),
 * the last absorbing the remainder. n=100, chunks=4 → [1-25, 26-50, 51-75, 76-100].
 */
import type { NewJob } from './job';

export interface ChunkRange {
  index: number;
  lo: number;
  hi: number;
}

export function planChunks(n: number, chunks: number): ChunkRange[] {
  const size = Math.floor(n / chunks);
  const ranges: ChunkRange[] = [];
  for (let i = 0; i < chunks; i++) {
    const lo = i * size + 1;
    const hi = i === chunks - 1 ? n : (i + 1) * size;
    ranges.push({ index: i, lo, hi });
  }
  return ranges;
}

/** a prime count as the store makes it (Store's FlowSpec): a parent that is not queued and its chunks */
export interface PrimeCountFlow {
  parent: NewJob;
  children: NewJob[];
}

/**
 * the flow of a prime count of [1, n] in `chunks`: `parent` and `chunk` are the fields of the
 * parent and of each chunk (queue, priority, attempts, ...) besides their type and params
 */
export function primeCountFlow(
  n: number,
  chunks: number,
  parent: Omit<NewJob, 'type' | 'params'>,
  chunk: Omit<NewJob, 'type' | 'params'>,
): PrimeCountFlow {
  return {
    parent: { ...parent, type: 'primes', params: { n, chunks } },
    children: planChunks(n, chunks).map((c) => ({
      ...chunk,
      type: 'primes_chunk',
      params: { lo: c.lo, hi: c.hi, index: c.index },
    })),
  };
}
