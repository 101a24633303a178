import type { Logger } from 'pino';
import type { PatchbayConfig } from '../config/index.js';
import type { HomeserverOptions } from '../homeserver/contracts.js';
import { DEFAULT_SEND_OPTIONS } from '../homeserver/federation/send/FederationSender.js';

/**
 * What .well-known/matrix/server names when the config does not: the host clients reach (public_base_url,
 * else the server name) on the port public_base_url gives, else 443, where a TLS proxy usually listens.
 */
export function derivedWellKnownServer(publicBaseUrl: string | null, serverName: string): string {
  if (publicBaseUrl !== null) {
    const url = new URL(publicBaseUrl);
    return `${url.hostname}:${url.port === '' ? 443 : url.port}`;
  }
  const host = /^(\[[^\]]+\]|[^:]+)/.exec(serverName)?.[1] ?? serverName;
  return `${host}:443`;
}

/** The homeserver's options from the validated config (paths are already absolute there). */
export function homeserverOptions(config: PatchbayConfig, logger: Logger): HomeserverOptions {
  const hs = config.homeserver;
  const turn = hs.turn;
  return {
    serverName: hs.server_name,
    bind: hs.bind,
    port: hs.port,
    ...(hs.public_base_url !== null && { publicBaseUrl: hs.public_base_url }),
    storage: hs.storage === 'sqlite' ? { kind: 'sqlite', path: hs.database } : { kind: 'memory' },
    ...(hs.storage === 'sqlite' && { mediaDir: hs.media_dir }),
    maxBodyBytes: hs.max_body_bytes,
    maxUploadBytes: hs.max_upload_bytes,
    registrationEnabled: hs.registration_enabled,
    appserviceConfigFiles: hs.app_service_config_files,
    appserviceRetry: { initialMs: hs.appservice_retry.initial_ms, maxMs: hs.appservice_retry.max_ms },
    ...(turn.uris.length > 0 && {
      turn: {
        uris: turn.uris,
        ...(turn.username !== null && { username: turn.username }),
        ...(turn.password !== null && { password: turn.password }),
        ...(turn.shared_secret !== null && { sharedSecret: turn.shared_secret }),
        ttlSeconds: turn.ttl_seconds,
      },
    }),
    trustedProxies: hs.trusted_proxies,
    connections: hs.connections,
    rateLimits: hs.rate_limits,
    e2ee: { default: hs.e2ee.default, forceDisable: hs.e2ee.force_disable },
    push: {
      allowPrivateGateways: hs.push.allow_private_gateways,
      retry: { initialMs: hs.push.retry.initial_ms, maxMs: hs.push.retry.max_ms },
    },
    presence: { idleMs: hs.presence.idle_timeout_ms, offlineMs: hs.presence.offline_timeout_ms },
    signingKeyFile: hs.federation.signing_key,
    ...(hs.federation.enabled && {
      federation: {
        keyValidityMs: hs.federation.key_validity_ms,
        wellKnownServer: hs.federation.well_known_server ?? derivedWellKnownServer(hs.public_base_url, hs.server_name),
        peers: hs.federation.peers,
        trustedKeyServers: hs.federation.trusted_key_servers.map((n) => ({
          serverName: n.server_name,
          ...(n.verify_keys !== undefined && { verifyKeys: n.verify_keys }),
        })),
        sending: {
          ...DEFAULT_SEND_OPTIONS,
          maxQueuedPdus: hs.federation.sending.max_queued_pdus,
          maxQueuedEdus: hs.federation.sending.max_queued_edus,
          retry: { initialMs: hs.federation.sending.retry.initial_ms, maxMs: hs.federation.sending.retry.max_ms },
        },
        allowPrivateAddresses: hs.federation.allow_private_addresses,
        servers: hs.federation.servers,
        maxBodyBytes: hs.federation.max_body_bytes,
        remoteMediaMaxBytes: hs.federation.remote_media_max_bytes,
        queryTimeoutMs: hs.federation.query_timeout_ms,
      },
      ...(hs.federation.listener.port !== null && {
        federationListener: { bind: hs.federation.listener.bind ?? hs.bind, port: hs.federation.listener.port },
      }),
    }),
    logger,
  };
}
