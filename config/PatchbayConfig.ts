// The validated configuration. Keys are snake_case, exactly as written in the YAML file, so a key
// path in an error message, in the docs and in code is the same string.
import type { hostSchema } from './schema.js';
import type { SchemaType } from './SchemaType.js';

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

export interface TurnConfig {
  uris: string[];
  username: string | null;
  password: string | null;
  shared_secret: string | null;
  ttl_seconds: number;
}

/** One token bucket: up to `burst` actions at once, refilled at `per_second` actions per second. */
export interface RateLimitConfig {
  per_second: number;
  burst: number;
}

/** homeserver.rate_limits: what one user (or one client address) may do how often. */
export interface RateLimitsConfig {
  /** false turns every limit off. */
  enabled: boolean;
  /** Room events: messages, state events and redactions. */
  sends_per_user: RateLimitConfig;
  room_creation_per_user: RateLimitConfig;
  /** Joins by room ID or alias. */
  joins_per_user: RateLimitConfig;
  invites_per_user: RateLimitConfig;
  /** Accounts created (the UIA round trips are not counted). */
  registration_per_ip: RateLimitConfig;
  /** Every login attempt. */
  login_per_ip: RateLimitConfig;
  /** Wrong passwords, counted against the account tried: slows password guessing from many addresses. */
  failed_login_per_account: RateLimitConfig;
  /** Signed federation requests, counted against the server that signed them. */
  federation_per_origin: RateLimitConfig;
}

/** homeserver.connections: how long a client may take to send a request, and how much it may hold open. */
export interface ConnectionsConfig {
  /** From connecting (or the end of the previous response) to the last header line. */
  headers_timeout_ms: number;
  /** A request body gets this long, plus one second for every `body_min_bytes_per_second` bytes received. */
  body_timeout_ms: number;
  body_min_bytes_per_second: number;
  /** A keep-alive connection with no request is closed after this long. */
  idle_timeout_ms: number;
  /** Open connections per client address (trusted proxies are not counted). */
  max_per_ip: number;
}

/** What .well-known/matrix/client tells Element-style clients about encryption (`io.element.e2ee`). */
export interface E2eeConfig {
  /** New private rooms and DMs are encrypted by default. */
  default: boolean;
  /** Clients hide encryption altogether. */
  force_disable: boolean;
}

/** homeserver.push: delivery to push gateways. */
export interface PushConfig {
  /** Let pushers post to loopback, private and link-local addresses. */
  allow_private_gateways: boolean;
  retry: { initial_ms: number; max_ms: number };
}

/** Where `patchbay homeserver` alone serves GET /metrics (its own listener, loopback by default). */
export interface HomeserverMetricsConfig {
  enabled: boolean;
  bind: string;
  /** 0 picks a free port; null: homeserver.port + 1 (any free port when that is 0). */
  port: number | null;
}

export interface HomeserverConfig {
  /** `patchbay start` runs the embedded homeserver; false when an external one (Synapse) is used. */
  enabled: boolean;
  server_name: string;
  bind: string;
  /** 0 picks a free port. */
  port: number;
  public_base_url: string | null;
  storage: 'sqlite' | 'memory';
  /** Absolute: resolved against data_dir by loadConfig. */
  database: string;
  /** Absolute: resolved against data_dir by loadConfig. */
  media_dir: string;
  max_body_bytes: number;
  max_upload_bytes: number;
  registration_enabled: boolean;
  /** Absolute: resolved against the working directory by loadConfig. */
  app_service_config_files: string[];
  appservice_retry: { initial_ms: number; max_ms: number };
  turn: TurnConfig;
  /** Reverse proxies whose X-Forwarded-For names the client (IP addresses, CIDR ranges, or loopback). */
  trusted_proxies: string[];
  connections: ConnectionsConfig;
  rate_limits: RateLimitsConfig;
  e2ee: E2eeConfig;
  push: PushConfig;
  presence: { idle_timeout_ms: number; offline_timeout_ms: number };
  federation: FederationConfig;
  metrics: HomeserverMetricsConfig;
}

/** homeserver.federation: this server's signing key, how peers are found, and whom to trust for keys. */
export interface FederationConfig {
  /** Serves the key endpoints and .well-known/matrix/server, and checks X-Matrix requests. */
  enabled: boolean;
  /** Absolute: resolved against data_dir by loadConfig. Made (0600) on first start. */
  signing_key: string;
  /** valid_until_ts of the published keys: how long peers may cache them. */
  key_validity_ms: number;
  /** `m.server` of .well-known/matrix/server; null: the host of public_base_url (port 443 unless it names one). */
  well_known_server: string | null;
  /** server name -> `host:port` (TLS) or `http://host:port` (plain HTTP): used before any DNS. */
  peers: Record<string, string>;
  /** Notaries asked for keys a server cannot give itself; verify_keys pins theirs. */
  trusted_key_servers: Array<{ server_name: string; verify_keys?: Record<string, string> }>;
  /** Server names (besides the peers) this server may connect to at private addresses. */
  allow_private_addresses: string[];
  /** Globs of servers to federate with, both ways: deny wins, then allow, else refused. */
  servers: { allow: string[]; deny: string[] };
  /** Largest request body on the federation endpoints. */
  max_body_bytes: number;
  /** Largest medium fetched from another server for a local client. */
  remote_media_max_bytes: number;
  /** How long a local client's request waits for another server. */
  query_timeout_ms: number;
  /** The outbound queue: retry backoff per destination and how much waits per destination at most. */
  sending: FederationSendingConfig;
  /** Where /_matrix/federation and /_matrix/key are served: port null = on the client port (homeserver.port). */
  listener: FederationListenerConfig;
}

export interface FederationListenerConfig {
  /** null: the client listener serves federation too; a port (0: any free one): a listener of its own. */
  port: number | null;
  /** null: homeserver.bind. */
  bind: string | null;
}

export interface FederationSendingConfig {
  retry: { initial_ms: number; max_ms: number };
  max_queued_pdus: number;
  max_queued_edus: number;
}

export interface RedisConfig {
  /** null: Patchbay runs its own redis-server on a unix socket under data_dir. */
  url: string | null;
}

/**
 * The host section, read off its schema (config/schema.ts): a new host setting is declared there only.
 * Paths (registration) come back absolute, resolved against data_dir by loadConfig.
 */
export type HostConfig = SchemaType<typeof hostSchema>;

/**
 * One bridge's section. `enabled` and `module` are Patchbay's; every other key belongs to the plugin,
 * which validates them itself (its BridgeDescriptor.configSchema).
 */
export interface BridgeConfig {
  enabled: boolean;
  /** A package name or an absolute path (relative paths are resolved against the config file's folder). */
  module?: string;
  [key: string]: unknown;
}

export interface PatchbayConfig {
  /** Absolute: resolved against the working directory by loadConfig. */
  data_dir: string;
  logging: {
    level: LogLevel;
    /** `auto`: pino-pretty when stdout is a terminal, JSON lines otherwise. */
    format: 'auto' | 'pretty' | 'json';
    /** JSON lines also go here (absolute: resolved against data_dir); null for none. */
    file: string | null;
  };
  homeserver: HomeserverConfig;
  redis: RedisConfig;
  host: HostConfig;
  bridges: Record<string, BridgeConfig>;
}
