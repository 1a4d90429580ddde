/**
 * Contiguous range splitting for prime counts: [1, n] in `chunks` ranges of floor(n/chunks),
 * the last absorbing the remainder. n=100, chunks=4 → [1-25, 26-50, 51-75, 76-100].
 */
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
