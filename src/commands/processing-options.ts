/**
 * Seed 004's flags (scheduler, bot, api, up): each with its environment variable (seed 004's
 * names where it has one) and a parser whose message names the flag (exit code 2).
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { BATCH_DEFAULTS, BATCH_TYPES, BatchSettings, BatchSpec, batchSpec, DEFAULT_BOT_DOWN_AFTER_MS, DEFAULT_BOT_QUEUE } from '../core/batch';
import { parseLakeRecords } from '../core/datalake';
import { errorMessage } from '../core/errors';
import type { ProcessingSettings } from '../roles/api/context';
import type { Store } from '../store/types';
import { parseIntIn, parseNumber } from './options';
import { roleStore, RoleStore, StoreFlags } from './run-role';

const DAY_MS = 86_400_000;

export function parseJsonObject(flag: string) {
  return (value: string): Record<string, unknown> => {
    let v: unknown;
    try {
      v = JSON.parse(value);
    } catch {
      throw new InvalidArgumentError(`${flag} must be a JSON object, got '${value}'`);
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new InvalidArgumentError(`${flag} must be a JSON object, got '${value}'`);
    return v as Record<string, unknown>;
  };
}

function parseRate(flag: string) {
  return (value: string): number => {
    const n = parseNumber(flag)(value);
    if (n < 0 || n > 1) throw new InvalidArgumentError(`${flag} must be a number from 0 to 1, got '${value}'`);
    return n;
  };
}

function parseQueue(flag: string) {
  return (value: string): string => {
    if (!/^[\w.:-]{1,64}$/.test(value)) throw new InvalidArgumentError(`${flag} must be 1-64 of letters, digits, _ . : -, got '${value}'`);
    return value;
  };
}

export const populateIntervalOption = () =>
  new Option('--populate-interval-ms <ms>', 'make one batch every this long').env('POPULATE_INTERVAL_MS').default(600_000).argParser(parseIntIn('--populate-interval-ms', 100, DAY_MS));

export const botDownAfterOption = () =>
  new Option('--bot-down-after-ms <ms>', "a bot silent this long is down; also the lease of a bot's job").env('BOT_DOWN_AFTER_MS').default(DEFAULT_BOT_DOWN_AFTER_MS).argParser(parseIntIn('--bot-down-after-ms', 100, DAY_MS));

export const leaderLeaseOption = () =>
  new Option('--leader-lease-ms <ms>', "the scheduler leader's lease: a standby takes over this long after the leader dies").env('WIZARD_LEADER_LEASE_MS').default(5_000).argParser(parseIntIn('--leader-lease-ms', 100, 600_000));

export const heartbeatIntervalOption = () =>
  new Option('--heartbeat-interval-ms <ms>', 'a bot heartbeats this often').env('HEARTBEAT_INTERVAL_MS').default(30_000).argParser(parseIntIn('--heartbeat-interval-ms', 50, DAY_MS));

/** the batch a scheduler makes every interval (and POST /jobs/populate by default) */
export const batchOptions = (): Option[] => [
  new Option('--batch-size <n>', 'jobs per batch').env('BATCH_SIZE').default(BATCH_DEFAULTS.size).argParser(parseIntIn('--batch-size', 1, 10_000)),
  new Option('--job-type <type>', 'type of the batch jobs').env('WIZARD_JOB_TYPE').default(BATCH_DEFAULTS.type).choices(BATCH_TYPES),
  new Option('--job-params <json>', 'params of the batch jobs, a JSON object (for sim: over the two below)').env('WIZARD_JOB_PARAMS').argParser(parseJsonObject('--job-params')),
  new Option('--processing-duration-ms <ms>', 'how long a sim job takes').env('PROCESSING_DURATION_MS').default(BATCH_DEFAULTS.processingDurationMs).argParser(parseIntIn('--processing-duration-ms', 0, DAY_MS)),
  new Option('--failure-rate <r>', 'share of sim jobs that fail, 0 to 1').env('FAILURE_RATE').default(BATCH_DEFAULTS.failureRate).argParser(parseRate('--failure-rate')),
  new Option('--bot-queue <name>', 'the queue batches go to and bots claim from').env('WIZARD_BOT_QUEUE').default(DEFAULT_BOT_QUEUE).argParser(parseQueue('--bot-queue')),
];

/** the datalake's cluster-wide settings: written to the store at start when given */
export const datalakeOptions = (): Option[] => [
  new Option('--datalake <records>', "what the datalake records, cluster-wide: all, none or type,type (unset: keep the cluster's; all at first)")
    .env('WIZARD_DATALAKE')
    .argParser((v: string) => {
      try {
        return parseLakeRecords(v, '--datalake');
      } catch (err) {
        throw new InvalidArgumentError(errorMessage(err));
      }
    }),
  new Option('--datalake-retention-days <n>', "days the datalake keeps, cluster-wide (unset: keep the cluster's; 30 at first)").env('WIZARD_DATALAKE_RETENTION_DAYS').argParser(parseIntIn('--datalake-retention-days', 1, 36_500)),
];

export function withOptions(cmd: Command, options: Option[]): Command {
  for (const o of options) cmd.addOption(o);
  return cmd;
}

export interface BatchFlags {
  batchSize: number;
  jobType: string;
  jobParams?: Record<string, unknown>;
  processingDurationMs: number;
  failureRate: number;
  botQueue: string;
}

export function batchSettings(f: BatchFlags): BatchSettings {
  return { size: f.batchSize, type: f.jobType, params: f.jobParams, processingDurationMs: f.processingDurationMs, failureRate: f.failureRate, queue: f.botQueue };
}

/** the checked batch; a bad --job-params is a usage error naming it (exit 2) */
export function batchFromFlags(f: BatchFlags): BatchSpec {
  return batchSpec(batchSettings(f), { type: '--job-type', params: '--job-params' });
}


/** what an API node (api, up) is told of seed 004: the admin token, the bots' queue and lease, the batch */
export function apiSettings(f: BatchFlags & { adminToken?: string; botDownAfterMs: number }): { adminToken?: string; processing: ProcessingSettings } {
  return { adminToken: f.adminToken || undefined, processing: { botQueue: f.botQueue, botLeaseMs: f.botDownAfterMs, batch: batchSettings(f) } };
}

/** open the role's store (roleStore) and write the datalake flags (when given) to it */
export async function openStoreWithLake(f: StoreFlags & { datalake?: string; datalakeRetentionDays?: number }, role: string, claimId = false): Promise<RoleStore> {
  const opened = await roleStore(f, role, claimId);
  if (f.datalake !== undefined || f.datalakeRetentionDays !== undefined) await opened.store.configureDatalake({ records: f.datalake, retentionDays: f.datalakeRetentionDays });
  return opened;
}
