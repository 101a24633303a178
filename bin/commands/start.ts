// `patchbay start`: everything in one process. Redis (managed under data_dir unless redis.url is set), the
// event pipeline (AS API + workers), the registration, the embedded homeserver, then the bridges.
//
// Start order, so that no event is lost and port 0 works: the pipeline listens before the homeserver
// starts (the homeserver sends transactions as soon as it loads the registration, and the registration's
// url is only known once the pipeline has bound its port); the bridges start last, since they need the
// homeserver, and events that reach the pipeline before them wait in a PluginHostGate. Stop order: the
// pipeline first (running events finish with the bridges still there; the homeserver keeps undelivered
// events and sends them at the next start), then the bridges, the homeserver, Redis.
import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Logger } from 'pino';
import { register } from 'prom-client';
import { loadConfig, type LogLevel, type PatchbayConfig } from '../../config/index.js';
import { createEventPipeline, type EventPipeline } from '../../core/host/index.js';
import { PluginHost } from '../../core/plugin/index.js';
import { RedisBinaryMissingError, type ManagedRedis } from '../../core/redis/ManagedRedis.js';
import { AppserviceRegistryError } from '../../homeserver/appservice/AppserviceRegistry.js';
import { startHomeserver, type RunningHomeserver } from '../../homeserver/index.js';
import { ExitCode, type Command, type CommandContext } from '../Command.js';
import { DataDirInUseError, DataDirLock } from '../DataDirLock.js';
import { eventPipelineOptions, loadPlugins, pluginHostOptions } from '../hostOptions.js';
import { HostRegistrationFile } from '../HostRegistrationFile.js';
import { homeserverOptions } from '../homeserverOptions.js';
import { createLogger } from '../logger.js';
import { collectProcessMetrics } from '../processMetrics.js';
import { PluginHostGate } from '../PluginHostGate.js';
import { homeserverListeners, hostListener, preflight } from '../Preflight.js';
import { actingHomeserverUrl, hostServerName, reachableUrl } from '../processUrls.js';
import { describeRedisUrl, redisConnectionFor, type RedisTarget } from '../redisConnection.js';
import { serveUntilSignal } from '../serveUntilSignal.js';
import { startupFailure } from '../startupFailure.js';
import { startManagedRedis } from '../startManagedRedis.js';

export const command: Command = {
  usage: '[--config FILE]',
  description: [
    'Runs all of Patchbay in one process until SIGINT or SIGTERM: Redis (its own, under data_dir/redis, unless',
    'redis.url is set), the appservice host with its workers and the enabled bridges, and the embedded',
    'homeserver (unless homeserver.enabled is false). Writes host.registration when it is missing, and keeps',
    'its url and namespaces in step with host.url and the bridges (tokens are kept). Prints a "ready" line',
    'with the URLs. SIGHUP re-reads the config file: the log level and the homeserver\'s appservice list.',
  ].join('\n'),
  options: {},
  run,
};

/** The parts that are running, in the order they stop. */
interface Running {
  pipeline: EventPipeline | null;
  plugins: PluginHost | null;
  homeserver: RunningHomeserver | null;
  redis: ManagedRedis | null;
  lock: DataDirLock | null;
}

async function run(ctx: CommandContext): Promise<number> {
  const config = ctx.config();
  const { logger, reopen: reopenLog, recentErrors } = createLogger(config.logging);
  collectProcessMetrics();
  const running: Running = { pipeline: null, plugins: null, homeserver: null, redis: null, lock: null };
  // The homeserver reads this list on each reload; SIGHUP refills it from the re-read config.
  const appserviceFiles: string[] = [];
  let registrationPath = config.host.registration;

  try {
    // Everything that can be wrong with the config and the machine is found before anything starts.
    const plugins = await loadPlugins(config);
    await preflight({
      notBesideStart: { dataDir: config.data_dir, what: 'its own Redis, homeserver and host' },
      writableDir: config.data_dir,
      redisServer: config.redis.url === null,
      listeners: [hostListener(config), ...(config.homeserver.enabled ? homeserverListeners(config) : [])],
    });
    running.lock = DataDirLock.acquire(config.data_dir);
    // Its own Redis serves no one else: what the killed start was handling waits for no lock to expire.
    const previousRunDied = running.lock.tookOverFromDeadProcess && config.redis.url === null;

    let redis: RedisTarget;
    let redisLabel: string;
    if (config.redis.url !== null) {
      redis = redisConnectionFor(config.redis.url);
      redisLabel = describeRedisUrl(config.redis.url);
    } else {
      running.redis = await startManagedRedis(config.data_dir, logger);
      redis = running.redis.connection;
      redisLabel = `unix://${running.redis.socketPath}`;
    }

    const registrationFile = await HostRegistrationFile.prepare(config.host.registration, plugins, hostServerName(config));
    registrationPath = registrationFile.path;
    const gate = new PluginHostGate();
    // Known once the homeserver runs; the status page probes it from then on.
    let homeserverUrl: string | null = null;
    running.pipeline = createEventPipeline(
      eventPipelineOptions(config, {
        role: config.host.workers === 0 ? 'ingest' : 'both',
        registration: registrationFile.registration,
        redis,
        logger,
        metrics: register,
        dispatcher: gate,
        resolver: gate,
        pluginRoutes: gate.httpRoutes,
        http: 'host',
        previousRunDied,
        homeserverUrl: () => homeserverUrl,
        recentErrors,
      }),
    );
    await running.pipeline.start();
    const hostUrl = config.host.url ?? reachableUrl(running.pipeline.url as string);
    await registrationFile.settle(hostUrl, logger);
    const registration = registrationFile.registration;

    let homeserverLabel: string;
    if (config.homeserver.enabled) {
      appserviceFiles.push(...appserviceFilesFor(config, registrationFile.path));
      running.homeserver = await startEmbeddedHomeserver(config, logger, appserviceFiles);
      homeserverLabel = `${reachableUrl(running.homeserver.url)} (server name ${config.homeserver.server_name})`;
    } else {
      homeserverLabel = `${actingHomeserverUrl(config)} (external; give it ${registrationFile.path})`;
    }
    homeserverUrl = actingHomeserverUrl(config, running.homeserver?.url);

    running.plugins = new PluginHost(
      pluginHostOptions(config, {
        plugins,
        registration,
        homeserverUrl,
        redis,
        logger,
        metrics: register,
        worksEvents: config.host.workers > 0,
        publicUrl: hostUrl,
        previousRunDied,
      }),
    );
    await running.plugins.start();
    gate.admit(running.plugins);

    const bridges = plugins.map((p) => p.name).join(', ') || 'none';
    logger.info(
      { homeserver_url: homeserverUrl, host_url: hostUrl, redis: redisLabel, bridges: plugins.map((p) => p.name), registration: registrationFile.path },
      'patchbay ready',
    );
    ctx.out(
      `patchbay start: ready. Homeserver ${homeserverLabel}, appservice host ${hostUrl}, Redis ${redisLabel}, ` +
        `bridges: ${bridges}. Stop with Ctrl-C or SIGTERM.`,
    );
  } catch (err) {
    await stopAll(running, logger, true);
    if (err instanceof AppserviceRegistryError) {
      ctx.err(`patchbay start: ${err.message}`);
      return ExitCode.config;
    }
    return startupFailure(ctx, logger, err, err instanceof RedisBinaryMissingError || err instanceof DataDirInUseError);
  }

  const code = await serveUntilSignal(
    {
      stop: () => stopAll(running, logger, false),
      reload: () => {
        reopenLog();
        return reload(ctx, logger, running.homeserver, appserviceFiles, registrationPath);
      },
    },
    logger,
  );
  return code === 0 ? ExitCode.ok : code;
}

/** homeserver.app_service_config_files plus the host's own registration (once, however it is listed). */
function appserviceFilesFor(config: PatchbayConfig, registrationPath: string): string[] {
  const files = [...config.homeserver.app_service_config_files];
  if (!files.some((f) => resolve(f) === resolve(registrationPath))) files.push(registrationPath);
  return files;
}

async function startEmbeddedHomeserver(config: PatchbayConfig, logger: Logger, appserviceFiles: string[]): Promise<RunningHomeserver> {
  const options = { ...homeserverOptions(config, logger), appserviceConfigFiles: appserviceFiles };
  if (options.storage.kind === 'sqlite') {
    await mkdir(dirname(options.storage.path), { recursive: true });
    if (options.mediaDir) await mkdir(options.mediaDir, { recursive: true });
  }
  return startHomeserver(options);
}

/** SIGHUP: the config file again; its log level and appservice list apply now, anything else at the next start. */
async function reload(
  ctx: CommandContext,
  logger: Logger,
  homeserver: RunningHomeserver | null,
  appserviceFiles: string[],
  registrationPath: string,
): Promise<void> {
  const configFile = ctx.option('config');
  const config = loadConfig({ env: ctx.env, ...(configFile !== undefined && { file: configFile }) });
  logger.level = config.logging.level satisfies LogLevel;
  if (config.host.registration !== registrationPath) {
    logger.warn({ registration: config.host.registration }, 'host.registration changed: it takes effect at the next start');
  }
  if (!homeserver) return;
  const previous = [...appserviceFiles];
  appserviceFiles.splice(0, appserviceFiles.length, ...appserviceFilesFor(config, registrationPath));
  try {
    await homeserver.reloadAppservices();
  } catch (err) {
    appserviceFiles.splice(0, appserviceFiles.length, ...previous);
    throw err;
  }
  logger.info({ app_service_config_files: appserviceFiles }, 'homeserver: appservice registrations reloaded');
}

/** Stops what runs, pipeline first (see the top of this file); after a failed start, without waiting for events. */
async function stopAll(running: Running, logger: Logger, afterFailedStart: boolean): Promise<void> {
  const step = async (what: string, stop: () => Promise<void>): Promise<void> => {
    try {
      await stop();
    } catch (err) {
      logger.error({ err }, `stopping the ${what} failed`);
    }
  };
  // After a failed start the gate never opened: events waiting there are left for the next start.
  if (running.pipeline) await step('event pipeline', () => running.pipeline!.stop({ force: afterFailedStart }));
  if (running.plugins) await step('bridges', () => running.plugins!.stop());
  if (running.homeserver) await step('homeserver', () => running.homeserver!.stop());
  if (running.redis) await step('managed Redis', () => running.redis!.stop());
  running.lock?.release();
  Object.assign(running, { pipeline: null, plugins: null, homeserver: null, redis: null, lock: null });
}
