import { Command } from 'commander';
import { apiFromFlags, apiOptions } from './api-options';
import { batchFromFlags, batchOptions, botDownAfterOption, botWorkFromFlags } from './batch-options';
import { datalakeOptions, openStoreWithLake } from './datalake-options';
import { limitsFromFlags, limitsOptions } from './limits-options';
import { foldGroups } from './help';
import { withOptions } from './parse';
import { jobTypeOptions } from './processing-options';
import { loadHandlersFlag } from './handlers-option';
import { checkListenable, untilSignal } from './run-role';
import { defaultNodeId, storeOptions } from './store-options';

export const apiCommand = foldGroups(
  withOptions(new Command('api').description('serve the HTTP API, the dashboard and the docs'), [
    ...storeOptions(),
    ...apiOptions(),
    ...jobTypeOptions(),
    botDownAfterOption(),
    ...batchOptions(),
    ...datalakeOptions(),
    ...limitsOptions(),
  ]).action(async (flags) => {
    await loadHandlersFlag(flags); // a bad module stops the role now (exit 2), before it joins the store
    batchFromFlags(flags); // a bad --job-params stops the node now, not at the first POST /jobs/populate
    const { api } = apiFromFlags(flags); // tokens, rate limit, CORS, TLS; an open non-loopback --host stops here (exit 2)
    await checkListenable(flags.port, flags.host, '--port', '--host', 'PORT'); // before it joins the store (exit 2)
    const nodeId: string = flags.nodeId ?? defaultNodeId();
    const { store, claim, watch } = await openStoreWithLake(flags, 'api', true);
    const { startApi } = await import('../roles/api'); // Express and the rest load when it runs: the CLI starts fast
    const running = await startApi(store, {
      nodeId,
      ...api,
      ...limitsFromFlags(flags),
      botWork: botWorkFromFlags(flags),
      datalakeDir: flags.datalakeDir,
    });
    await untilSignal(store, [running, claim, watch]);
  }),
  ['store', 'security', 'batch', 'datalake'],
);
