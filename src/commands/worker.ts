import os from 'node:os';
import { Command, Option } from 'commander';
import { parseIntIn, eventRetentionOption, concurrencyOption, defaultNodeId, leaseOption, nodeIdOption, prefixOption, shardsOption, redisOption, resultTtlOption, threadsOption, storeHaOptions } from './options';
import { handlersOption, loadHandlersFlag } from './handlers-option';
import { checkListenable, roleStore, untilSignal } from './run-role';
import { redisTlsOptions } from './security-options';
import { withOptions } from './processing-options';

export const workerCommand = withOptions(new Command('worker')
  .description('consume the queue; CPU-bound work runs in a thread pool')
  .addOption(redisOption())
  .addOption(prefixOption())
    .addOption(shardsOption())
  .addOption(nodeIdOption())
  .addOption(concurrencyOption())
  .addOption(threadsOption())
  .addOption(leaseOption())
  .addOption(new Option('--queue <name>', 'queue to consume').env('WIZARD_QUEUE').default('default'))
  .addOption(resultTtlOption())
  .addOption(eventRetentionOption())
  .addOption(new Option('--metrics-port <n>', 'serve Prometheus GET /metrics on this port (off when unset)').env('WIZARD_METRICS_PORT').argParser(parseIntIn('--metrics-port', 0, 65535)))
  .addOption(new Option('--metrics-host <addr>', 'address the metrics port listens on').env('WIZARD_METRICS_HOST').default('127.0.0.1')), [handlersOption(), ...redisTlsOptions(), ...storeHaOptions()])
  .action(async (flags) => {
  await loadHandlersFlag(flags); // a bad module stops the role now (exit 2), before it joins the store
    if (flags.metricsPort !== undefined) await checkListenable(flags.metricsPort, flags.metricsHost, '--metrics-port', '--metrics-host');
    const nodeId: string = flags.nodeId ?? defaultNodeId();
    const { store, claim } = await roleStore(flags, 'worker', true);
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
    await untilSignal(store, [worker, claim]);
  });
