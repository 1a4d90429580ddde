import os from 'node:os';
import { Command, Option } from 'commander';
import {
  abacusStrategyOption, adminTokenOption, eventRetentionOption, defaultNodeId, hostOption, nodeIdOption, optionalRedisOption, parseIntIn, portOption,
  prefixOption, shardsOption, resultTtlOption, threadsOption, storeHaOptions
} from './options';
import {
  apiSettings, batchFromFlags, batchOptions, botDownAfterOption, datalakeOptions, heartbeatIntervalOption, openStoreWithLake, populateIntervalOption, withOptions,
} from './processing-options';
import { handlersOption, loadHandlersFlag } from './handlers-option';
import { untilSignal } from './run-role';
import { apiSecurityOptions, generatedTokensNotice, redisTlsOptions, securityFromFlags } from './security-options';

export const upCommand = withOptions(
  new Command('up')
    .description('every role in one process (in memory when no --redis is given)')
    .addOption(optionalRedisOption())
    .addOption(prefixOption())
    .addOption(shardsOption())
    .addOption(portOption())
    .addOption(hostOption())
    .addOption(nodeIdOption())
    .addOption(threadsOption())
    .addOption(resultTtlOption())
    .addOption(eventRetentionOption())
    .addOption(abacusStrategyOption())
    .addOption(adminTokenOption()),
  [
    new Option('--bots <n>', 'bots to run (they talk HTTP to this API)').env('WIZARD_UP_BOTS').default(2).argParser(parseIntIn('--bots', 0, 100)),
    handlersOption(), populateIntervalOption(), ...batchOptions(), botDownAfterOption(), heartbeatIntervalOption(), ...datalakeOptions(),
    ...apiSecurityOptions(), ...redisTlsOptions(), ...storeHaOptions(),
  ],
).action(async (flags) => {
  await loadHandlersFlag(flags); // a bad module stops the role now (exit 2), before it joins the store
  const batch = batchFromFlags(flags);
  // beyond loopback with no tokens, `up` (the image's default command) makes its own, shown once below
  const { generated, ...guards } = securityFromFlags(flags, 'generate');
  const { store } = await openStoreWithLake(flags, 'up');
  const { startUp } = await import('../roles/up');
  const up = await startUp(store, {
    nodeId: flags.nodeId ?? defaultNodeId(),
    port: flags.port,
    host: flags.host,
    threads: flags.threads ?? os.availableParallelism(),
    abacusStrategy: flags.abacusStrategy,
    ...apiSettings(flags),
    ...guards,
    scheduler: { populateIntervalMs: flags.populateIntervalMs, batch, botDownAfterMs: flags.botDownAfterMs },
    bots: { count: flags.bots, heartbeatMs: flags.heartbeatIntervalMs },
  });
  if (generated) process.stderr.write(generatedTokensNotice(generated, up.url));
  await untilSignal(store, [up]);
});
