import type { Logger } from 'pino';
import type { PatchbayConfig } from '../config/index.js';
import type { HomeserverOptions } from '../homeserver/contracts.js';

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
    logger,
  };
}
