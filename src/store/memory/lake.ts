/** The datalake (store.lake), as the Redis adapter's redis/lake.ts: the core's LakeData (memory/lake-data.ts), appended by finish; one buffer. */
import type { DatalakeConfig, LakeBatch, LakeDay, LakeRecord } from '../../core/datalake';
import { MEMORY_BUFFER } from './lake-data';
import type { LakeStore } from '../concerns';
import type { MemoryCore } from './core';

export class MemoryLake implements LakeStore {
  constructor(private readonly m: MemoryCore) {}

  async config(): Promise<DatalakeConfig> {
    return this.m.lake.config();
  }

  async configure(config: Partial<DatalakeConfig>): Promise<void> {
    this.m.lake.configure(config);
  }

  async days(): Promise<LakeDay[]> {
    return this.m.lake.dayStats();
  }

  async read(day: string, offset: number, count: number): Promise<LakeRecord[]> {
    return this.m.lake.read(day, offset, count);
  }

  async prune(): Promise<string[]> {
    return this.m.lake.prune(this.m.step());
  }

  async legacy(): Promise<LakeRecord[]> {
    return []; // the memory store never had 0.1.0's lists
  }

  async buffers(): Promise<string[]> {
    return [MEMORY_BUFFER];
  }

  async pending(buffer: string, after: string, count: number): Promise<LakeBatch[]> {
    return buffer === MEMORY_BUFFER ? this.m.lake.pending(after, count) : [];
  }

  async trim(buffer: string, through: string): Promise<void> {
    if (buffer === MEMORY_BUFFER) this.m.lake.trim(through);
  }

  async backlog(): Promise<number> {
    return this.m.lake.backlog();
  }
}
