/**
 * `wizard tokens`: the API tokens file (`name role token` a line, what --tokens-file and
 * WIZARD_TOKENS_FILE read). `init` writes one token per role (admin, bot, client) when the file
 * does not exist yet and keeps it when it does, so a deploy can run it at every start (compose's
 * one-shot `tokens` service); `show` prints them, or with --role the first token of that role
 * alone, for `$(...)`.
 *
 * `init` also makes what a deploy hands to each service, so that none gets more than it needs:
 * --bot-file, a tokens file of the bot-role tokens alone (what the bots mount, rewritten from the
 * tokens file at every init, so new tokens reach it); --redis-password-file, the password of the
 * Redis user `wizard` (made once, kept after: what api, worker and scheduler read with
 * REDIS_PASSWORD_FILE); --redis-acl-file, the ACL file Redis loads (--aclfile): that user with
 * the password's sha256, and the default user off, so a client that does not authenticate can
 * do nothing.
 */
import { randomBytes } from 'node:crypto';
import { Command, Option } from 'commander';
import { formatTokenFile, Role, ROLES } from '../core/tokens';
import { UsageError } from '../core/errors';
import { readPasswordFile } from './parse';
import {
  initTokensFile,
  readTokenFile,
  REDIS_ACL_USER,
  redisAclFile,
  tokenOfRole,
  writeOnce,
  writeWhole,
} from './secret-files';

const fileOption = () => new Option('--file <file>', 'the tokens file').env('WIZARD_TOKENS_FILE').makeOptionMandatory();

const summary = (file: string) =>
  readTokenFile(file, '--file')
    .map((t) => `${t.name} (${t.role})`)
    .join(', ');

interface InitFlags {
  file: string;
  botFile?: string;
  redisPasswordFile?: string;
  redisAclFile?: string;
}

const init = new Command('init')
  .description(
    'write a tokens file with a fresh token per role (admin, bot, client), unless it exists; and what a deploy hands its services',
  )
  .addOption(fileOption())
  .addOption(
    new Option(
      '--bot-file <file>',
      'also write the bot-role tokens alone to this file (for the bots), again at every init',
    ).env('WIZARD_BOT_TOKENS_FILE'),
  )
  .addOption(
    new Option(
      '--redis-password-file <file>',
      `also make a password for the Redis user ${REDIS_ACL_USER} in this file, unless it exists`,
    ).env('REDIS_PASSWORD_FILE'),
  )
  .addOption(
    new Option(
      '--redis-acl-file <file>',
      `also write the Redis ACL file of that user (its password's sha256; the default user off), with --redis-password-file`,
    ).env('REDIS_ACL_FILE'),
  )
  .action((flags: InitFlags) => {
    const say = (line: string) => process.stdout.write(`${line}\n`);
    say(`${initTokensFile(flags.file) ? 'wrote' : 'kept'} ${flags.file}: ${summary(flags.file)}`);
    if (flags.botFile) {
      const bots = readTokenFile(flags.file, '--file').filter((t) => t.role === 'bot');
      if (bots.length === 0) throw new UsageError(`--bot-file: ${flags.file} holds no token with the role bot`);
      writeWhole(
        '--bot-file',
        flags.botFile,
        formatTokenFile(
          bots,
          `the bot-role tokens of ${flags.file}, written by \`wizard tokens init\`: name role token`,
        ),
        0o600,
      );
      say(`wrote ${flags.botFile}: ${bots.map((t) => `${t.name} (${t.role})`).join(', ')}`);
    }
    if (flags.redisAclFile && !flags.redisPasswordFile)
      throw new UsageError(
        '--redis-acl-file needs --redis-password-file (REDIS_PASSWORD_FILE): the password it is made from',
      );
    if (flags.redisPasswordFile) {
      const made = writeOnce(
        '--redis-password-file',
        flags.redisPasswordFile,
        `${randomBytes(24).toString('hex')}\n`,
        0o600,
      );
      say(`${made ? 'wrote' : 'kept'} ${flags.redisPasswordFile}: the password of the Redis user ${REDIS_ACL_USER}`);
      if (flags.redisAclFile) {
        const password = readPasswordFile('--redis-password-file', flags.redisPasswordFile);
        // the hash of a random password: readable by the Redis server's own user, which is not ours
        writeWhole('--redis-acl-file', flags.redisAclFile, redisAclFile(password), 0o644);
        say(
          `wrote ${flags.redisAclFile}: the Redis user ${REDIS_ACL_USER} (its password's sha256), the default user off`,
        );
      }
    }
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

export const tokensCommand = new Command('tokens')
  .description(
    'make and read the API tokens file (--tokens-file, WIZARD_TOKENS_FILE) and the files a deploy hands its services',
  )
  .addCommand(init)
  .addCommand(show);
