/** `wizard cancel <id>`, `wizard queues`, `wizard queue add|rm|pause|resume|limits <name>`: job control over HTTP. */
import { Command, InvalidArgumentError, Option } from 'commander';
import { MAX_GROUP_LENGTH } from '../core/job';
import { MAX_RATE_WINDOW_MS } from '../core/schemas';
import { clientCommand, clientOf } from './client';
import { parseIntIn, parseJobId, parseName } from './parse';
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

/** a limit flag's `none`: the limit is removed (null in the body; commander keeps no null) */
const NONE = -1;
/** a limit flag's value: a count, or `none` (NONE) to remove the limit */
const parseLimit = (flag: string) => {
  const count = parseIntIn(flag, 0, 1_000_000);
  return (value: string): number => {
    if (value === 'none') return NONE;
    try {
      return count(value);
    } catch {
      throw new InvalidArgumentError(`${flag} must be an integer from 0 to 1000000, or none, got '${value}'`);
    }
  };
};

/** a rate as the API answers and takes it */
interface RateView {
  max: number;
  per_ms: number;
}
/** a rate flag's value: `<max>/<per_ms>` (10/1000: at most 10 starts in any second), or `none` (null: removed) */
const parseRate = (flag: string) => {
  const msg = (v: string) =>
    `${flag} must be <max>/<per_ms> (max from 1 to 1000000, per_ms from 1 to ${MAX_RATE_WINDOW_MS}), or none, got '${v}'`;
  return (value: string): RateView | null => {
    if (value === 'none') return null;
    const m = /^(\d{1,7})\/(\d{1,8})$/.exec(value);
    if (!m) throw new InvalidArgumentError(msg(value));
    const [max, per] = [Number(m[1]), Number(m[2])];
    if (max < 1 || max > 1_000_000 || per < 1 || per > MAX_RATE_WINDOW_MS) throw new InvalidArgumentError(msg(value));
    return { max, per_ms: per };
  };
};
const rateShown = (r: RateView | null) => (r === null ? 'none' : `${r.max}/${r.per_ms}ms`);

interface GroupLimitsView {
  group: string;
  concurrency: number | null;
  rate: RateView | null;
  waiting: number;
  running: number;
}
interface QueueLimitsView {
  queue: string;
  concurrency: number | null;
  group_concurrency: number | null;
  rate: RateView | null;
  group_rate: RateView | null;
  held_back: number;
  held_back_rate: number;
  groups: GroupLimitsView[];
}
type LimitsFlags = Parameters<typeof clientOf>[0] & {
  concurrency?: number;
  groupConcurrency?: number;
  rate?: RateView | null;
  groupRate?: RateView | null;
  group?: string;
};
/** a body of the fields given (a flag left out leaves its limit as it is) */
const defined = (o: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
/** a limit flag as the body sends it */
const limitOf = (n: number | undefined) => (n === NONE ? null : n);
const shown = (n: number | null) => (n === null ? 'none' : String(n));

const queueLimits = clientCommand(
  'limits',
  "show a queue's concurrency and rate limits and busiest groups, or set them (setting needs the admin token); docs/flow-control.md",
)
  .argument('<name>', 'queue name', parseName('<name>'))
  .addOption(
    new Option(
      '--concurrency <n>',
      "at most n of the queue's (with --group: the group's) jobs run at once; none removes it",
    ).argParser(parseLimit('--concurrency')),
  )
  .addOption(
    new Option('--group-concurrency <n>', "at most n of each group's jobs run at once; none removes it")
      .argParser(parseLimit('--group-concurrency'))
      .conflicts('group'),
  )
  .addOption(
    new Option(
      '--rate <max/per_ms>',
      "at most max of the queue's (with --group: the group's) jobs start in any window of per_ms (10/1000); none removes it",
    ).argParser(parseRate('--rate')),
  )
  .addOption(
    new Option(
      '--group-rate <max/per_ms>',
      "at most max of each group's jobs start in any window of per_ms; none removes it",
    )
      .argParser(parseRate('--group-rate'))
      .conflicts('group'),
  )
  .addOption(
    new Option('--group <group>', "show or set this group's own limit").argParser(
      parseName('--group', MAX_GROUP_LENGTH),
    ),
  )
  .action(async (name: string, flags: LimitsFlags) => {
    const setting = [flags.concurrency, flags.groupConcurrency, flags.rate, flags.groupRate].some(
      (v) => v !== undefined,
    );
    const { ui, api } = clientOf(flags, setting ? 'admin' : 'client');
    const q = encodeURIComponent(name);
    if (flags.group !== undefined) {
      const path = `/queues/${q}/groups/${encodeURIComponent(flags.group)}/limits`;
      const g = setting
        ? await api.request<GroupLimitsView>(
            'PUT',
            path,
            defined({ concurrency: limitOf(flags.concurrency), rate: flags.rate }),
          )
        : await api.get<GroupLimitsView>(path);
      if (ui.json) return ui.data(g);
      return ui.line(
        `group ${g.group} of ${name}: concurrency ${shown(g.concurrency)}, rate ${rateShown(g.rate)} (${g.waiting} waiting, ${g.running} running)`,
      );
    }
    const body = defined({
      concurrency: limitOf(flags.concurrency),
      group_concurrency: limitOf(flags.groupConcurrency),
      rate: flags.rate,
      group_rate: flags.groupRate,
    });
    const l = setting
      ? await api.request<QueueLimitsView>('PUT', `/queues/${q}/limits`, body)
      : await api.get<QueueLimitsView>(`/queues/${q}/limits`);
    if (ui.json) return ui.data(l);
    ui.line(
      `queue ${l.queue}: concurrency ${shown(l.concurrency)}, group_concurrency ${shown(l.group_concurrency)}, ` +
        `rate ${rateShown(l.rate)}, group_rate ${rateShown(l.group_rate)}, ` +
        `held back ${l.held_back} times by concurrency, ${l.held_back_rate} by rate`,
    );
    if (l.groups.length > 0)
      ui.table(
        ['group', 'concurrency', 'rate', 'waiting', 'running'],
        l.groups.map((g) => [g.group, shown(g.concurrency), rateShown(g.rate), g.waiting, g.running]),
      );
  });

export const queueCommand = new Command('queue')
  .description(
    'declare, remove, pause or resume a queue, or show and set its limits (changes need the admin token: --token, or the admin one of --tokens-file)',
  )
  .addCommand(queueLimits)
  .addCommand(addQueue)
  .addCommand(removeQueue)
  .addCommand(queueAction('pause', 'a paused queue gives no new work to workers or bots; running jobs finish'))
  .addCommand(queueAction('resume', 'resume a paused queue'));
