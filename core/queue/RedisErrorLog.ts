import type { Logger } from 'pino';

/**
 * Logs connection errors from BullMQ's many connections without flooding: while Redis is down every
 * queue and worker reports each reconnect attempt, so at most one line per interval is written, with
 * a count of what was left out.
 */
export class RedisErrorLog {
  private lastAt = 0;
  private suppressed = 0;

  constructor(
    private readonly logger: Logger,
    private readonly what: string,
    private readonly intervalMs = 5_000,
  ) {}

  report = (err: unknown, context: Record<string, unknown> = {}): void => {
    const now = Date.now();
    if (now - this.lastAt < this.intervalMs) {
      this.suppressed++;
      return;
    }
    this.logger.warn({ err, ...context, suppressed: this.suppressed }, `${this.what}: Redis error`);
    this.lastAt = now;
    this.suppressed = 0;
  };
}
