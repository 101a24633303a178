// The appservice host's parts (event pipeline, plugin host) from the validated config, as
// homeserverOptions.ts does for the homeserver: `start`, `host` and `worker` all build them here, so
// what must match across processes (partitions, appservice id, Redis) comes from one place.
import type { RequestHandler } from 'express';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { ConfigError, type PatchbayConfig } from '../config/index.js';
import { builtinBridges } from '../bridges/registry.js';
import type { EventDispatcher, QueryResolver, ThirdPartyResolver } from '../core/contracts.js';
import type { EventPipelineOptions, PipelineRole } from '../core/host/index.js';
import { PluginLoader, type LoadedPlugin, type PluginHostOptions } from '../core/plugin/index.js';
import type { AppserviceRegistration } from '../registration/index.js';
import { hostServerName } from './processUrls.js';
import type { RedisTarget } from './redisConnection.js';

/** The enabled bridges, loaded and validated (a ConfigError lists every problem). */
export function loadPlugins(config: PatchbayConfig): Promise<LoadedPlugin[]> {
  return new PluginLoader({ builtins: builtinBridges }).load(config.bridges);
}

/**
 * A ConfigError of the file's own keys with the bridges' problems added (each bridge checks its own
 * section, which otherwise happens only once the rest is valid), so one run lists everything. A key
 * both name is listed once.
 */
export async function withBridgeProblems(err: ConfigError): Promise<ConfigError> {
  if (err.bridges === null) return err;
  try {
    await new PluginLoader({ builtins: builtinBridges }).load(err.bridges);
    return err;
  } catch (bridgeErr) {
    if (!(bridgeErr instanceof ConfigError)) return err;
    const keyOf = (problem: string): string => problem.slice(0, problem.indexOf(': '));
    const named = new Set(err.problems.map(keyOf));
    const added = bridgeErr.problems.filter((p) => !named.has(keyOf(p)));
    return added.length === 0 ? err : new ConfigError([...err.problems, ...added], err.source);
  }
}

export interface PipelineParts {
  role: PipelineRole;
  registration: AppserviceRegistration;
  redis: RedisTarget;
  logger: Logger;
  metrics: Registry;
  /** The plugins (or a stand-in for them): required for `work` and `both`. */
  dispatcher?: EventDispatcher;
  resolver?: QueryResolver & ThirdPartyResolver;
  /** The bridges' HTTP routes, on a process that runs the host (start, host); workers serve none. */
  pluginRoutes?: RequestHandler;
  /** Listen on host.bind/host.port, or on this port (worker --http-port), or not at all (null). */
  http: 'host' | { port: number } | null;
  workerPartitions?: number[];
  /** This Redis serves nothing but a start that was killed: its active jobs are orphans. */
  previousRunDied?: boolean;
}

export function eventPipelineOptions(config: PatchbayConfig, parts: PipelineParts): EventPipelineOptions {
  const host = config.host;
  const http = parts.http === null ? null : { bind: host.bind, port: parts.http === 'host' ? host.port : parts.http.port };
  return {
    registration: { id: parts.registration.id, hs_token: parts.registration.hs_token },
    redis: parts.redis,
    host,
    role: parts.role,
    ...(parts.dispatcher && { dispatcher: parts.dispatcher }),
    ...(parts.resolver && { queries: parts.resolver, thirdParty: parts.resolver }),
    ...(parts.pluginRoutes && { pluginRoutes: parts.pluginRoutes }),
    logger: parts.logger,
    metrics: parts.metrics,
    http,
    ...(parts.workerPartitions && { tuning: { workerPartitions: parts.workerPartitions } }),
    ...(parts.previousRunDied && { previousRunDied: true }),
  };
}

export interface PluginHostParts {
  plugins: LoadedPlugin[];
  registration: AppserviceRegistration;
  homeserverUrl: string;
  redis: RedisTarget;
  logger: Logger;
  metrics: Registry;
  /** False on an ingest-only host: plugins answer queries but keep off their networks and send nothing. */
  worksEvents: boolean;
  /** The host's public URL (host.url, else where it listens); null on a worker that does not know it. */
  publicUrl: string | null;
  previousRunDied?: boolean;
}

export function pluginHostOptions(config: PatchbayConfig, parts: PluginHostParts): PluginHostOptions {
  return {
    plugins: parts.plugins,
    appserviceId: parts.registration.id,
    homeserverUrl: parts.homeserverUrl,
    asToken: parts.registration.as_token,
    serverName: hostServerName(config),
    senderLocalpart: parts.registration.sender_localpart,
    redis: parts.redis,
    logger: parts.logger,
    metrics: parts.metrics,
    connectRemote: parts.worksEvents,
    outboxWorker: parts.worksEvents,
    host: config.host,
    publicUrl: parts.publicUrl,
    ...(parts.previousRunDied && { previousRunDied: true }),
    dataDir: config.data_dir,
  };
}
