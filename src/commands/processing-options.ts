/**
 * The processing group: how a node runs jobs itself (worker; `up` runs a worker and takes
 * --threads). jobTypeOptions() is the place for what every role that runs or accepts jobs
 * (worker, api, up, scheduler) is told about the job types.
 */
import { Option } from 'commander';
import { handlersOption } from './handlers-option';
import { parseIntIn, parseQueueName } from './parse';
import { DEFAULTS } from '../core/defaults';

export const threadsOption = () =>
  new Option('--threads <n>', 'threads of the CPU pool (default: number of CPUs)')
    .env('WIZARD_THREADS')
    .argParser(parseIntIn('--threads', 1, 256));

/** the worker's options */
export const processingOptions = (): Option[] => [
  new Option('--concurrency <n>', 'jobs in flight at once')
    .env('WIZARD_CONCURRENCY')
    .default(DEFAULTS.concurrency)
    .argParser(parseIntIn('--concurrency', 1, 10_000)),
  threadsOption(),
  new Option('--lease-ms <ms>', 'lease on a claimed job; renewed at a third of it')
    .env('WIZARD_LEASE_MS')
    .default(DEFAULTS.leaseMs)
    .argParser(parseIntIn('--lease-ms', 100, 3_600_000)),
  new Option('--queue <name>', 'queue to consume (the worker declares it: clients may then send jobs to it)')
    .env('WIZARD_QUEUE')
    .default('default')
    .argParser(parseQueueName('--queue')),
  new Option('--metrics-port <n>', 'serve Prometheus GET /metrics on this port (off when unset)')
    .env('WIZARD_METRICS_PORT')
    .argParser(parseIntIn('--metrics-port', 0, 65535)),
  new Option('--metrics-host <addr>', 'address the metrics port listens on')
    .env('WIZARD_METRICS_HOST')
    .default(DEFAULTS.metricsHost),
];

/** the job types' options, shared by worker, api and up (none yet) */
/** what a role that runs, accepts or schedules jobs is told about the job types: --handlers */
export const jobTypeOptions = (): Option[] => [handlersOption()];
