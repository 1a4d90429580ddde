import os from 'node:os';
import { Command } from 'commander';
import { foldGroups } from './help';
import { withOptions } from './parse';
import { jobTypeOptions, processingOptions } from './processing-options';
import { loadHandlersFlag } from './handlers-option';
import { checkListenable, roleStore, untilSignal } from './run-role';
import { defaultNodeId, storeOptions } from './store-options';

export const workerCommand = foldGroups(
  withOptions(new Command('worker').description('consume the queue; CPU-bound work runs in a thread pool'), [
    ...storeOptions(),
    ...processingOptions(),
    ...jobTypeOptions(),
  ]).action(async (flags) => {
    await loadHandlersFlag(flags); // a bad module stops the role now (exit 2), before it joins the store
    if (flags.metricsPort !== undefined)
      await checkListenable(
        flags.metricsPort,
        flags.metricsHost,
        '--metrics-port',
        '--metrics-host',
        'WIZARD_METRICS_PORT',
      );
    const nodeId: string = flags.nodeId ?? defaultNodeId();
    const { store, claim, watch } = await roleStore(flags, 'worker', true);
    // its queue is declared, so clients may send jobs to it (a store away now: an admin can still declare it)
    await store.queues.declare(flags.queue).catch(() => undefined);
    const { startWorker } = await import('../roles/worker'); // loaded when it runs: the CLI starts fast
    const worker = startWorker(store, {
      nodeId,
      concurrency: flags.concurrency,
      threads: flags.threads ?? os.availableParallelism(),
      leaseMs: flags.leaseMs,
      queue: flags.queue,
      metricsPort: flags.metricsPort,
      metricsHost: flags.metricsHost,
    });
    await untilSignal(store, [worker, claim, watch]);
  }),
  ['store'],
);
