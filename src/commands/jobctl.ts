/** `wizard cancel <id>`, `wizard queues`, `wizard queue pause|resume <name>`: job control over HTTP. */
import { Command } from 'commander';
import { JobView } from '../core/job';
import type { QueueInfo } from '../store/types';
import { clientCommand, clientOf } from './client';

export const cancelCommand = clientCommand('cancel', 'cancel a job (a chunk: its prime count): waiting, it never runs; running, it is aborted')
  .argument('<id>', 'job or task id')
  .action(async (id: string, flags) => {
    const { ui, api } = clientOf(flags);
    const job = await api.post<JobView>(`/jobs/${encodeURIComponent(id)}/cancel`);
    if (ui.json) return ui.data(job);
    ui.line(`${job.job_id} is ${job.state}`);
  });

export const queuesCommand = clientCommand('queues', 'every queue: waiting, active, delayed, paused').action(async (flags) => {
  const { ui, api } = clientOf(flags);
  const { queues } = await api.get<{ queues: QueueInfo[] }>('/queues');
  if (ui.json) return ui.data({ queues });
  ui.table(['queue', 'waiting', 'active', 'delayed', 'paused'], queues.map((q) => [q.name, q.waiting, q.active, q.delayed, q.paused ? 'yes' : 'no']));
});

const queueAction = (action: 'pause' | 'resume', description: string) =>
  clientCommand(action, description)
    .argument('<name>', 'queue name')
    .action(async (name: string, flags) => {
      const { ui, api } = clientOf(flags, 'admin');
      const q = await api.post<QueueInfo>(`/queues/${encodeURIComponent(name)}/${action}`);
      if (ui.json) return ui.data(q);
      ui.line(`queue ${q.name} is ${q.paused ? 'paused' : 'running'} (${q.waiting} waiting, ${q.active} active, ${q.delayed} delayed)`);
    });

export const queueCommand = new Command('queue')
  .description('pause or resume a queue (needs the admin token: --token, or the admin one of --tokens-file)')
  .addCommand(queueAction('pause', 'a paused queue gives no new work to workers or bots; running jobs finish'))
  .addCommand(queueAction('resume', 'resume a paused queue'));
