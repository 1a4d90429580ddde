import { Command } from 'commander';
import {
  batchFromFlags,
  batchOptions,
  botDownAfterOption,
  leaderLeaseOption,
  populateIntervalOption,
} from './batch-options';
import { datalakeOptions, openStoreWithLake } from './datalake-options';
import { foldGroups } from './help';
import { withOptions } from './parse';
import { jobTypeOptions } from './processing-options';
import { loadHandlersFlag } from './handlers-option';
import { untilSignal } from './run-role';
import { defaultNodeId, storeOptions } from './store-options';

export const schedulerCommand = foldGroups(
  withOptions(
    new Command('scheduler').description(
      'make a batch of jobs every interval (one leader across the cluster); mark silent bots down; recover stalled work',
    ),
    [
      ...storeOptions(),
      ...jobTypeOptions(),
      populateIntervalOption(),
      ...batchOptions(),
      botDownAfterOption(),
      leaderLeaseOption(),
      ...datalakeOptions(),
    ],
  ).action(async (flags) => {
    await loadHandlersFlag(flags); // a schedule's jobs of a module's type get that type's attempts
    const batch = batchFromFlags(flags);
    const nodeId: string = flags.nodeId ?? defaultNodeId();
    const { store, claim, watch } = await openStoreWithLake(flags, 'scheduler', true);
    const { startScheduler } = await import('../roles/scheduler');
    const scheduler = startScheduler(store, {
      nodeId,
      populateIntervalMs: flags.populateIntervalMs,
      batch,
      botDownAfterMs: flags.botDownAfterMs,
      leaderLeaseMs: flags.leaderLeaseMs,
      datalakeDir: flags.datalakeDir,
    });
    await untilSignal(store, [scheduler, claim, watch]);
  }),
  ['store', 'datalake'],
);
