/** Client commands: they talk to the API over HTTP. */
import { Command, Option } from 'commander';
import { ApiClient } from '../client/http';
import { createUi } from '../client/ui';
import { reportFinal, watchJob } from '../client/watch';
import { MATH_OPS } from '../core/math';
import { PRIMES_MAX_CHUNKS, PRIMES_MAX_N, PRIMES_MIN_N } from '../core/schemas';
import { apiOption, jsonOption, parseIntIn, parseNumber } from './options';

const tokenOption = () => new Option('--token <token>', 'bearer token for the API').env('WIZARD_TOKEN');
const timeoutOption = () => new Option('--timeout-ms <ms>', 'give up waiting after this long (0: never)').default(0).argParser(parseIntIn('--timeout-ms', 0));

const submitTask = new Command('task')
  .description('submit a math task: a <op> b')
  .requiredOption('--a <number>', 'first operand', parseNumber('--a'))
  .requiredOption('--b <number>', 'second operand', parseNumber('--b'))
  .addOption(new Option('--op <op>', 'operation').choices(MATH_OPS as unknown as string[]).default('add'))
  .option('--watch', 'wait for the result')
  .addOption(timeoutOption())
  .addOption(apiOption())
  .addOption(tokenOption())
  .addOption(jsonOption())
  .action(async (flags) => {
    const ui = createUi(flags);
    const api = new ApiClient(flags.api, flags.token);
    const res = await api.post<{ task_id: string; status: string; initiated_by: string }>('/task', { a: flags.a, b: flags.b, op: flags.op });
    if (!flags.watch) {
      if (ui.json) ui.data(res);
      ui.line(`submitted task ${ui.c.bold(res.task_id)} (${res.status}, initiated by ${res.initiated_by})`);
      ui.line(`watch it: wizard watch ${res.task_id}`);
      return;
    }
    reportFinal(ui, await watchJob(api, ui, res.task_id, { timeoutMs: flags.timeoutMs }));
  });

const submitPrimes = new Command('primes')
  .description('count the primes <= n in chunks spread over the workers')
  .requiredOption('--n <n>', 'upper bound, 10000 to 10^12', parseIntIn('--n', PRIMES_MIN_N, PRIMES_MAX_N))
  .requiredOption('--chunks <k>', 'number of chunks, 1 to 128', parseIntIn('--chunks', 1, PRIMES_MAX_CHUNKS))
  .option('--watch', 'show live progress and wait for the result')
  .addOption(timeoutOption())
  .addOption(apiOption())
  .addOption(tokenOption())
  .addOption(jsonOption())
  .action(async (flags) => {
    const ui = createUi(flags);
    const api = new ApiClient(flags.api, flags.token);
    const res = await api.post<{ job_id: string; status: string }>('/api/count-primes', { n: flags.n, chunks: flags.chunks });
    if (!flags.watch) {
      if (ui.json) ui.data(res);
      ui.line(`submitted prime count ${ui.c.bold(res.job_id)} (${res.status})`);
      ui.line(`watch it: wizard watch ${res.job_id}`);
      return;
    }
    reportFinal(ui, await watchJob(api, ui, res.job_id, { timeoutMs: flags.timeoutMs }));
  });

export const submitCommand = new Command('submit').description('submit work to the API').addCommand(submitTask).addCommand(submitPrimes);

export const watchCommand = new Command('watch')
  .description('wait for a job and print its final state (exit 0 SUCCESS, 1 FAILURE)')
  .argument('<id>', 'job or task id')
  .addOption(timeoutOption())
  .addOption(apiOption())
  .addOption(tokenOption())
  .addOption(jsonOption())
  .action(async (id: string, flags) => {
    const ui = createUi(flags);
    const api = new ApiClient(flags.api, flags.token);
    reportFinal(ui, await watchJob(api, ui, id, { timeoutMs: flags.timeoutMs }));
  });
