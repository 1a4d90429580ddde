/**
 * The batch group: the bot batch, the jobs a scheduler makes every interval for bots to claim
 * (and POST /jobs/populate makes when its body does not say), with how bots hold those jobs.
 * Each flag keeps the environment variable the bot batch always had (BATCH_SIZE, FAILURE_RATE, …).
 * batchOptions() is what a batch is (api, scheduler, up); the single options after it are the
 * scheduler's and the bots' timing, taken by the roles that run them.
 */
import { Option } from 'commander';
import {
  BATCH_DEFAULTS,
  BATCH_TYPES,
  BatchSettings,
  BatchSpec,
  batchSpec,
  DEFAULT_BOT_DOWN_AFTER_MS,
  DEFAULT_BOT_QUEUE,
} from '../core/batch';
import type { BotWorkSettings } from '../roles/api/context';
import { parseIntIn, parseJsonObject, parseQueueName, parseRate } from './parse';
import { DEFAULTS } from '../core/defaults';

const DAY_MS = 86_400_000;

/** what a batch is: its size, its jobs' type and params, and the queue it goes to */
export const batchOptions = (): Option[] => [
  new Option('--batch-size <n>', 'jobs per batch')
    .env('BATCH_SIZE')
    .default(BATCH_DEFAULTS.size)
    .argParser(parseIntIn('--batch-size', 1, 10_000)),
  // checked by batchFromFlags once --handlers is loaded: a module's type is a batch type too
  new Option('--job-type <type>', `type of the batch jobs: ${BATCH_TYPES.join(', ')} or a --handlers module's type`)
    .env('WIZARD_JOB_TYPE')
    .default(BATCH_DEFAULTS.type),
  new Option('--job-params <json>', 'params of the batch jobs, a JSON object (for sim: over the two below)')
    .env('WIZARD_JOB_PARAMS')
    .argParser(parseJsonObject('--job-params')),
  new Option('--processing-duration-ms <ms>', 'how long a sim job takes')
    .env('PROCESSING_DURATION_MS')
    .default(BATCH_DEFAULTS.processingDurationMs)
    .argParser(parseIntIn('--processing-duration-ms', 0, DAY_MS)),
  new Option(
    '--failure-rate <r>',
    'share of sim attempts that fail, 0 to 1 (each failure retried as the sim type says)',
  )
    .env('FAILURE_RATE')
    .default(BATCH_DEFAULTS.failureRate)
    .argParser(parseRate('--failure-rate')),
  new Option('--bot-queue <name>', 'the queue batches go to and bots claim from')
    .env('WIZARD_BOT_QUEUE')
    .default(DEFAULT_BOT_QUEUE)
    .argParser(parseQueueName('--bot-queue')),
];

/** the scheduler's interval (scheduler, up) */
export const populateIntervalOption = () =>
  new Option('--populate-interval-ms <ms>', 'make one batch every this long')
    .env('POPULATE_INTERVAL_MS')
    .default(DEFAULTS.populateIntervalMs)
    .argParser(parseIntIn('--populate-interval-ms', 100, DAY_MS));

/** when a silent bot is down (api, scheduler, up) */
export const botDownAfterOption = () =>
  new Option('--bot-down-after-ms <ms>', "a bot silent this long is down; also the lease of a bot's job")
    .env('BOT_DOWN_AFTER_MS')
    .default(DEFAULT_BOT_DOWN_AFTER_MS)
    .argParser(parseIntIn('--bot-down-after-ms', 100, DAY_MS));

/** the scheduler leader's lease (scheduler) */
export const leaderLeaseOption = () =>
  new Option(
    '--leader-lease-ms <ms>',
    "the scheduler leader's lease: a standby takes over this long after the leader dies",
  )
    .env('WIZARD_LEADER_LEASE_MS')
    .default(DEFAULTS.leaderLeaseMs)
    .argParser(parseIntIn('--leader-lease-ms', 100, 600_000));

/** how often a bot heartbeats (bot, up) */
export const heartbeatIntervalOption = () =>
  new Option('--heartbeat-interval-ms <ms>', 'a bot heartbeats this often')
    .env('HEARTBEAT_INTERVAL_MS')
    .default(DEFAULTS.heartbeatIntervalMs)
    .argParser(parseIntIn('--heartbeat-interval-ms', 50, DAY_MS));

export interface BatchFlags {
  batchSize: number;
  jobType: string;
  jobParams?: Record<string, unknown>;
  processingDurationMs: number;
  failureRate: number;
  botQueue: string;
}

export function batchSettings(f: BatchFlags): BatchSettings {
  return {
    size: f.batchSize,
    type: f.jobType,
    params: f.jobParams,
    processingDurationMs: f.processingDurationMs,
    failureRate: f.failureRate,
    queue: f.botQueue,
  };
}

/** the checked batch; a bad --job-params is a usage error naming it (exit 2) */
export function batchFromFlags(f: BatchFlags): BatchSpec {
  return batchSpec(batchSettings(f), { type: '--job-type', params: '--job-params' });
}

/** what an API node (api, up) is told of the bots' work: their queue, their jobs' lease, the default batch */
export function botWorkFromFlags(f: BatchFlags & { botDownAfterMs: number }): BotWorkSettings {
  return { botQueue: f.botQueue, botLeaseMs: f.botDownAfterMs, batch: batchSettings(f) };
}
