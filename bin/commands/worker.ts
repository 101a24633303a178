// `patchbay worker`: the working side of a split deployment. It takes events from the partition queues in
// the shared Redis and hands them to the bridges, and drains the bridges' outbox. Several may run at once:
// each partition is consumed by one worker at a time, so every room stays in order.
import { register } from 'prom-client';
import type { PatchbayConfig } from '../../config/index.js';
import { createEventPipeline, type EventPipeline } from '../../core/host/index.js';
import { PluginHost } from '../../core/plugin/index.js';
import { ExitCode, UsageError, type Command } from '../Command.js';
import { eventPipelineOptions, loadPlugins, pluginHostOptions } from '../hostOptions.js';
import { HostRegistrationFile, uncoveredBridges } from '../HostRegistrationFile.js';
import { createLogger } from '../logger.js';
import { collectProcessMetrics } from '../processMetrics.js';
import { preflight } from '../Preflight.js';
import { actingHomeserverUrl, hostServerName, sharedRedisUrl } from '../processUrls.js';
import { describeRedisUrl, redisConnectionFor } from '../redisConnection.js';
import { serveUntilSignal } from '../serveUntilSignal.js';
import { startupFailure } from '../startupFailure.js';

export const command: Command = {
  usage: '[--partitions LIST] [--http-port PORT] [--config FILE]',
  description: [
    'Runs event workers and the enabled bridges: events stored by `patchbay host` (in redis.url) are handed',
    'to the bridges in room order, and the bridges\' messages are posted to the homeserver. Start as many as',
    'you like, with the same config (redis.url, host.partitions, host.registration, bridges): they divide the',
    'partitions among themselves through Redis, and take over those of a worker that stops or dies. Reads',
    'host.registration (written by `patchbay host`). Runs until SIGINT or SIGTERM, which let the events in',
    'hand finish.',
  ].join('\n'),
  options: {
    partitions: {
      type: 'string',
      valueName: 'LIST',
      description: 'consume exactly these partitions, e.g. 0,1,2 or 0-7 (default: the workers share all of them, rebalanced as workers come and go)',
    },
    'http-port': {
      type: 'string',
      valueName: 'PORT',
      description: 'serve GET /health and /metrics on this port of host.bind (default: no HTTP server)',
    },
  },
  async run(ctx) {
    const config = ctx.config();
    const partitions = parsePartitions(ctx.option('partitions'), config);
    const httpPort = parsePort(ctx.option('http-port'));
    const redisUrl = sharedRedisUrl(config, 'worker');
    const homeserverUrl = actingHomeserverUrl(config);
    const plugins = await loadPlugins(config);
    if (httpPort !== null) await preflight({ listeners: [{ portKey: '--http-port', bindKey: 'host.bind', bind: config.host.bind, port: httpPort }] });
    const { logger, reopen: reopenLog, recentErrors } = createLogger(config.logging);
    collectProcessMetrics();
    const redis = redisConnectionFor(redisUrl);
    const registration = await HostRegistrationFile.read(config.host.registration);
    const uncovered = uncoveredBridges(registration, plugins, hostServerName(config));
    if (uncovered.length > 0) {
      // The host rewrites the registration from its own config: the two configs disagree on the bridges.
      logger.warn(
        { bridges: uncovered, registration: config.host.registration },
        'the registration does not cover these bridges: give the host and every worker the same bridges section, then restart the host',
      );
    }

    const pluginHost = new PluginHost(
      pluginHostOptions(config, { plugins, registration, homeserverUrl, redis, logger, metrics: register, worksEvents: true, publicUrl: config.host.url }),
    );
    // The bridges run before the workers take events, so none is handed to a bridge that is not there.
    let pipeline: EventPipeline | null = null;
    try {
      await pluginHost.start();
      pipeline = createEventPipeline(
        eventPipelineOptions(config, {
          role: 'work',
          registration,
          redis,
          logger,
          metrics: register,
          dispatcher: pluginHost,
          http: httpPort === null ? null : { port: httpPort },
          homeserverUrl: () => homeserverUrl,
          recentErrors,
          ...(partitions && { workerPartitions: partitions }),
        }),
      );
      await pipeline.start();
    } catch (err) {
      await pipeline?.stop({ force: true }).catch(() => undefined);
      await pluginHost.stop().catch(() => undefined);
      return startupFailure(ctx, logger, err);
    }
    const total = config.host.partitions;
    const share = partitions
      ? `Partitions ${describePartitions(partitions)} of ${total}`
      : `Partitions shared with the other workers (${(await pipeline.health()).workers?.local_partitions ?? '?'} of ${total} here now)`;
    logger.info({ partitions: partitions ?? 'balanced', homeserver_url: homeserverUrl, http: pipeline.url }, 'patchbay worker ready');
    ctx.out(
      `patchbay worker: ready. ${share}, homeserver ${homeserverUrl}, ` +
        `Redis ${describeRedisUrl(redisUrl)}, bridges: ${plugins.map((p) => p.name).join(', ') || 'none'}` +
        `${pipeline.url ? `, health and metrics ${pipeline.url}` : ''}.`,
    );
    const running = pipeline;
    const code = await serveUntilSignal(
      {
        stop: async () => {
          await running.stop();
          await pluginHost.stop();
        },
        // SIGHUP: logging.file is reopened (after a log rotation); the rest of the config is read at start.
        reload: async () => reopenLog(),
      },
      logger,
    );
    return code === 0 ? ExitCode.ok : code;
  },
};

/** `0,1,2`, `0-7` or `0-3,8`: each within 0..host.partitions-1. Null when not given (all). */
function parsePartitions(text: string | undefined, config: PatchbayConfig): number[] | null {
  if (text === undefined) return null;
  const total = config.host.partitions;
  const out = new Set<number>();
  for (const part of text.split(',')) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    const from = m ? Number(m[1]) : NaN;
    const to = m ? Number(m[2] ?? m[1]) : NaN;
    if (!m || from > to || to >= total) {
      throw new UsageError(
        `--partitions ${JSON.stringify(text)}: write partition numbers from 0 to ${total - 1} (host.partitions is ${total}), ` +
          'separated by commas, with ranges as 0-7, e.g. --partitions 0,1,2',
      );
    }
    for (let p = from; p <= to; p++) out.add(p);
  }
  return [...out].sort((a, b) => a - b);
}

function parsePort(text: string | undefined): number | null {
  if (text === undefined) return null;
  const port = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(port >= 0 && port <= 65535)) throw new UsageError(`--http-port ${JSON.stringify(text)}: give a port number 0-65535 (0: any free port).`);
  return port;
}

/** `0-15`, `0-3, 8, 10-11`. */
function describePartitions(partitions: number[]): string {
  const ranges: string[] = [];
  for (let i = 0; i < partitions.length; ) {
    let j = i;
    while (j + 1 < partitions.length && partitions[j + 1] === partitions[j]! + 1) j++;
    ranges.push(i === j ? `${partitions[i]}` : `${partitions[i]}-${partitions[j]}`);
    i = j + 1;
  }
  return ranges.join(', ');
}
