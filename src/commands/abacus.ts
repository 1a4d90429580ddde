/**
 * `wizard abacus add <number> | sum | reset`: the abacus's running sum, over HTTP.
 * A negative number works as it is (`wizard abacus add -5`: commander takes a negative number
 * for an argument of a command that has no digit options) and after `--` too.
 */
import { Command } from 'commander';
import { clientOf, withClientFlags } from './client';
import { parseIntIn } from './parse';
import type { Reply } from '../client/replies';

const add = withClientFlags(
  new Command('add')
    .description('add an integer (|n| <= 2^53-1) to the running sum')
    .argument(
      '<number>',
      'the integer to add; negative is fine (-5)',
      parseIntIn('number', -Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER),
    ),
).action(async (number: number, flags) => {
  const { ui, api } = clientOf(flags);
  const res = await api.post<Reply<'added'>>('/abacus/number', { number });
  if (ui.json) return ui.data(res);
  const conflicts = res.conflicts ? `, after ${res.conflicts} conflict${res.conflicts === 1 ? '' : 's'}` : '';
  ui.line(`sum ${ui.c.bold(String(res.new_sum))} (added ${res.added} on ${res.node_id}${conflicts})`);
});

const sum = withClientFlags(new Command('sum').description('print the running sum')).action(async (flags) => {
  const { ui, api } = clientOf(flags);
  const res = await api.get<Reply<'sum'>>('/abacus/sum');
  if (ui.json) return ui.data(res);
  ui.line(`sum ${ui.c.bold(String(res.sum))} (on ${res.node_id})`);
});

const reset = withClientFlags(
  new Command('reset').description('reset the running sum to 0 (needs the admin token; refused by an API with none)'),
).action(async (flags) => {
  const { ui, api } = clientOf(flags, 'admin');
  const res = await api.delete<Reply<'reset'>>('/abacus/sum');
  if (ui.json) return ui.data(res);
  ui.line(`${res.message} (on ${res.node_id})`);
});

export const abacusCommand = new Command('abacus')
  .description('the running sum shared by every API node: add, sum, reset')
  .addCommand(add)
  .addCommand(sum)
  .addCommand(reset);
