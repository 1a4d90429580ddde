/**
 * The files of secrets the commands read and write: API tokens files (`name role token` a line,
 * what --tokens-file and WIZARD_TOKENS_FILE read), Redis password and ACL files. `wizard tokens
 * init` and `wizard up` write them; the roles read them.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ApiToken, formatTokenFile, generateTokens, parseTokenFile, Role } from '../core/tokens';
import { errorMessage, UsageError } from '../core/errors';
import { readFileFlag } from './parse';

/** the tokens of a --tokens-file */
export const readTokenFile = (file: string, flag = '--tokens-file'): ApiToken[] =>
  parseTokenFile(readFileFlag(flag, file), flag);

/** the first token of this role in a tokens file (a bot's registration token, `wizard tokens show --role`) */
export function tokenOfRole(file: string, role: Role, flag = '--tokens-file'): string {
  const found = readTokenFile(file, flag).find((t) => t.role === role);
  if (!found) throw new UsageError(`${flag}: ${file} holds no token with the role ${role}`);
  return found.token;
}

/** where `wizard up` keeps the tokens it makes: $XDG_STATE_HOME/wizard/tokens (~/.local/state/wizard/tokens) */
export const defaultTokensFile = (): string =>
  path.join(process.env.XDG_STATE_HOME || path.join(os.homedir(), '.local', 'state'), 'wizard', 'tokens');

/** the Redis user the deploys give wizard's roles (REDIS_URL redis://wizard@…) */
export const REDIS_ACL_USER = 'wizard';

/**
 * The ACL file of a Redis whose one user is wizard's: the default user off (a client that sends
 * no AUTH may run nothing), `wizard` with every key, channel and command, known by the sha256 of
 * its password (the file holds no password). Redis's ACL files take no comments.
 */
export function redisAclFile(password: string): string {
  const digest = createHash('sha256').update(password).digest('hex');
  return `user default off\nuser ${REDIS_ACL_USER} on #${digest} ~* &* +@all\n`;
}

const cannotWrite = (flag: string, file: string, err: unknown) =>
  new UsageError(`${flag}: cannot write ${file}: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`);

/** write `text` to `file` unless it exists (its folder made first); false when it existed */
export function writeOnce(flag: string, file: string, text: string, mode: number): boolean {
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
  } catch (err) {
    throw cannotWrite(flag, file, err); // an EEXIST here is a file where the folder should be
  }
  try {
    fs.writeFileSync(file, text, { flag: 'wx', mode }); // wx: never over a file that exists, even one written a moment ago
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw cannotWrite(flag, file, err);
  }
}

/** write `text` to `file` whole (a new file renamed over the old one: a reader never sees half of it) */
export function writeWhole(flag: string, file: string, text: string, mode: number): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(tmp, text, { mode });
    fs.chmodSync(tmp, mode); // the umask may have taken bits away
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw cannotWrite(flag, file, err);
  }
}

/** a tokens file with a fresh token per role, unless it exists: whether it was made now */
export function initTokensFile(file: string, flag = '--file', by = 'wizard tokens init'): boolean {
  return writeOnce(
    flag,
    file,
    formatTokenFile(generateTokens(), `API tokens made by \`${by}\` at ${new Date().toISOString()}: name role token`),
    0o600,
  );
}
