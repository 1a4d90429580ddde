/**
 * Structured logs: one JSON line per event on stderr ({time, level, role, node_id, msg, ...}),
 * a short human line when stderr is a terminal. LOG_LEVEL sets the level (default info; one that
 * is no level stops the CLI: logLevelProblem). Neither carries a raw control character: a bot's
 * name with ESC or CR in it is written escaped (src/util/printable.ts), so a terminal tailing
 * the log shows it rather than obeys it.
 * stdout stays free for command output (--json).
 */
import { jsonPrintable, printable } from './printable';

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 } as const;
export type LogLevel = keyof typeof LEVELS;

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
  /** whether a line of this level is written (to skip building one per job when it is not) */
  enabled(level: Exclude<LogLevel, 'silent'>): boolean;
}

/** LOG_LEVEL's level; unset or empty is info */
function levelFromEnv(): LogLevel | null {
  const v = (process.env.LOG_LEVEL || 'info').toLowerCase();
  return v in LEVELS ? (v as LogLevel) : null;
}

/** what is wrong with LOG_LEVEL, or null: cli.ts makes it a usage error before any command runs */
export function logLevelProblem(): string | null {
  return levelFromEnv() === null
    ? `LOG_LEVEL must be one of ${Object.keys(LEVELS).join(', ')}, got '${process.env.LOG_LEVEL}'`
    : null;
}

export function createLogger(base: Record<string, unknown> = {}, level: LogLevel = levelFromEnv() ?? 'info'): Logger {
  const min = LEVELS[level];
  const pretty = process.stderr.isTTY === true;
  const write = (lvl: Exclude<LogLevel, 'silent'>, msg: string, fields: Record<string, unknown> = {}) => {
    if (LEVELS[lvl] < min) return;
    const rec = { time: new Date().toISOString(), level: lvl, ...base, msg, ...fields };
    if (pretty) {
      const { role: _role, node_id: _node, ...context } = base;
      const extra = Object.entries({ ...context, ...fields }).map(
        ([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`,
      );
      const line = `${rec.time.slice(11, 23)} ${lvl.toUpperCase().padEnd(5)} [${base.role ?? '-'} ${base.node_id ?? ''}] ${msg}${extra.length ? ' ' + extra.join(' ') : ''}`;
      process.stderr.write(printable(line, { oneLine: true }) + '\n');
    } else {
      process.stderr.write(jsonPrintable(JSON.stringify(rec)) + '\n');
    }
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
    child: (fields) => createLogger({ ...base, ...fields }, level),
    enabled: (lvl) => LEVELS[lvl] >= min,
  };
}
