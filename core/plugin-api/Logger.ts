/** One log method: a message, or structured fields and a message (pino's calling convention). */
export interface LogFn {
  (message: string): void;
  (fields: object, message?: string): void;
}

/**
 * The structured logger a plugin is handed: pino underneath, declared here so a plugin needs nothing
 * but this package to type-check against it. Put ids in the fields, not the message:
 * `ctx.logger.warn({ room_id, err }, 'could not deliver')`.
 */
export interface Logger {
  trace: LogFn;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  fatal: LogFn;
  /** A logger that adds these fields to every line. */
  child(bindings: Record<string, unknown>): Logger;
  /** The current level name (`info`, `debug`, ...). */
  level: string;
}
