import { Command } from 'commander';
import { startApi } from '../roles/api';
import {
  abacusStrategyOption, adminTokenOption, eventRetentionOption, defaultNodeId, hostOption, nodeIdOption, portOption, prefixOption, redisOption,
  resultTtlOption,
} from './options';
import { storeFromFlags, untilSignal } from './run-role';

export const apiCommand = new Command('api')
  .description('serve the HTTP API, the dashboard and the docs')
  .addOption(redisOption())
  .addOption(prefixOption())
  .addOption(portOption())
  .addOption(hostOption())
  .addOption(nodeIdOption())
  .addOption(resultTtlOption())
  .addOption(eventRetentionOption())
  .addOption(abacusStrategyOption())
  .addOption(adminTokenOption())
  .action(async (flags) => {
    const store = await storeFromFlags(flags);
    const api = await startApi(store, {
      nodeId: flags.nodeId ?? defaultNodeId(),
      port: flags.port,
      host: flags.host,
      abacusStrategy: flags.abacusStrategy,
      adminToken: flags.adminToken || undefined,
    });
    await untilSignal(store, [api]);
  });
