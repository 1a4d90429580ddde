/**
 * Parsers of flag values, shared by every command: each checks one value and, when it is bad,
 * throws a message that names the flag (commander makes it exit code 2).
 */
import fs from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { errorMessage, UsageError } from '../core/errors';
import { isJobId, isSafeName, JOB_ID_SHAPE, SAFE_ALPHABET } from '../core/ids';

export function parseIntIn(flag: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\s*-?\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`${flag} must be an integer from ${min} to ${max}, got '${value}'`);
    }
    return n;
  };
}

/** a whole job id, in the shape wizard makes it (core/ids.ts): any other text names no job */
export function parseJobId(arg = '<id>') {
  return (value: string): string => {
    if (!isJobId(value))
      throw new InvalidArgumentError(
        `${arg} must be a whole job id (${JOB_ID_SHAPE}; tables shorten it, --wide and --json show it whole), got '${value}'`,
      );
    return value;
  };
}

/** a name of 1..max characters of the safe alphabet (a queue's, a schedule's: core/ids.ts) */
export function parseName(arg: string, max = 64) {
  return (value: string): string => {
    if (!isSafeName(value, 1, max))
      throw new InvalidArgumentError(`${arg} must be 1-${max} of ${SAFE_ALPHABET}, got '${value}'`);
    return value;
  };
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** a duration: 500ms, 5s, 2m, 1h, 1d (or a number of ms), from min to max ms */
export function parseDuration(flag: string, min: number, max: number) {
  return (value: string): number => {
    const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(value);
    const ms = m ? Math.round(Number(m[1]) * DURATION_UNITS[m[2] ?? 'ms']) : NaN;
    if (!Number.isFinite(ms) || ms < min || ms > max) {
      throw new InvalidArgumentError(
        `${flag} must be a duration from ${min} ms to ${max} ms (500ms, 5s, 2m, 1h, 1d), got '${value}'`,
      );
    }
    return ms;
  };
}

/** an ISO 8601 time */
export function parseIsoTime(flag: string) {
  return (value: string): string => {
    if (
      !/^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$/.test(value) ||
      Number.isNaN(Date.parse(value))
    ) {
      throw new InvalidArgumentError(
        `${flag} must be an ISO 8601 time with a zone, e.g. 2030-01-01T12:00:00Z, got '${value}'`,
      );
    }
    return value;
  };
}

/** yes or no (also true/false, 1/0, on/off): a switch that an environment variable can turn off as well as on */
export function parseYesNo(flag: string) {
  return (value: string | boolean): boolean => {
    if (typeof value === 'boolean') return value;
    const v = value.trim().toLowerCase();
    if (['yes', 'true', '1', 'on'].includes(v)) return true;
    if (['no', 'false', '0', 'off', ''].includes(v)) return false;
    throw new InvalidArgumentError(`${flag} takes yes or no, got '${value}'`);
  };
}

/** a queue's name: 1-64 of the safe alphabet (core/ids.ts), naming the flag */
export const parseQueueName = (flag: string) => parseName(flag, 64);

export function parseNumber(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n))
      throw new InvalidArgumentError(`${flag} must be a finite number, got '${value}'`);
    return n;
  };
}

/** a number from 0 to 1 (a share) */
export function parseRate(flag: string) {
  return (value: string): number => {
    const n = parseNumber(flag)(value);
    if (n < 0 || n > 1) throw new InvalidArgumentError(`${flag} must be a number from 0 to 1, got '${value}'`);
    return n;
  };
}

export function parseUrl(flag: string, protocols: string[]) {
  return (value: string): string => {
    let u: URL;
    try {
      u = new URL(value);
    } catch {
      throw new InvalidArgumentError(`${flag} must be a URL (${protocols.join(' or ')}), got '${value}'`);
    }
    if (!protocols.includes(u.protocol.replace(':', ''))) {
      throw new InvalidArgumentError(
        `${flag} must start with ${protocols.map((p) => p + '://').join(' or ')}, got '${value}'`,
      );
    }
    return value;
  };
}

/** a URL, or several separated by commas (a Redis Cluster's seed nodes): each checked as parseUrl does */
export function parseUrlList(flag: string, protocols: string[]) {
  const one = parseUrl(flag, protocols);
  return (value: string): string => {
    value.split(',').forEach((v) => one(v.trim()));
    return value;
  };
}

export function parseJsonObject(flag: string) {
  return (value: string): Record<string, unknown> => {
    let v: unknown;
    try {
      v = JSON.parse(value);
    } catch {
      throw new InvalidArgumentError(`${flag} must be a JSON object, got '${value}'`);
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v))
      throw new InvalidArgumentError(`${flag} must be a JSON object, got '${value}'`);
    return v as Record<string, unknown>;
  };
}

/** a parser whose own error (a UsageError, a ValidationError) becomes commander's: exit 2 */
export const asArgumentError =
  <T>(fn: (v: string) => T) =>
  (v: string): T => {
    try {
      return fn(v);
    } catch (err) {
      throw new InvalidArgumentError(errorMessage(err));
    }
  };

/** the text of the file a flag names; one that cannot be read is a usage error naming the flag */
export function readFileFlag(flag: string, file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`${flag}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`);
  }
}

/** a password file's first line (without its newline); an empty one is a usage error naming the flag */
export function readPasswordFile(flag: string, file: string): string {
  const password = readFileFlag(flag, file).split(/\r?\n/)[0];
  if (password === '') throw new UsageError(`${flag}: ${file} is empty: its first line is the password`);
  return password;
}

/** options that carry a secret: given on the command line, each is warned about (warnSecretFlags) */
const secretOptions = new WeakSet<Option>();

/** an option whose value is a secret, with the environment variable to prefer */
export function secretOption(flags: string, description: string, env: string): Option {
  const o = new Option(flags, `${description} (prefer ${env}: a flag shows in ps)`).env(env);
  secretOptions.add(o);
  return o;
}

/**
 * one line on stderr for each secret given as a flag: every user of the machine sees a process's
 * arguments (ps, /proc/<pid>/cmdline), and the shell keeps them in its history
 */
export function warnSecretFlags(cmd: Command, write = (line: string) => void process.stderr.write(line)): void {
  for (const o of cmd.options) {
    if (!secretOptions.has(o) || cmd.getOptionValueSource(o.attributeName()) !== 'cli') continue;
    write(
      `warning: ${o.long} shows in ps to every user of this machine, and in the shell's history: set ${o.envVar} instead\n`,
    );
  }
}

/** add a group of options (storeOptions(), apiOptions(), …) to a command, in order */
export function withOptions(cmd: Command, options: Option[]): Command {
  for (const o of options) cmd.addOption(o);
  return cmd;
}
