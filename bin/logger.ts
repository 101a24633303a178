// The process's root logger. People read a terminal: there each line is pino-pretty's (time, coloured
// level, message, then the fields). Anything else (journald, docker logs, a pipe) gets pino's JSON lines,
// and so does logging.file, which SIGHUP reopens after a log rotation moved it.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { pino, type DestinationStream, type Logger, type StreamEntry } from 'pino';
import { PinoPretty } from 'pino-pretty';
import type { PatchbayConfig } from '../config/index.js';
import { RecentErrors } from '../core/host/index.js';

export interface ProcessLogger {
  logger: Logger;
  /** Reopens logging.file (SIGHUP; logrotate moved the old one). */
  reopen(): void;
  /** The last warnings and errors, for the status page. */
  recentErrors: RecentErrors;
}

/** What `logging.format: auto` chooses: pretty when stdout is a terminal. */
export function prettyWanted(format: PatchbayConfig['logging']['format'], stdoutIsTty = process.stdout.isTTY === true): boolean {
  return format === 'pretty' || (format === 'auto' && stdoutIsTty);
}

export function createLogger(logging: PatchbayConfig['logging'], name = 'patchbay'): ProcessLogger {
  const console: DestinationStream = prettyWanted(logging.format)
    ? PinoPretty({ colorize: process.stdout.isTTY === true, singleLine: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,name', destination: 1, sync: true })
    : pino.destination({ dest: 1, sync: true });
  const recentErrors = new RecentErrors();
  const streams: StreamEntry[] = [{ level: 'trace', stream: console }, { level: 'warn', stream: recentErrors }];
  let file: ReturnType<typeof pino.destination> | null = null;
  if (logging.file !== null) {
    mkdirSync(dirname(logging.file), { recursive: true });
    file = pino.destination({ dest: logging.file, sync: true, mkdir: true });
    streams.push({ level: 'trace', stream: file });
  }
  // The streams take everything; the logger's level (which SIGHUP may change) decides what is written.
  const logger = pino({ name, level: logging.level }, pino.multistream(streams));
  return { logger, reopen: () => file?.reopen(), recentErrors };
}
