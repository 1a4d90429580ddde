import os from 'node:os';
import { Command, InvalidArgumentError, Option } from 'commander';
import { BOT_DEFAULTS, startBots } from '../roles/bot';
import { ENV_NAME, EXEC_ENV, EXEC_GRACE_MS } from '../roles/bot-exec';
import { heartbeatIntervalOption } from './batch-options';
import { apiOption, caFromFlags, caOption } from './client-options';
import { parseIntIn, parseQueueName } from './parse';
import { UsageError } from '../core/errors';
import { traceRole } from '../util/tracing';
import { untilSignal } from './run-role';
import { tokenOption } from './client';
import { tokenOfRole } from './secret-files';

function parseCommand(value: string): string {
  if (value.trim() === '') throw new InvalidArgumentError('--exec must be a command, got an empty string');
  return value;
}

/** --exec-env NAME (repeatable) or WIZARD_BOT_EXEC_ENV=NAME,NAME: variable names, added to the ones before */
function parseEnvNames(value: string, previous: string[] = []): string[] {
  const names = value
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n !== '');
  for (const n of names)
    if (!ENV_NAME.test(n))
      throw new InvalidArgumentError(
        `--exec-env takes names of environment variables (letters, digits, _), got '${n}'`,
      );
  return [...previous, ...names];
}

export const botCommand = new Command('bot')
  .description('run bots that register with the API, heartbeat and process one job at a time (HTTP only)')
  .addOption(apiOption())
  .addOption(tokenOption())
  .addOption(caOption())
  .addOption(
    new Option('--tokens-file <file>', "without --token: register with this tokens file's first bot-role token").env(
      'WIZARD_TOKENS_FILE',
    ),
  )
  .addOption(
    new Option('--count <n>', 'bots in this process')
      .env('WIZARD_BOT_COUNT')
      .default(1)
      .argParser(parseIntIn('--count', 1, 100)),
  )
  .addOption(
    new Option('--name <name>', 'bot name (with --count N: <name>-1 … <name>-N; default <hostname>-<pid>)').env(
      'WIZARD_BOT_NAME',
    ),
  )
  .addOption(heartbeatIntervalOption())
  .addOption(
    new Option('--poll-ms <ms>', 'an idle bot asks for work this often')
      .env('WIZARD_BOT_POLL_MS')
      .default(BOT_DEFAULTS.pollMs)
      .argParser(parseIntIn('--poll-ms', 10, 600_000)),
  )
  .addOption(
    new Option(
      '--exec <command>',
      'run each job with this shell command: params as JSON on stdin, WIZARD_JOB_ID/TYPE/ATTEMPT in its env, JSON on stdout as the result',
    )
      .env('WIZARD_BOT_EXEC')
      .argParser(parseCommand),
  )
  .addOption(
    new Option(
      '--queue <name>',
      "with --exec: claim from this queue, a --handlers type's with no run (default: the API's bot queue)",
    ).argParser(parseQueueName('--queue')),
  )
  .addOption(
    new Option(
      '--exec-env <name>',
      `pass this variable of the bot's environment to the --exec command (repeatable, or comma-separated); it gets ${EXEC_ENV.join(', ')} and WIZARD_JOB_* otherwise`,
    )
      .env('WIZARD_BOT_EXEC_ENV')
      .argParser(parseEnvNames),
  )
  .addOption(
    new Option('--exec-grace-ms <ms>', 'an aborted command gets SIGTERM, then SIGKILL this much later')
      .env('WIZARD_BOT_EXEC_GRACE_MS')
      .default(EXEC_GRACE_MS)
      .argParser(parseIntIn('--exec-grace-ms', 0, 600_000)),
  )
  .action(async (flags) => {
    if (flags.queue !== undefined && flags.exec === undefined) {
      throw new UsageError(
        '--queue needs --exec: a bot without a command runs only sim and task jobs, which come on the bot queue',
      );
    }
    const token: string | undefined =
      flags.token ?? (flags.tokensFile ? tokenOfRole(flags.tokensFile, 'bot') : undefined);
    traceRole('bot');
    const bots = startBots(flags.count, {
      api: flags.api,
      name: flags.name ?? `${os.hostname()}-${process.pid}`,
      heartbeatMs: flags.heartbeatIntervalMs,
      pollMs: flags.pollMs,
      token,
      ca: caFromFlags(flags),
      exec: flags.exec,
      queue: flags.queue,
      execGraceMs: flags.execGraceMs,
      execEnv: flags.execEnv,
    });
    await untilSignal(null, [bots]);
  });
