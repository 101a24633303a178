import type { Logger } from 'pino';

export interface Served {
  stop(): Promise<void>;
  /** Called on SIGHUP; a rejection is logged and the process keeps running on its old state. */
  reload?(): Promise<void>;
}

/**
 * Keeps a server process running until SIGINT or SIGTERM, then stops it gracefully and resolves to
 * the exit code (0, or 1 if stopping failed). A second signal while stopping exits at once (130), for
 * a stop that hangs. SIGHUP calls reload().
 */
export function serveUntilSignal(served: Served, logger: Logger): Promise<number> {
  return new Promise((resolve) => {
    let stopping = false;
    const onStop = (signal: NodeJS.Signals): void => {
      if (stopping) {
        logger.warn({ signal }, 'second signal while stopping: exiting now');
        process.exit(130);
      }
      stopping = true;
      logger.info({ signal }, 'stopping');
      process.off('SIGHUP', onReload);
      served.stop().then(
        () => {
          logger.info('stopped');
          resolve(0);
        },
        (err: unknown) => {
          logger.error({ err }, 'stop failed');
          resolve(1);
        },
      );
    };
    const onReload = (): void => {
      if (!served.reload) return;
      logger.info('SIGHUP: reloading');
      served.reload().then(
        () => logger.info('reloaded'),
        (err: unknown) => logger.error({ err }, 'reload failed; keeping the previous state'),
      );
    };
    process.on('SIGINT', onStop);
    process.on('SIGTERM', onStop);
    process.on('SIGHUP', onReload);
  });
}
