/** Client commands: they talk to the API over HTTP. */
import { Command, Option } from 'commander';
import { ApiClient } from '../client/http';
import { createUi, Ui } from '../client/ui';
import { reportFinal, watchJob } from '../client/watch';
import { MATH_OPS } from '../core/math';
import { apiOption, jsonOption, parseIntIn, parseNumber } from './options';

const tokenOption = () => new Option('--token <token>', 'bearer token for the API').env('WIZARD_TOKEN');

/** the flags every client command has: --api, --token, --json */
export function withClientFlags(cmd: Command): Command {
  return cmd.addOption(apiOption()).addOption(tokenOption()).addOption(jsonOption());
}

/** what a client command's action works with: the output and the API */
export function clientOf(flags: { api: string; token?: string; json?: boolean }): { ui: Ui; api: ApiClient } {
  return { ui: createUi(flags), api: new ApiClient(flags.api, flags.token) };
}

const timeoutOption = () => new Option('--timeout-ms <ms>', 'give up waiting after this long (0: never)').default(0).argParser(parseIntIn('--timeout-ms', 0));

const submitTask = withClientFlags(
  new Command('task')
    .description('submit a math task: a <op> b')
    .requiredOption('--a <number>', 'first operand', parseNumber('--a'))
    .requiredOption('--b <number>', 'second operand', parseNumber('--b'))
    .addOption(new Option('--op <op>', 'operation').choices(MATH_OPS as unknown as string[]).default('add'))
    .option('--watch', 'wait for the result')
    .addOption(timeoutOption()),
).action(async (flags) => {
  const { ui, api } = clientOf(flags);
  const res = await api.post<{ task_id: string; status: string; initiated_by: string }>('/task', { a: flags.a, b: flags.b, op: flags.op });
  if (!flags.watch) {
    if (ui.json) ui.data(res);
    ui.line(`submitted task ${ui.c.bold(res.task_id)} (${res.status}, initiated by ${res.initiated_by})`);
    ui.line(`watch it: wizard watch ${res.task_id}`);
    return;
  }
  reportFinal(ui, await watchJob(api, ui, res.task_id, { timeoutMs: flags.timeoutMs }));
});

export const submitCommand = new Command('submit').description('submit work to the API').addCommand(submitTask);

export const watchCommand = withClientFlags(
  new Command('watch')
    .description('wait for a job and print its final state (exit 0 SUCCESS, 1 FAILURE)')
    .argument('<id>', 'job or task id')
    .addOption(timeoutOption()),
).action(async (id: string, flags) => {
  const { ui, api } = clientOf(flags);
  reportFinal(ui, await watchJob(api, ui, id, { timeoutMs: flags.timeoutMs }));
});
