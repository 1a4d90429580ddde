/**
 * The limits group (api, up): the queues an API node declares besides its own (--queues), the
 * bounds of what one request may ask (--max-duration-ms, --max-attempts, --max-delay-ms) and the
 * quotas of one token (--quota-jobs, --quota-cpu-seconds, --quota-streams; 0 turns one off; with
 * no API tokens there are none). src/core/quotas.ts says what each is.
 */
import { InvalidArgumentError, Option } from 'commander';
import { isSafeName, SAFE_ALPHABET } from '../core/ids';
import { MAX_DELAY_MS } from '../core/job';
import { LIMIT_DEFAULTS, Limits } from '../core/quotas';
import { parseIntIn } from './parse';

const DAY_MS = 86_400_000;
const { bounds: B, quotas: Q } = LIMIT_DEFAULTS;

/** --queues: queue names, comma-separated, each 1-64 of the safe alphabet */
function parseQueueList(value: string): string[] {
  const names = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const bad = names.find((n) => !isSafeName(n, 1, 64));
  if (bad !== undefined)
    throw new InvalidArgumentError(
      `--queues takes queue names, comma-separated, each 1-64 of ${SAFE_ALPHABET}, got '${bad}'`,
    );
  return [...new Set(names)];
}

export const limitsOptions = (): Option[] => [
  new Option(
    '--queues <list>',
    "more queues clients may send jobs to, comma-separated (default, the bot queue and the --handlers types' queues are declared anyway)",
  )
    .env('WIZARD_QUEUES')
    .argParser(parseQueueList),
  new Option('--max-duration-ms <ms>', 'the longest duration_ms a request may give a sim job')
    .env('WIZARD_MAX_DURATION_MS')
    .default(B.maxDurationMs)
    .argParser(parseIntIn('--max-duration-ms', 0, DAY_MS)),
  new Option('--max-attempts <n>', 'the most attempts a request may give a job')
    .env('WIZARD_MAX_ATTEMPTS')
    .default(B.maxAttempts)
    .argParser(parseIntIn('--max-attempts', 1, 100)),
  new Option('--max-delay-ms <ms>', 'the longest delay a request may give a job (delay_ms, or run_at from now)')
    .env('WIZARD_MAX_DELAY_MS')
    .default(B.maxDelayMs)
    .argParser(parseIntIn('--max-delay-ms', 0, MAX_DELAY_MS)),
  new Option('--quota-jobs <n>', "jobs a token (not an admin's) may have that have not finished (0: no quota)")
    .env('WIZARD_QUOTA_JOBS')
    .default(Q.jobs)
    .argParser(parseIntIn('--quota-jobs', 0)),
  new Option(
    '--quota-cpu-seconds <s>',
    "core-seconds of work a token (not an admin's) may submit an hour: a prime count's estimate, a sim's duration_ms x attempts (0: no quota)",
  )
    .env('WIZARD_QUOTA_CPU_SECONDS')
    .default(Q.cpuSeconds)
    .argParser(parseIntIn('--quota-cpu-seconds', 0)),
  new Option(
    '--quota-streams <n>',
    "event streams a token (not an admin's) may hold open on one API node (0: no quota)",
  )
    .env('WIZARD_QUOTA_STREAMS')
    .default(Q.streams)
    .argParser(parseIntIn('--quota-streams', 0, 100_000)),
];

export interface LimitsFlags {
  queues?: string[];
  maxDurationMs: number;
  maxAttempts: number;
  maxDelayMs: number;
  quotaJobs: number;
  quotaCpuSeconds: number;
  quotaStreams: number;
}

/** what an API node is started with (startApi's queues and limits) */
export function limitsFromFlags(f: LimitsFlags): { queues: string[]; limits: Limits } {
  return {
    queues: f.queues ?? [],
    limits: {
      bounds: { maxDurationMs: f.maxDurationMs, maxAttempts: f.maxAttempts, maxDelayMs: f.maxDelayMs },
      quotas: { jobs: f.quotaJobs, cpuSeconds: f.quotaCpuSeconds, streams: f.quotaStreams },
    },
  };
}
