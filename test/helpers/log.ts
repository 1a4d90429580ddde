/** A logger that writes nothing: for apps and roles started inside a test. */
import { createLogger, Logger } from '../../src/util/log';

export const silentLogger: Logger = createLogger({}, 'silent');

export interface LoggedLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string;
  fields: Record<string, unknown>;
}

/** a logger that keeps every line it is given (debug included), for a test to look at */
export function recordingLogger(): { log: Logger; lines: LoggedLine[] } {
  const lines: LoggedLine[] = [];
  const at =
    (level: LoggedLine['level']) =>
    (msg: string, fields: Record<string, unknown> = {}) =>
      void lines.push({ level, msg, fields });
  const log: Logger = {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: () => log,
    enabled: () => true,
  };
  return { log, lines };
}
