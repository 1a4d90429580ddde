/** `wizard flow submit <file.json> [--watch]`, `wizard flow show <id>`: flows over HTTP (docs/flows.md). */
import { Command, Option } from 'commander';
import { UsageError } from '../core/errors';
import { sleep } from '../util/time';
import { clientCommand, clientOf } from './client';
import { parseName, readFileFlag } from './parse';
import type { Reply } from '../client/replies';

type FlowReply = Reply<'flow'>;
type UI = ReturnType<typeof clientOf>['ui'];

/** the flow as lines: its state and progress, then each node's job, state and result or error */
function printFlow(ui: UI, f: FlowReply): void {
  ui.line(
    `flow ${f.flow_id}${f.name ? ` (${f.name})` : ''} is ${f.state}: ${f.progress.completed}/${f.progress.total} nodes final`,
  );
  ui.table(
    ['node', 'job', 'state', 'result or error'],
    Object.entries(f.nodes).map(([id, n]) => [
      id,
      n.job_id,
      n.state,
      n.error ?? (n.result === undefined ? '' : JSON.stringify(n.result)),
    ]),
  );
}

const POLL_MS = 500;

const submitFlow = clientCommand('submit', 'make a flow from a JSON file ({name?, nodes: [...]}, as POST /flows takes)')
  .argument('<file>', 'the flow as JSON')
  .option('--watch', 'wait until the flow has ended and print it: exit 0 on SUCCESS, 1 otherwise')
  .addOption(
    new Option(
      '--key <key>',
      'an idempotency key (1-200 of letters, digits, _ . -): submitting again with it answers the first flow',
    ).argParser(parseName('--key', 200)),
  )
  .action(async (file: string, flags) => {
    const text = readFileFlag('<file>', file);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new UsageError(`<file>: ${file} is not JSON`);
    }
    const { ui, api } = clientOf(flags);
    const key = flags.key as string | undefined;
    const made = await api.post<Reply<'flowCreated'>>(
      '/flows',
      body,
      key === undefined ? {} : { 'idempotency-key': key },
    );
    if (!flags.watch) {
      if (ui.json) return ui.data(made);
      return ui.line(`flow ${made.flow_id}: ${Object.keys(made.jobs).length} nodes`);
    }
    let f = await api.get<FlowReply>(`/flows/${made.flow_id}`);
    while (f.state === 'RUNNING') {
      await sleep(POLL_MS);
      f = await api.get<FlowReply>(`/flows/${made.flow_id}`);
    }
    if (ui.json) ui.data(f);
    else printFlow(ui, f);
    if (f.state !== 'SUCCESS') throw new Error(`flow ${f.flow_id} ended ${f.state}`);
  });

const showFlow = clientCommand('show', "a flow: its state, progress and each node's job, state, result or error")
  .argument('<id>', 'flow id')
  .action(async (id: string, flags) => {
    const { ui, api } = clientOf(flags);
    const f = await api.get<FlowReply>(`/flows/${encodeURIComponent(id)}`);
    if (ui.json) return ui.data(f);
    printFlow(ui, f);
  });

export const flowCommand = new Command('flow')
  .description('make a flow (jobs joined into a graph) or show one; see docs/flows.md')
  .addCommand(submitFlow)
  .addCommand(showFlow);
