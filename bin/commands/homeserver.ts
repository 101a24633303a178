// `patchbay homeserver`: the embedded homeserver alone, until SIGINT/SIGTERM; SIGHUP reloads the
// appservice registrations.
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
// AppserviceRegistryError is not re-exported by homeserver/index.ts (yet); it marks a bad or clashing
// registration file, which is a configuration problem rather than a crash.
import { AppserviceRegistryError } from '../../homeserver/appservice/AppserviceRegistry.js';
import { startHomeserver, type RunningHomeserver } from '../../homeserver/index.js';
import { ExitCode, type Command } from '../Command.js';
import { homeserverOptions } from '../homeserverOptions.js';
import { createLogger } from '../logger.js';
import { serveUntilSignal } from '../serveUntilSignal.js';

export const command: Command = {
  usage: '[--config FILE]',
  description: [
    'Runs the embedded homeserver (the homeserver section of the configuration) until SIGINT or SIGTERM,',
    'which stop it gracefully. SIGHUP re-reads homeserver.app_service_config_files.',
  ].join('\n'),
  options: {},
  async run(ctx) {
    const config = ctx.config();
    const logger = createLogger(config.logging.level);
    const options = homeserverOptions(config, logger);
    if (options.storage.kind === 'sqlite') {
      await mkdir(dirname(options.storage.path), { recursive: true });
      if (options.mediaDir) await mkdir(options.mediaDir, { recursive: true });
    }
    let homeserver: RunningHomeserver;
    try {
      homeserver = await startHomeserver(options);
    } catch (err) {
      if (!(err instanceof AppserviceRegistryError)) throw err;
      ctx.err(`patchbay homeserver: ${err.message}`);
      return ExitCode.config;
    }
    ctx.out(`patchbay homeserver: serving ${homeserver.url} (server name ${options.serverName})`);
    const code = await serveUntilSignal(
      { stop: () => homeserver.stop(), reload: () => homeserver.reloadAppservices() },
      logger,
    );
    return code === 0 ? ExitCode.ok : code;
  },
};
