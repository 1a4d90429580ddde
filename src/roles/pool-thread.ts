/**
 * The Piscina thread entry: thin on purpose. It runs a CPU-bound handler and returns plain data;
 * errors are classified by the main thread (error classes do not survive the structured clone).
 */
import { countPrimesInRange } from '../core/sieve';

export interface ChunkTask {
  lo: number;
  hi: number;
}

/** the chunk's count and how long it ran on this thread (ms, monotonic): not the wait for the thread */
export interface PoolResult {
  value: number;
  runMs: number;
}

export default function run({ lo, hi }: ChunkTask): PoolResult {
  const began = performance.now();
  const value = countPrimesInRange(lo, hi);
  return { value, runMs: performance.now() - began };
}
