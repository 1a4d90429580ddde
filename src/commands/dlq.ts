/** `wizard dlq list|retry <id>|purge`: the dead-letter queue, over HTTP, with the admin token. */
import { Command, Option } from 'commander';
import { clientCommand, clientOf } from './client';
import { wideOption } from './client-options';
import { parseIntIn, parseJobId } from './parse';
import { ago } from '../client/ui';
import type { Reply } from '../client/replies';

const list = clientCommand('list', 'jobs that used every attempt, most recent first, with their last error')
  .addOption(new Option('--limit <n>', 'at most this many').default(20).argParser(parseIntIn('--limit', 1, 500)))
  .addOption(new Option('--offset <n>', 'skip this many').default(0).argParser(parseIntIn('--offset', 0, 1_000_000)))
  .addOption(wideOption())
  .action(async (flags) => {
    const { ui, api } = clientOf(flags, 'admin');
    const page = await api.get<Reply<'dlq'>>(`/dlq?offset=${flags.offset}&limit=${flags.limit}`);
    if (ui.json) return ui.data(page);
    ui.table(
      ['job', 'type', 'attempts', 'died', 'error'],
      page.jobs.map((j) => [j.job_id, j.type, j.attempts, ago(j.finished_at), j.error]),
      { ids: [0] },
    );
    ui.line(`${page.total} in the dead-letter queue`);
  });

const retry = clientCommand('retry', 'put a dead job back on its queue, its attempts counted from zero')
  .argument('<id>', 'job id (whole)', parseJobId())
  .action(async (id: string, flags) => {
    const { ui, api } = clientOf(flags, 'admin');
    const job = await api.post<Reply<'job'>>(`/dlq/${encodeURIComponent(id)}/retry`);
    if (ui.json) return ui.data(job);
    ui.line(`${job.job_id} is ${job.state} again on queue ${job.queue}`);
  });

const purge = clientCommand('purge', 'delete every job in the dead-letter queue').action(async (flags) => {
  const { ui, api } = clientOf(flags, 'admin');
  const res = await api.request<Reply<'purged'>>('DELETE', '/dlq');
  if (ui.json) return ui.data(res);
  ui.line(`purged ${res.purged} dead jobs`);
});

export const dlqCommand = new Command('dlq')
  .description('the dead-letter queue (needs the admin token: --token, or the admin one of --tokens-file)')
  .addCommand(list)
  .addCommand(retry)
  .addCommand(purge);
