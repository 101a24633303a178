// `patchbay homeserver`: the embedded homeserver alone, until SIGINT/SIGTERM; SIGHUP re-reads the config
// file (its log level and homeserver.app_service_config_files) and the registrations it lists.
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
// AppserviceRegistryError is not re-exported by homeserver/index.ts (yet); it marks a bad or clashing
// registration file, which is a configuration problem rather than a crash.
import { AppserviceRegistryError } from '../../homeserver/appservice/AppserviceRegistry.js';
import { loadConfig, type LogLevel } from '../../config/index.js';
import { startHomeserver, type RunningHomeserver } from '../../homeserver/index.js';
import { ExitCode, type Command } from '../Command.js';
import { homeserverOptions } from '../homeserverOptions.js';
import { createLogger } from '../logger.js';
import { listenForMetrics, type MetricsListener } from '../MetricsListener.js';
import { collectProcessMetrics } from '../processMetrics.js';
import { register } from 'prom-client';
import { DatabaseInUseError } from '../../homeserver/storage/DatabaseInUseError.js';
import { homeserverListeners, homeserverMetricsListener, homeserverMetricsPort, preflight } from '../Preflight.js';
import { listenerUrl } from '../processUrls.js';
import { serveUntilSignal } from '../serveUntilSignal.js';

export const command: Command = {
  usage: '[--config FILE]',
  description: [
    'Runs the embedded homeserver (the homeserver section of the configuration) until SIGINT or SIGTERM,',
    'which stop it gracefully. SIGHUP re-reads the config file (the log level and',
    'homeserver.app_service_config_files) and every registration file it lists.',
  ].join('\n'),
  options: {},
  async run(ctx) {
    const config = ctx.config();
    const { logger, reopen: reopenLog } = createLogger(config.logging);
    collectProcessMetrics();
    // The homeserver reads this list on each reload; SIGHUP refills it from the re-read config.
    const appserviceFiles = [...config.homeserver.app_service_config_files];
    const options = { ...homeserverOptions(config, logger), appserviceConfigFiles: appserviceFiles };
    await preflight({
      ...(options.storage.kind === 'sqlite' && {
        notBesideStart: { dataDir: config.data_dir, what: 'its embedded homeserver on the same database' },
        writableDir: config.data_dir,
      }),
      listeners: [...homeserverListeners(config), ...(config.homeserver.metrics.enabled ? [homeserverMetricsListener(config)] : [])],
    });
    if (options.storage.kind === 'sqlite') {
      await mkdir(dirname(options.storage.path), { recursive: true });
      if (options.mediaDir) await mkdir(options.mediaDir, { recursive: true });
    }
    let homeserver: RunningHomeserver;
    try {
      homeserver = await startHomeserver(options);
    } catch (err) {
      if (err instanceof DatabaseInUseError) {
        ctx.err(`patchbay homeserver: ${err.message}`);
        return ExitCode.failure;
      }
      if (!(err instanceof AppserviceRegistryError)) throw err;
      ctx.err(`patchbay homeserver: ${err.message}`);
      return ExitCode.config;
    }
    let metrics: MetricsListener | null = null;
    if (config.homeserver.metrics.enabled) {
      try {
        metrics = await listenForMetrics(register, config.homeserver.metrics.bind, homeserverMetricsPort(config));
      } catch (err) {
        await homeserver.stop();
        throw err;
      }
    }
    const federation =
      options.federationListener !== undefined && homeserver.federationPort !== null && homeserver.federationPort !== homeserver.port
        ? `, federation ${listenerUrl(options.federationListener.bind, homeserver.federationPort)}`
        : '';
    ctx.out(`patchbay homeserver: serving ${homeserver.url} (server name ${options.serverName})${federation}${metrics === null ? '' : `, metrics ${metrics.url}`}`);
    const reload = async (): Promise<void> => {
      reopenLog();
      const configFile = ctx.option('config');
      const fresh = loadConfig({ env: ctx.env, ...(configFile !== undefined && { file: configFile }) });
      logger.level = fresh.logging.level satisfies LogLevel;
      const previous = [...appserviceFiles];
      appserviceFiles.splice(0, appserviceFiles.length, ...fresh.homeserver.app_service_config_files);
      try {
        await homeserver.reloadAppservices();
      } catch (err) {
        appserviceFiles.splice(0, appserviceFiles.length, ...previous);
        throw err;
      }
      logger.info({ app_service_config_files: appserviceFiles }, 'homeserver: appservice registrations reloaded');
    };
    const stop = async (): Promise<void> => {
      await metrics?.stop();
      await homeserver.stop();
    };
    const code = await serveUntilSignal({ stop, reload }, logger);
    return code === 0 ? ExitCode.ok : code;
  },
};
