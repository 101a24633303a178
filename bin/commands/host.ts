// `patchbay host`: the ingest side of a split deployment. It takes the homeserver's transactions (AS API
// on host.bind/host.port), stores them in the shared Redis and answers; `patchbay worker` processes run
// them. The bridges are loaded here too, without connecting to their networks, to answer the
// homeserver's user, alias and third-party queries.
import { register } from 'prom-client';
import { createEventPipeline, type EventPipeline } from '../../core/host/index.js';
import { PluginHost } from '../../core/plugin/index.js';
import { ExitCode, type Command } from '../Command.js';
import { eventPipelineOptions, loadPlugins, pluginHostOptions } from '../hostOptions.js';
import { HostRegistrationFile } from '../HostRegistrationFile.js';
import { createLogger } from '../logger.js';
import { collectProcessMetrics } from '../processMetrics.js';
import { PluginHostGate } from '../PluginHostGate.js';
import { hostListener, preflight } from '../Preflight.js';
import { actingHomeserverUrl, hostServerName, reachableUrl, sharedRedisUrl } from '../processUrls.js';
import { describeRedisUrl, redisConnectionFor } from '../redisConnection.js';
import { serveUntilSignal } from '../serveUntilSignal.js';
import { startupFailure } from '../startupFailure.js';

export const command: Command = {
  usage: '[--config FILE]',
  description: [
    'Runs the appservice host without workers: it receives the homeserver\'s transactions on',
    'host.bind/host.port, stores them in Redis (redis.url, shared with the workers) and answers the',
    'homeserver\'s queries. Events are handled by `patchbay worker` processes. Writes host.registration when',
    'it is missing, as `patchbay start` does. Runs until SIGINT or SIGTERM.',
  ].join('\n'),
  options: {},
  async run(ctx) {
    const config = ctx.config();
    const redisUrl = sharedRedisUrl(config, 'host');
    const homeserverUrl = actingHomeserverUrl(config);
    const plugins = await loadPlugins(config);
    await preflight({ writableDir: config.data_dir, listeners: [hostListener(config)] });
    const { logger, reopen: reopenLog, recentErrors } = createLogger(config.logging);
    collectProcessMetrics();
    const redis = redisConnectionFor(redisUrl);

    const registrationFile = await HostRegistrationFile.prepare(config.host.registration, plugins, hostServerName(config));
    const gate = new PluginHostGate();
    const pipeline: EventPipeline = createEventPipeline(
      eventPipelineOptions(config, {
        role: 'ingest',
        registration: registrationFile.registration,
        redis,
        logger,
        metrics: register,
        resolver: gate,
        pluginRoutes: gate.httpRoutes,
        http: 'host',
        homeserverUrl: () => homeserverUrl,
        recentErrors,
      }),
    );
    let pluginHost: PluginHost | null = null;
    try {
      await pipeline.start();
      const hostUrl = config.host.url ?? reachableUrl(pipeline.url as string);
      await registrationFile.settle(hostUrl, logger);
      pluginHost = new PluginHost(
        pluginHostOptions(config, {
          plugins,
          registration: registrationFile.registration,
          homeserverUrl,
          redis,
          logger,
          metrics: register,
          worksEvents: false,
          publicUrl: hostUrl,
        }),
      );
      await pluginHost.start();
      gate.admit(pluginHost);
      logger.info({ host_url: hostUrl, homeserver_url: homeserverUrl, registration: registrationFile.path }, 'patchbay host ready');
      ctx.out(
        `patchbay host: ready. Appservice host ${hostUrl} (registration ${registrationFile.path}), homeserver ${homeserverUrl}, ` +
          `Redis ${describeRedisUrl(redisUrl)}, partitions: ${config.host.partitions}. Events are handled by \`patchbay worker\` processes.`,
      );
    } catch (err) {
      await pipeline.stop({ force: true }).catch(() => undefined);
      await pluginHost?.stop().catch(() => undefined);
      return startupFailure(ctx, logger, err);
    }
    const host = pluginHost;
    const code = await serveUntilSignal(
      {
        stop: async () => {
          await pipeline.stop();
          await host.stop();
        },
        // SIGHUP: logging.file is reopened (after a log rotation); the rest of the config is read at start.
        reload: async () => reopenLog(),
      },
      logger,
    );
    return code === 0 ? ExitCode.ok : code;
  },
};
