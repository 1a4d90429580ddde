/** `wizard cancel <id>`, `wizard queues`, `wizard queue add|rm|pause|resume <name>`: job control over HTTP. */
import { Command } from 'commander';
import { clientCommand, clientOf } from './client';
import { parseJobId, parseName } from './parse';
import type { Reply } from '../client/replies';

export const cancelCommand = clientCommand(
  'cancel',
  'cancel a job (a chunk: its prime count): waiting, it never runs; running, it is aborted',
)
  .argument('<id>', 'job or task id (whole)', parseJobId())
  .action(async (id: string, flags) => {
    const { ui, api } = clientOf(flags);
    const job = await api.post<Reply<'job'>>(`/jobs/${encodeURIComponent(id)}/cancel`);
    if (ui.json) return ui.data(job);
    ui.line(`${job.job_id} is ${job.state}`);
  });

export const queuesCommand = clientCommand('queues', 'every queue: waiting, active, delayed, paused').action(
  async (flags) => {
    const { ui, api } = clientOf(flags);
    const { queues } = await api.get<Reply<'queues'>>('/queues');
    if (ui.json) return ui.data({ queues });
    ui.table(
      ['queue', 'waiting', 'active', 'delayed', 'paused'],
      queues.map((q) => [q.name, q.waiting, q.active, q.delayed, q.paused ? 'yes' : 'no']),
    );
  },
);

const queueAction = (action: 'pause' | 'resume', description: string) =>
  clientCommand(action, description)
    .argument('<name>', 'queue name', parseName('<name>'))
    .action(async (name: string, flags) => {
      const { ui, api } = clientOf(flags, 'admin');
      const q = await api.post<Reply<'queue'>>(`/queues/${encodeURIComponent(name)}/${action}`);
      if (ui.json) return ui.data(q);
      ui.line(
        `queue ${q.name} is ${q.paused ? 'paused' : 'running'} (${q.waiting} waiting, ${q.active} active, ${q.delayed} delayed)`,
      );
    });

const addQueue = clientCommand('add', 'declare a queue: clients may send jobs to it')
  .argument('<name>', 'queue name', parseName('<name>'))
  .action(async (name: string, flags) => {
    const { ui, api } = clientOf(flags);
    const q = await api.post<Reply<'queue'>>('/queues', { name });
    if (ui.json) return ui.data(q);
    ui.line(`queue ${q.name} is declared`);
  });

const removeQueue = clientCommand('rm', 'forget a queue that holds no job')
  .argument('<name>', 'queue name', parseName('<name>'))
  .action(async (name: string, flags) => {
    const { ui, api } = clientOf(flags);
    await api.request('DELETE', `/queues/${encodeURIComponent(name)}`);
    if (ui.json) return ui.data({ removed: name });
    ui.line(`queue ${name} removed`);
  });

export const queueCommand = new Command('queue')
  .description(
    'declare, remove, pause or resume a queue (needs the admin token: --token, or the admin one of --tokens-file)',
  )
  .addCommand(addQueue)
  .addCommand(removeQueue)
  .addCommand(queueAction('pause', 'a paused queue gives no new work to workers or bots; running jobs finish'))
  .addCommand(queueAction('resume', 'resume a paused queue'));
