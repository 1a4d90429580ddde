import os from 'node:os';
import { Command } from 'commander';
import { startUp } from '../roles/up';
import {
  abacusStrategyOption, adminTokenOption, eventRetentionOption, defaultNodeId, hostOption, nodeIdOption, optionalRedisOption, portOption, prefixOption,
  resultTtlOption, threadsOption,
} from './options';
import { storeFromFlags, untilSignal } from './run-role';

export const upCommand = new Command('up')
  .description('every role in one process (in memory when no --redis is given)')
  .addOption(optionalRedisOption())
  .addOption(prefixOption())
  .addOption(portOption())
  .addOption(hostOption())
  .addOption(nodeIdOption())
  .addOption(threadsOption())
  .addOption(resultTtlOption())
  .addOption(eventRetentionOption())
  .addOption(abacusStrategyOption())
  .addOption(adminTokenOption())
  .action(async (flags) => {
    const store = await storeFromFlags(flags);
    const up = await startUp(store, {
      nodeId: flags.nodeId ?? defaultNodeId(),
      port: flags.port,
      host: flags.host,
      threads: flags.threads ?? os.availableParallelism(),
      abacusStrategy: flags.abacusStrategy,
      adminToken: flags.adminToken || undefined,
    });
    await untilSignal(store, [up]);
  });
