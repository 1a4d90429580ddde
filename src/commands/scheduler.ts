import { Command } from 'commander';
import { eventRetentionOption, defaultNodeId, nodeIdOption, prefixOption, shardsOption, redisOption, resultTtlOption, storeHaOptions } from './options';
import { batchFromFlags, batchOptions, botDownAfterOption, datalakeOptions, leaderLeaseOption, openStoreWithLake, populateIntervalOption, withOptions } from './processing-options';
import { handlersOption, loadHandlersFlag } from './handlers-option';
import { untilSignal } from './run-role';
import { redisTlsOptions } from './security-options';

export const schedulerCommand = withOptions(
  new Command('scheduler')
    .description('make a batch of jobs every interval (one leader across the cluster); mark silent bots down; recover stalled work')
    .addOption(redisOption())
    .addOption(prefixOption())
    .addOption(shardsOption())
    .addOption(nodeIdOption())
    .addOption(populateIntervalOption()),
  [handlersOption(), ...batchOptions(), botDownAfterOption(), leaderLeaseOption(), ...datalakeOptions(), resultTtlOption(), eventRetentionOption(), ...redisTlsOptions(), ...storeHaOptions()],
).action(async (flags) => {
  await loadHandlersFlag(flags); // a schedule's jobs of a module's type get that type's attempts
  const batch = batchFromFlags(flags);
  const nodeId: string = flags.nodeId ?? defaultNodeId();
  const { store, claim } = await openStoreWithLake(flags, 'scheduler', true);
  const { startScheduler } = await import('../roles/scheduler');
  const scheduler = startScheduler(store, {
    nodeId,
    populateIntervalMs: flags.populateIntervalMs,
    batch,
    botDownAfterMs: flags.botDownAfterMs,
    leaderLeaseMs: flags.leaderLeaseMs,
  });
  await untilSignal(store, [scheduler, claim]);
});
