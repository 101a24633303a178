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
  logging: { level: LogLevel };
  homeserver: HomeserverConfig;
  redis: RedisConfig;
  host: HostConfig;
  bridges: Record<string, BridgeConfig>;
}
