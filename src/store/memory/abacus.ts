/** The running sum (store.abacus), as the Redis adapter's redis/abacus.ts. */
import { AbacusAddResult, addWithinInt64, toAddend } from '../../core/abacus';
import type { AbacusStore } from '../concerns';
import type { MemoryCore } from './core';

export class MemoryAbacus implements AbacusStore {
  constructor(private readonly m: MemoryCore) {}

  /** one process: every add is one synchronous step, so both strategies are atomic and never conflict */
  async add(n: bigint | number): Promise<AbacusAddResult> {
    this.m.sum = addWithinInt64(this.m.sum, toAddend(n));
    return { sum: this.m.sum, conflicts: 0 };
  }

  async sum(): Promise<bigint> {
    return this.m.sum;
  }

  async reset(): Promise<void> {
    this.m.sum = 0n;
  }
}
