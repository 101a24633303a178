// Where the processes find each other. A listener bound to every interface (0.0.0.0, ::) is reached on
// loopback from the same machine; a URL set in the config always wins over a derived one.
import { ConfigError, type PatchbayConfig } from '../config/index.js';

/** `http://0.0.0.0:9000` -> `http://127.0.0.1:9000`; `http://[::]:9000` -> `http://[::1]:9000`. */
export function reachableUrl(boundUrl: string): string {
  const url = new URL(boundUrl);
  if (url.hostname === '0.0.0.0') url.hostname = '127.0.0.1';
  else if (url.hostname === '[::]') url.hostname = '[::1]';
  return url.toString().replace(/\/$/, '');
}

/** `http://<bind>:<port>` for a configured listener, made reachable. */
export function listenerUrl(bind: string, port: number): string {
  const host = bind.includes(':') && !bind.startsWith('[') ? `[${bind}]` : bind;
  return reachableUrl(`http://${host}:${port}`);
}

/** host.server_name, or homeserver.server_name when it is null. */
export function hostServerName(config: PatchbayConfig): string {
  return config.host.server_name ?? config.homeserver.server_name;
}

/**
 * The Client-Server URL the host acts through: host.homeserver_url, else the embedded homeserver's
 * (its actual URL when this process runs it, else http://<homeserver.bind>:<homeserver.port>).
 */
export function actingHomeserverUrl(config: PatchbayConfig, embeddedUrl?: string): string {
  if (config.host.homeserver_url !== null) return config.host.homeserver_url.replace(/\/$/, '');
  if (embeddedUrl !== undefined) return reachableUrl(embeddedUrl);
  if (config.homeserver.port === 0) {
    throw new ConfigError([
      'host.homeserver_url: null, and homeserver.port is 0 (any free port), so this process cannot know where the ' +
        'homeserver listens. Fix: set host.homeserver_url to the homeserver\'s URL, e.g. http://127.0.0.1:8008, or give homeserver.port a number',
    ]);
  }
  return listenerUrl(config.homeserver.bind, config.homeserver.port);
}

/**
 * redis.url for a process that is one of several (`patchbay host`, `patchbay worker`): they can only
 * share a Redis they are all told about, so a null (the Redis `patchbay start` runs for itself) is refused.
 */
export function sharedRedisUrl(config: PatchbayConfig, command: string): string {
  if (config.redis.url !== null) return config.redis.url;
  throw new ConfigError([
    `redis.url: null means the Redis that \`patchbay start\` runs for itself, which \`patchbay ${command}\` cannot share. ` +
      'Fix: run one Redis for all the processes and set redis.url to it in each process\'s config, ' +
      'e.g. redis://127.0.0.1:6379 or unix:///var/run/redis/redis.sock',
  ]);
}
