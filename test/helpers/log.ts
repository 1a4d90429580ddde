/** A logger that writes nothing: for apps and roles started inside a test. */
import { createLogger, Logger } from '../../src/util/log';

export const silentLogger: Logger = createLogger({}, 'silent');
