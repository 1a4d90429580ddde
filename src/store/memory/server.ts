/** The store itself (store.server), as the Redis adapter's redis/server.ts: its clock, its health (always there), its counters. */
import type { ServerStore } from '../concerns';
import type { EvictionState, ServerInfo, ServerStats, StoreState } from '../types';
import type { MemoryCore } from './core';
import { bytesToHuman } from './structures';

export class MemoryServer implements ServerStore {
  constructor(private readonly m: MemoryCore) {}

  /** the calls this store served, as Redis's total_commands_processed counts its commands */
  commands = 0;
  /** the connections of the API that serves this store's clients (countClients) */
  private openClients: () => number = () => 0;

  async time(): Promise<number> {
    return this.m.clock();
  }

  countClients(open: () => number): void {
    this.openClients = open;
  }

  async ping(): Promise<ServerInfo> {
    return { latency_ms: 0, version: 'memory', role: 'master', mode: 'memory' };
  }

  async stats(): Promise<ServerStats> {
    return {
      connected_clients: this.openClients(),
      total_commands_processed: this.commands,
      used_memory_human: bytesToHuman(process.memoryUsage().heapUsed),
    };
  }

  /** memory is always there (the process's heap is not bounded like maxmemory) */
  async condition(): Promise<StoreState> {
    return { condition: null, message: null };
  }

  /** no policy: memory evicts nothing (a job leaves only when it expires or is purged) */
  async eviction(): Promise<EvictionState> {
    return { nodes: [], evictedKeys: 0, single: true };
  }
}
