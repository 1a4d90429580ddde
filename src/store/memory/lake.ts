/** The datalake (store.lake), as the Redis adapter's redis/lake.ts: the core's LakeData (memory/lake-data.ts), appended by finish. */
import type { DatalakeConfig, LakeDay, LakeRecord } from '../../core/datalake';
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
}
