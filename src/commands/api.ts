import { Command } from 'commander';
import {
  abacusStrategyOption, adminTokenOption, eventRetentionOption, defaultNodeId, hostOption, nodeIdOption, portOption, prefixOption, shardsOption, redisOption,
  resultTtlOption, storeHaOptions
} from './options';
import { apiSettings, batchFromFlags, batchOptions, botDownAfterOption, datalakeOptions, openStoreWithLake, withOptions } from './processing-options';
import { handlersOption, loadHandlersFlag } from './handlers-option';
import { untilSignal } from './run-role';
import { apiSecurityOptions, redisTlsOptions, securityFromFlags } from './security-options';

export const apiCommand = withOptions(
  new Command('api')
    .description('serve the HTTP API, the dashboard and the docs')
    .addOption(redisOption())
    .addOption(prefixOption())
    .addOption(shardsOption())
    .addOption(portOption())
    .addOption(hostOption())
    .addOption(nodeIdOption())
    .addOption(resultTtlOption())
    .addOption(eventRetentionOption())
    .addOption(abacusStrategyOption())
    .addOption(adminTokenOption()),
  [handlersOption(), botDownAfterOption(), ...batchOptions(), ...datalakeOptions(), ...apiSecurityOptions(), ...redisTlsOptions(), ...storeHaOptions()],
).action(async (flags) => {
  await loadHandlersFlag(flags); // a bad module stops the role now (exit 2), before it joins the store
  batchFromFlags(flags); // a bad --job-params stops the node now, not at the first POST /jobs/populate
  const guards = securityFromFlags(flags); // tokens, rate limit, CORS, TLS; an open non-loopback --host stops here (exit 2)
  const nodeId: string = flags.nodeId ?? defaultNodeId();
  const { store, claim } = await openStoreWithLake(flags, 'api', true);
  const { startApi } = await import('../roles/api'); // Express and the rest load when it runs: the CLI starts fast
  const api = await startApi(store, {
    nodeId,
    port: flags.port,
    host: flags.host,
    abacusStrategy: flags.abacusStrategy,
    ...apiSettings(flags),
    ...guards,
  });
  await untilSignal(store, [api, claim]);
});
