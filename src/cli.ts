/**
 * The `wizard` program: composes the subcommands and picks the exit code, nothing else.
 * 0 success; 1 the job or command failed; 2 usage error; 3 cannot reach the API or Redis.
 */
import { Command, CommanderError } from 'commander';
import { abacusCommand } from './commands/abacus';
import { apiCommand } from './commands/api';
import { dlqCommand } from './commands/dlq';
import { cancelCommand, queueCommand, queuesCommand } from './commands/jobctl';
import { flowCommand } from './commands/flow';
import { schedulesCommand } from './commands/schedules';
import { healthcheckCommand } from './commands/healthcheck';
import { botCommand } from './commands/bot';
import { submitCommand, watchCommand } from './commands/client';
import { botsCommand, datalakeCommand, jobsCommand, statusCommand } from './commands/monitor';
import { schedulerCommand } from './commands/scheduler';
import { tokensCommand } from './commands/tokens';
import { upCommand } from './commands/up';
import { upgradeCommand } from './commands/upgrade';
import { workerCommand } from './commands/worker';
import { errorMessage, ReportedError, UsageError } from './core/errors';
import { EXIT_CODE, exitCodeFor } from './commands/exit-codes';
import { trapSignals } from './commands/run-role';
import { warnSecretFlags } from './commands/parse';
import { configureHelp, takeHelpRequest } from './commands/help';
import { logLevelProblem } from './util/log';
import { packageVersion } from './util/package-root';
import { printable } from './util/printable';

export function buildProgram(): Command {
  const program = new Command('wizard')
    .description('a distributed job system on Redis: math tasks, prime counting, a running sum, bots')
    .version(packageVersion())
    .addCommand(apiCommand)
    .addCommand(workerCommand)
    .addCommand(schedulerCommand)
    .addCommand(botCommand)
    .addCommand(upCommand)
    .addCommand(submitCommand)
    .addCommand(watchCommand)
    .addCommand(jobsCommand)
    .addCommand(botsCommand)
    .addCommand(statusCommand)
    .addCommand(datalakeCommand)
    .addCommand(abacusCommand)
    .addCommand(dlqCommand)
    .addCommand(cancelCommand)
    .addCommand(flowCommand)
    .addCommand(queuesCommand)
    .addCommand(queueCommand)
    .addCommand(schedulesCommand)
    .addCommand(healthcheckCommand)
    .addCommand(tokensCommand)
    .addCommand(upgradeCommand);
  const exitOverride = (cmd: Command) => {
    configureHelp(cmd); // fitted to the width; the roles' groups folded
    cmd.exitOverride();
    // a usage error is one line: commander's "(Did you mean worker?)" joins the error's line
    cmd.configureOutput({ outputError: (text, write) => write(text.trimEnd().replace(/\n+/g, ' ') + '\n') });
    cmd.commands.forEach(exitOverride);
  };
  exitOverride(program);
  // a token given as a flag: said once, before the command runs
  program.hook('preAction', (_program, action) => warnSecretFlags(action));
  // the long-lived roles: a SIGTERM from their first byte of output on is a clean exit (0)
  for (const role of [apiCommand, workerCommand, schedulerCommand, botCommand, upCommand])
    role.hook('preAction', () => trapSignals());
  return program;
}

export async function main(argv: string[]): Promise<void> {
  let code: number = EXIT_CODE.ok;
  try {
    const badLevel = logLevelProblem(); // LOG_LEVEL=loud stops every command at once (exit 2), not silently logs at info
    if (badLevel) throw new UsageError(badLevel);
    await buildProgram().parseAsync(takeHelpRequest(argv)); // --help <group> and --help-all: src/commands/help.ts
  } catch (err) {
    if (err instanceof CommanderError) {
      code = err.exitCode === 0 ? EXIT_CODE.ok : EXIT_CODE.usage;
    } else {
      code = exitCodeFor(err);
      if (!(err instanceof ReportedError))
        process.stderr.write(`error: ${printable(errorMessage(err), { oneLine: true })}\n`); // an API's message may quote a name
    }
  }
  process.exitCode = code;
  if (code !== EXIT_CODE.ok) process.exit(code);
}
