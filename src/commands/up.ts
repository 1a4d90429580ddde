import os from 'node:os';
import { Command, Option } from 'commander';
import { apiFromFlags, apiOptions, keptTokensNotice } from './api-options';
import {
  batchFromFlags,
  batchOptions,
  botDownAfterOption,
  botWorkFromFlags,
  heartbeatIntervalOption,
  populateIntervalOption,
} from './batch-options';
import { datalakeOptions, openStoreWithLake } from './datalake-options';
import { limitsFromFlags, limitsOptions } from './limits-options';
import { foldGroups } from './help';
import { parseIntIn, withOptions } from './parse';
import { jobTypeOptions, threadsOption } from './processing-options';
import { loadHandlersFlag } from './handlers-option';
import { checkListenable, untilSignal } from './run-role';
import { defaultNodeId, storeOptions } from './store-options';
import { DEFAULTS } from '../core/defaults';

export const upCommand = foldGroups(
  withOptions(new Command('up').description('every role in one process (in memory when no --redis is given)'), [
    ...storeOptions({ redis: 'optional' }),
    ...apiOptions(),
    threadsOption(),
    ...jobTypeOptions(),
    new Option('--bots <n>', 'bots to run (they talk HTTP to this API)')
      .env('WIZARD_UP_BOTS')
      .default(DEFAULTS.upBots)
      .argParser(parseIntIn('--bots', 0, 100)),
    populateIntervalOption(),
    ...batchOptions(),
    botDownAfterOption(),
    heartbeatIntervalOption(),
    ...datalakeOptions(),
    ...limitsOptions(),
  ]).action(async (flags) => {
    await checkListenable(flags.port, flags.host, '--port', '--host', 'PORT'); // a port taken stops it before any role starts (exit 2)
    await loadHandlersFlag(flags); // a bad module stops the role now (exit 2), before it joins the store
    const batch = batchFromFlags(flags);
    // beyond loopback with no tokens, `up` (the image's default command) keeps its own in a file, named below
    const { api, kept } = apiFromFlags(flags, 'keep');
    const { store, watch } = await openStoreWithLake(flags, 'up');
    const { startUp } = await import('../roles/up');
    const up = await startUp(store, {
      nodeId: flags.nodeId ?? defaultNodeId(),
      ...api,
      ...limitsFromFlags(flags),
      threads: flags.threads ?? os.availableParallelism(),
      botWork: botWorkFromFlags(flags),
      scheduler: { populateIntervalMs: flags.populateIntervalMs, batch, botDownAfterMs: flags.botDownAfterMs },
      bots: { count: flags.bots, heartbeatMs: flags.heartbeatIntervalMs },
      datalakeDir: flags.datalakeDir,
    });
    if (kept) process.stderr.write(keptTokensNotice(kept, up.url));
    await untilSignal(store, [up, watch]);
  }),
  ['store', 'security', 'batch', 'datalake'],
);
