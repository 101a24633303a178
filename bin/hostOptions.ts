// The appservice host's parts (event pipeline, plugin host) from the validated config, as
// homeserverOptions.ts does for the homeserver: `start`, `host` and `worker` all build them here, so
// what must match across processes (partitions, appservice id, Redis) comes from one place.
import type { RequestHandler } from 'express';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { PatchbayConfig } from '../config/index.js';
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
    dataDir: config.data_dir,
  };
}
