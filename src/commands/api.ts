import { Command } from 'commander';
import { startApi } from '../roles/api';
import { eventRetentionOption, defaultNodeId, hostOption, nodeIdOption, portOption, prefixOption, redisOption, resultTtlOption } from './options';
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
  .action(async (flags) => {
    const store = await storeFromFlags(flags);
    const api = await startApi(store, { nodeId: flags.nodeId ?? defaultNodeId(), port: flags.port, host: flags.host });
    await untilSignal(store, [api]);
  });
