/** `wizard schedules [list]|add <name>|rm <name>`: the schedules, over HTTP (add and rm with the admin token). */
import { Command, Option } from 'commander';
import { SCHEDULE_TYPES } from '../core/batch';
import { checkTiming } from '../core/schedule';
import { duration } from '../client/ui';
import { clientCommand, clientOf } from './client';
import { wideOption } from './client-options';
import { parseIntIn, parseJsonObject, parseName } from './parse';
import type { Reply } from '../client/replies';

const when = (s: Reply<'schedule'>) =>
  s.every_ms !== null ? `every ${duration(s.every_ms)}` : `${s.cron}${s.tz ? ` (${s.tz})` : ''}`;

const list = clientCommand(
  'list',
  'the schedules, the built-in bot batch (seed-batch) among them, with their next occurrence',
)
  .addOption(wideOption())
  .action(async (flags) => {
    const { ui, api } = clientOf(flags);
    const page = await api.get<Reply<'schedules'>>('/schedules');
    if (ui.json) return ui.data(page);
    ui.table(
      ['name', 'type', 'when', 'jobs', 'queue', 'next'],
      page.schedules.map((s) => [s.name, s.type, when(s), s.size, s.queue, s.next_at ?? '']),
    );
    ui.line(`${page.total} schedule${page.total === 1 ? '' : 's'}`);
  });

const add = clientCommand(
  'add',
  'a schedule: a job of --type made at each occurrence of --every-ms or --cron, each once',
)
  .argument('<name>', 'its name: 1-64 of letters, digits, _ . -', parseName('<name>'))
  .addOption(
    new Option(
      '--type <type>',
      `the job type: ${SCHEDULE_TYPES.join(', ')} or a type the API's --handlers module defines (the API checks it)`,
    ).makeOptionMandatory(),
  )
  .addOption(new Option('--params <json>', "the job's params, a JSON object").argParser(parseJsonObject('--params')))
  .addOption(
    new Option('--every-ms <ms>', 'an occurrence every this many ms (slots aligned to the epoch)').argParser(
      parseIntIn('--every-ms', 1000, 31 * 86_400_000),
    ),
  )
  .addOption(new Option('--cron <expr>', "a cron expression: 5 fields, or 6 with seconds first ('*/10 * * * * *')"))
  .addOption(new Option('--tz <zone>', 'the time zone of --cron (IANA, default UTC)'))
  .action(async (name: string, flags) => {
    const timing = {
      every_ms: flags.everyMs as number | undefined,
      cron: flags.cron as string | undefined,
      tz: flags.tz as string | undefined,
    };
    checkTiming(timing, { every: '--every-ms', cron: '--cron', tz: '--tz' });
    const { ui, api } = clientOf(flags, 'admin');
    const s = await api.post<Reply<'schedule'>>('/schedules', {
      name,
      type: flags.type,
      ...(flags.params ? { params: flags.params } : {}),
      ...timing,
    });
    if (ui.json) return ui.data(s);
    ui.line(`schedule ${s.name}: ${s.type} ${when(s)}, next at ${s.next_at}`);
  });

const rm = clientCommand('rm', 'remove a schedule (the jobs it made stay)')
  .argument('<name>', 'its name', parseName('<name>'))
  .action(async (name: string, flags) => {
    const { ui, api } = clientOf(flags, 'admin');
    await api.request('DELETE', `/schedules/${encodeURIComponent(name)}`);
    if (ui.json) return ui.data({ removed: name });
    ui.line(`schedule ${name} removed`);
  });

export const schedulesCommand = new Command('schedules')
  .description(
    'jobs made on a schedule by the scheduler leader, each occurrence once (add and rm need the admin token: --token, or the admin one of --tokens-file)',
  )
  .addCommand(list, { isDefault: true })
  .addCommand(add)
  .addCommand(rm);
