import { pino, type Logger } from 'pino';
import type { LogLevel } from '../config/index.js';

/** The process's root logger: JSON lines on stdout at the configured `logging.level`. */
export function createLogger(level: LogLevel, name = 'patchbay'): Logger {
  return pino({ name, level });
}
