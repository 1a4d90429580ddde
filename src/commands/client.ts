/** Client commands: they talk to the API over HTTP. */
import { Command, Option } from 'commander';
import { ApiClient } from '../client/http';
import { createUi, Ui } from '../client/ui';
import { DEFAULT_GIVE_UP_AFTER_MS, reportFinal, watchJob } from '../client/watch';
import { JobFailedError, ReportedError, UsageError } from '../core/errors';
import { submitFile } from './submit-file';
import { MATH_OPS } from '../core/math';
import {
  DEDUPE_MODES,
  DEFAULT_PRIORITY,
  MAX_DEDUPE_KEY_LENGTH,
  MAX_DELAY_MS,
  MAX_GROUP_LENGTH,
  MAX_PRIORITY,
  MIN_PRIORITY,
} from '../core/job';
import { PRIMES_MAX_CHUNKS, PRIMES_MAX_N, PRIMES_MIN_N } from '../core/limits';
import { apiOption, caFromFlags, caOption, jsonOption } from './client-options';
import { tokenOfRole } from './secret-files';
import { helpList } from './help';
import {
  parseDuration,
  parseIntIn,
  parseIsoTime,
  parseJobId,
  parseJsonObject,
  parseName,
  parseNumber,
  parseQueueName,
  secretOption,
} from './parse';
import type { Reply } from '../client/replies';

export const tokenOption = () => secretOption('--token <token>', 'bearer token for the API', 'WIZARD_TOKEN');
/** a tokens file (the API's, `wizard tokens init`): without --token, the command sends its role's token from it */
export const tokensFileOption = () =>
  new Option(
    '--tokens-file <file>',
    "without --token: send this tokens file's client token (its admin token for admin commands)",
  ).env('WIZARD_TOKENS_FILE');
const timeoutOption = () =>
  new Option('--timeout-ms <ms>', 'give up waiting after this long (0: never)')
    .default(0)
    .argParser(parseIntIn('--timeout-ms', 0));
const giveUpOption = () =>
  new Option(
    '--give-up-after-ms <ms>',
    'once the API was reached, how long it may stay unreachable (restarting) before exit 3',
  )
    .env('WIZARD_GIVE_UP_AFTER_MS')
    .default(DEFAULT_GIVE_UP_AFTER_MS)
    .argParser(parseIntIn('--give-up-after-ms', 0));

/** the flags of waiting for a job: --timeout-ms and --give-up-after-ms */
const withWaitFlags = (cmd: Command): Command => cmd.addOption(timeoutOption()).addOption(giveUpOption());

/** the job options every submit takes: --delay or --at, --priority, --key, --timeout, --attempts, --queue */
const withJobFlags = (cmd: Command): Command =>
  cmd
    .addOption(
      new Option('--delay <duration>', 'start no sooner than this from now: 5s, 2m, 1h, up to 30d')
        .argParser(parseDuration('--delay', 0, MAX_DELAY_MS))
        .conflicts('at'),
    )
    .addOption(
      new Option('--at <iso>', 'start no sooner than this time (ISO 8601, at most 30 days ahead)').argParser(
        parseIsoTime('--at'),
      ),
    )
    .addOption(
      new Option('--priority <n>', `0 (most urgent) to 9; ${DEFAULT_PRIORITY} by default`).argParser(
        parseIntIn('--priority', MIN_PRIORITY, MAX_PRIORITY),
      ),
    )
    .addOption(
      new Option(
        '--key <key>',
        'an idempotency key (1-200 of letters, digits, _ . -): submitting again with it answers the first job',
      ).argParser(parseName('--key', 200)),
    )
    .addOption(
      new Option(
        '--timeout <duration>',
        'abort an attempt that runs longer (then the retry policy applies): 30s, 5m',
      ).argParser(parseDuration('--timeout', 1, 86_400_000)),
    )
    .addOption(
      new Option('--attempts <n>', 'attempts before the job is DEAD').argParser(parseIntIn('--attempts', 1, 100)),
    )
    .addOption(
      new Option(
        '--group <group>',
        "the job's group (a tenant, a user: 1-128 of letters, digits, _ . -): a queue's groups take turns (docs/flow-control.md)",
      ).argParser(parseName('--group', MAX_GROUP_LENGTH)),
    )
    .addOption(
      new Option(
        '--queue <name>',
        "a declared queue the job's type may go to (default: the type's own, else default)",
      ).argParser(parseQueueName('--queue')),
    );

interface JobFlags {
  delay?: number;
  at?: string;
  priority?: number;
  key?: string;
  timeout?: number;
  attempts?: number;
  queue?: string;
  group?: string;
}

/** the job flags as the API's job options */
function jobOptions(f: JobFlags): Record<string, unknown> {
  const o = {
    delay_ms: f.delay,
    run_at: f.at,
    priority: f.priority,
    idempotency_key: f.key,
    timeout_ms: f.timeout,
    attempts: f.attempts,
    queue: f.queue,
    group: f.group,
  };
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

/** the flags of a debounce or throttle window (POST /jobs's dedupe: docs/flow-control.md) */
const withDedupeFlags = (cmd: Command): Command =>
  cmd
    .addOption(
      new Option(
        '--dedupe-key <key>',
        "a debounce or throttle window's key (1-200 of letters, digits, _ . -): with --dedupe-ttl and --dedupe-mode",
      )
        .argParser(parseName('--dedupe-key', MAX_DEDUPE_KEY_LENGTH))
        .conflicts(['file', 'key']),
    )
    .addOption(
      new Option(
        '--dedupe-ttl <duration>',
        'the window: throttle, how long the first job answers for the key; debounce, how long the job waits after each submit (10s, 1m)',
      ).argParser(parseDuration('--dedupe-ttl', 1, MAX_DELAY_MS)),
    )
    .addOption(
      new Option('--dedupe-mode <mode>', 'throttle: the first job wins; debounce: the last params run, once').choices(
        DEDUPE_MODES as unknown as string[],
      ),
    )
    .addOption(
      new Option(
        '--dedupe-max-wait <duration>',
        'debounce: the job starts at most this long after the first submit',
      ).argParser(parseDuration('--dedupe-max-wait', 1, MAX_DELAY_MS)),
    );

interface DedupeFlags {
  dedupeKey?: string;
  dedupeTtl?: number;
  dedupeMode?: string;
  dedupeMaxWait?: number;
  delay?: number;
  at?: string;
}

/** the dedupe flags as POST /jobs's dedupe, or nothing; a flag missing or out of place is a usage error naming it */
function dedupeOption(f: DedupeFlags): { dedupe?: Record<string, unknown> } {
  const given = f.dedupeKey ?? f.dedupeTtl ?? f.dedupeMode ?? f.dedupeMaxWait;
  if (given === undefined) return {};
  const missing = (
    [
      ['--dedupe-key', f.dedupeKey],
      ['--dedupe-ttl', f.dedupeTtl],
      ['--dedupe-mode', f.dedupeMode],
    ] as const
  ).find(([, v]) => v === undefined);
  if (missing) throw new UsageError(`${missing[0]} is needed with the other --dedupe-* flags`);
  if (f.dedupeMaxWait !== undefined && f.dedupeMode !== 'debounce')
    throw new UsageError('--dedupe-max-wait is for --dedupe-mode debounce only');
  if (f.dedupeMaxWait !== undefined && f.dedupeMaxWait < f.dedupeTtl!)
    throw new UsageError('--dedupe-max-wait must be at least --dedupe-ttl');
  if (f.dedupeMode === 'debounce' && (f.delay !== undefined || f.at !== undefined))
    throw new UsageError(
      `${f.delay !== undefined ? '--delay' : '--at'} cannot be given to a debounced job: it waits --dedupe-ttl`,
    );
  return {
    dedupe: {
      key: f.dedupeKey,
      ttl_ms: f.dedupeTtl,
      mode: f.dedupeMode,
      ...(f.dedupeMaxWait === undefined ? {} : { max_wait_ms: f.dedupeMaxWait }),
    },
  };
}

/** the exit codes of watch and submit --watch, for their help (each fitted to the width, as commander's own text is) */
const WATCH_EXIT_CODES: [string, string][] = [
  ['0', 'the job ended in SUCCESS'],
  [
    '1',
    'the job ended in FAILURE, DEAD or CANCELLED, no longer exists (expired, or Redis lost it), or --timeout-ms passed',
  ],
  ['2', 'a usage error: a bad flag or value (the message names it)'],
  [
    '3',
    'the API cannot be reached: at once when it never answered; once it did, after it stayed away for --give-up-after-ms (60 s by default) while the watch reconnected with backoff',
  ],
];

const watchExitCodes = () => helpList('Exit codes:', WATCH_EXIT_CODES);

/** the flags every client command has: --api, --token, --tokens-file, --ca, --json */
export function withClientFlags(cmd: Command): Command {
  return cmd
    .addOption(apiOption())
    .addOption(tokenOption())
    .addOption(tokensFileOption())
    .addOption(caOption())
    .addOption(jsonOption());
}

/** a client command: --api, --token and --json */
export function clientCommand(name: string, description: string): Command {
  return withClientFlags(new Command(name).description(description));
}

interface ClientFlags {
  api: string;
  token?: string;
  tokensFile?: string;
  ca?: string;
}

/** what a client command's action works with: the output and the API (an admin command: `role` admin) */
export function clientOf(
  flags: ClientFlags & { json?: boolean; wide?: boolean },
  role: 'client' | 'admin' = 'client',
): { ui: Ui; api: ApiClient } {
  return { ui: createUi(flags), api: apiClientOf(flags, role) };
}

/**
 * the API client of --api, --token (else the token of `role` in --tokens-file: the client one for
 * what a client may do, the admin one for an admin command) and --ca
 */
export function apiClientOf(flags: ClientFlags, role: 'client' | 'admin' = 'client'): ApiClient {
  const token = flags.token ?? (flags.tokensFile ? tokenOfRole(flags.tokensFile, role) : undefined);
  return new ApiClient(flags.api, token, undefined, caFromFlags(flags));
}

interface WatchFlags {
  api: string;
  token?: string;
  json?: boolean;
  watch?: boolean;
  timeoutMs: number;
  giveUpAfterMs: number;
}

/** print a watched job's final state; a failure is said once, by its line on stdout (under --json, stdout has the record and stderr this line) */
function reportOnce(ui: Ui, job: Reply<'job'>): void {
  try {
    reportFinal(ui, job);
  } catch (err) {
    throw err instanceof JobFailedError && !ui.json ? new ReportedError(err) : err;
  }
}

/** submit, then either say how to watch or watch until the final state */
async function submitAndMaybeWatch(
  flags: WatchFlags,
  what: string,
  submit: (api: ApiClient) => Promise<{ id: string; status: string; body: unknown; deduplicated?: boolean }>,
) {
  const { ui, api } = clientOf(flags);
  const { id, status, body, deduplicated } = await submit(api);
  if (flags.watch) {
    // the submit was answered: from here an API that goes away is waited for
    return reportOnce(
      ui,
      await watchJob(api, ui, id, { timeoutMs: flags.timeoutMs, giveUpAfterMs: flags.giveUpAfterMs, reached: true }),
    );
  }
  if (ui.json) ui.data(body);
  if (deduplicated) ui.line(`deduplicated: ${what} ${ui.c.bold(id)} (${status}) is the dedupe window's job`);
  else ui.line(`submitted ${what} ${ui.c.bold(id)} (${status})`);
  ui.line(`watch it: wizard watch ${id}`);
}

const submitTask = withJobFlags(
  withWaitFlags(
    clientCommand('task', 'submit a math task: a <op> b')
      .requiredOption('--a <number>', 'first operand', parseNumber('--a'))
      .requiredOption('--b <number>', 'second operand', parseNumber('--b'))
      .addOption(new Option('--op <op>', 'operation').choices(MATH_OPS as unknown as string[]).default('add'))
      .option('--watch', 'wait for the result (exit codes as wizard watch)'),
  ),
).action((flags) =>
  submitAndMaybeWatch(flags, 'task', async (api) => {
    const body = await api.post<Reply<'taskAccepted'>>('/task', {
      a: flags.a,
      b: flags.b,
      op: flags.op,
      ...jobOptions(flags),
    });
    return { id: body.task_id, status: body.status, body };
  }),
);

const submitPrimes = withJobFlags(
  withWaitFlags(
    clientCommand('primes', 'count the primes <= n in chunks spread over the workers')
      .requiredOption('--n <n>', 'upper bound, 10000 to 10^12', parseIntIn('--n', PRIMES_MIN_N, PRIMES_MAX_N))
      .requiredOption('--chunks <k>', 'number of chunks, 1 to 128', parseIntIn('--chunks', 1, PRIMES_MAX_CHUNKS))
      .option('--watch', 'show live progress and wait for the result (exit codes as wizard watch)'),
  ),
).action((flags) =>
  submitAndMaybeWatch(flags, 'prime count', async (api) => {
    const body = await api.post<Reply<'primesAccepted'>>('/api/count-primes', {
      n: flags.n,
      chunks: flags.chunks,
      ...jobOptions(flags),
    });
    return { id: body.job_id, status: body.status, body };
  }),
);

/**
 * `submit <type> --params '<json>'`: a job of any type (POST /jobs), a --handlers module's too.
 * It is submit's default subcommand (`submit job <type>` spelled out), so `submit task` and
 * `submit primes` keep their flags and every flag stays its subcommand's.
 */
const submitJob = withDedupeFlags(
  withJobFlags(
    withWaitFlags(
      clientCommand(
        'job',
        'submit a job of any type: submit <type> --params <json> (the default: "job" may be left out); or many: submit --file jobs.ndjson',
      )
        .argument('[type]', 'the job type: a built-in one or one a --handlers module defines')
        .addOption(
          new Option('--params <json>', "the job's params, a JSON object").argParser(parseJsonObject('--params')),
        )
        .addOption(
          new Option(
            '--file <jobs.ndjson>',
            "make the jobs of this file in one request (POST /jobs/bulk): one JSON object a line, {type, params, ...options}; the job flags are their defaults, --key the whole submit's idempotency key",
          ).conflicts(['params', 'watch']),
        )
        .option('--watch', 'show live progress and wait for the result (exit codes as wizard watch)'),
    ),
  ),
).action(async (type: string | undefined, flags) => {
  if (flags.file === undefined) {
    if (type === undefined)
      throw new UsageError('give a job type (submit <type> --params <json>) or --file <jobs.ndjson>');
    const window = dedupeOption(flags);
    return submitAndMaybeWatch(flags, type, async (api) => {
      const body = await api.post<Reply<'submitted'>>('/jobs', {
        type,
        params: flags.params ?? {},
        ...jobOptions(flags),
        ...window,
      });
      return { id: body.job_id, status: body.status, body, deduplicated: body.deduplicated };
    });
  }
  if (type !== undefined) throw new UsageError(`give a job type or --file, not both (got type '${type}')`);
  const { ui, api } = clientOf(flags);
  const { idempotency_key: key, ...defaults } = jobOptions(flags);
  const body = await submitFile(api, flags.file, defaults, key as string | undefined);
  if (ui.json) return ui.data(body);
  const before = body.jobs.filter((j) => j.existing).length;
  ui.line(
    `submitted ${body.jobs.length} jobs from ${flags.file}${before > 0 ? ` (${before} made before, under --key)` : ''}`,
  );
  for (const j of body.jobs) ui.line(`${j.job_id} ${j.state}`);
});

export const submitCommand = new Command('submit')
  .description(
    'submit work to the API: submit <type> --params <json> (any type), or submit task / submit primes with their flags',
  )
  .addCommand(submitTask)
  .addCommand(submitPrimes)
  .addCommand(submitJob, { isDefault: true });

export const watchCommand = withWaitFlags(
  clientCommand(
    'watch',
    'wait for a job and print its final state (exit 0 on SUCCESS; 1 on FAILURE, DEAD or CANCELLED)',
  ),
)
  .argument('<id>', 'job or task id (whole)', parseJobId())
  .addHelpText('after', watchExitCodes)
  .action(async (id: string, flags) => {
    const { ui, api } = clientOf(flags);
    reportOnce(ui, await watchJob(api, ui, id, { timeoutMs: flags.timeoutMs, giveUpAfterMs: flags.giveUpAfterMs }));
  });
