/**
 * `wizard tokens`: the API tokens file (`name role token` a line, what --tokens-file and
 * WIZARD_TOKENS_FILE read). `init` writes one token per role (admin, bot, client) when the file
 * does not exist yet and keeps it when it does, so a deploy can run it at every start (compose's
 * one-shot `tokens` service); `show` prints them, or with --role the first token of that role
 * alone, for `$(...)`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Command, Option } from 'commander';
import { formatTokenFile, generateTokens, Role, ROLES } from '../core/access';
import { errorMessage, UsageError } from '../core/errors';
import { readTokenFile, tokenOfRole } from './api-options';

const fileOption = () => new Option('--file <file>', 'the tokens file').env('WIZARD_TOKENS_FILE').makeOptionMandatory();

const summary = (file: string) => readTokenFile(file, '--file').map((t) => `${t.name} (${t.role})`).join(', ');

const init = new Command('init')
  .description('write a tokens file with a fresh token per role (admin, bot, client), unless it exists')
  .addOption(fileOption())
  .action((flags: { file: string }) => {
    const text = formatTokenFile(generateTokens(), `API tokens made by \`wizard tokens init\` at ${new Date().toISOString()}: name role token`);
    const cannot = (err: unknown) => new UsageError(`--file: cannot write ${flags.file}: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`);
    try {
      fs.mkdirSync(path.dirname(flags.file), { recursive: true });
    } catch (err) {
      throw cannot(err);
    }
    try {
      fs.writeFileSync(flags.file, text, { flag: 'wx', mode: 0o600 }); // wx: never over a file that exists, even one written a moment ago
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw cannot(err);
      process.stdout.write(`kept ${flags.file}: ${summary(flags.file)}\n`);
      return;
    }
    process.stdout.write(`wrote ${flags.file}: ${summary(flags.file)}\n`);
  });

const show = new Command('show')
  .description('print the tokens of a tokens file, or with --role the first token of that role alone')
  .addOption(fileOption())
  .addOption(new Option('--role <role>', 'print only the first token with this role').choices(ROLES))
  .action((flags: { file: string; role?: Role }) => {
    if (flags.role) {
      process.stdout.write(`${tokenOfRole(flags.file, flags.role, '--file')}\n`);
      return;
    }
    for (const t of readTokenFile(flags.file, '--file')) process.stdout.write(`${t.name} ${t.role} ${t.token}\n`);
  });

export const tokensCommand = new Command('tokens').description('make and read the API tokens file (--tokens-file, WIZARD_TOKENS_FILE)').addCommand(init).addCommand(show);
