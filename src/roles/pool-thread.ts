/**
 * The Piscina thread entry: thin on purpose. It runs a CPU-bound handler and returns plain data;
 * errors are classified by the main thread (error classes do not survive the structured clone).
 */
import { countPrimesInRange } from '../core/sieve';

export interface ChunkTask {
  lo: number;
  hi: number;
}

export default function run({ lo, hi }: ChunkTask): number {
  return countPrimesInRange(lo, hi);
}
