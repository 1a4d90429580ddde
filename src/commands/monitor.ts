/** Client commands of the bots' work: they talk to the API over HTTP and print tables (or --json). */
import { Command, InvalidArgumentError, Option } from 'commander';
import { exportLake, showBots, showJobs, showLakeStats, showStatus } from '../client/reports';
import { createUi } from '../client/ui';
import { apiClientOf, tokenOption, tokensFileOption, withClientFlags } from './client';
import { apiOption, caOption, wideOption } from './client-options';
import { parseIntIn } from './parse';
import { JOB_STATES } from '../core/job';
import { STATUS_NAMES } from '../core/schemas';

const client = apiClientOf;

/** seed 004's own names for states (claimed, processing, …), which ?status= takes too */
const SEED_STATUS_NAMES = STATUS_NAMES.filter(
  (s) => s === s.toLowerCase() && !(JOB_STATES as readonly string[]).includes(s.toUpperCase()),
);

/** a state or a seed 004 status name, in any case, as the API takes it (upper case) */
function parseStatus(value: string): string {
  const upper = value.toUpperCase();
  if (!STATUS_NAMES.includes(upper)) {
    throw new InvalidArgumentError(
      `--status must be one of ${JOB_STATES.join(', ')} or ${SEED_STATUS_NAMES.join(', ')} (any case), got '${value}'`,
    );
  }
  return upper;
}

export const jobsCommand = withClientFlags(new Command('jobs'))
  .description('list jobs, newest first')
  .addOption(
    new Option(
      '--status <state>',
      `only jobs in this state: ${JOB_STATES.join(', ')}, or seed 004's ${SEED_STATUS_NAMES.join(', ')} (any case)`,
    ).argParser(parseStatus),
  )
  .addOption(wideOption())
  .addOption(new Option('--limit <n>', 'at most this many').default(20).argParser(parseIntIn('--limit', 1, 500)))
  .addOption(new Option('--offset <n>', 'skip this many').default(0).argParser(parseIntIn('--offset', 0, 1_000_000)))
  .action(async (flags) => showJobs(client(flags), createUi(flags), flags));

export const botsCommand = withClientFlags(new Command('bots'))
  .description('list bots: up or down, their current job, jobs done and failed')
  .addOption(wideOption())
  .action(async (flags) => showBots(client(flags), createUi(flags)));

export const statusCommand = withClientFlags(new Command('status'))
  .description('the summary: jobs by state, bots up and down, throughput, success rate')
  .action(async (flags) => showStatus(client(flags), createUi(flags)));

export const datalakeCommand = new Command('datalake')
  .description('the datalake of finished jobs')
  .addCommand(
    withClientFlags(new Command('stats'))
      .description('records per day, success rate, mean duration')
      .action(async (flags) => showLakeStats(client(flags), createUi(flags))),
  )
  .addCommand(
    new Command('export')
      .description("write a day's records to stdout, one JSON object a line (NDJSON)")
      .argument('<date>', 'the UTC day, YYYY-MM-DD')
      .addOption(apiOption())
      .addOption(tokenOption())
      .addOption(tokensFileOption())
      .addOption(caOption())
      .action(async (date: string, flags) => exportLake(client(flags), date, process.stdout)),
  );
