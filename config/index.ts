// The configuration: one YAML file over the shipped defaults, validated once at startup.
export { loadConfig, type LoadConfigOptions } from './loadConfig.js';
export { ConfigError } from './ConfigError.js';
export { didYouMean } from './didYouMean.js';
export { describeSchemaErrors } from './describeSchemaErrors.js';
export { packageRoot, defaultsFile } from './packageRoot.js';
export { MAX_PARTITIONS, hostSchema } from './schema.js';
export { hostSettings, shippedDefaults } from './shippedDefaults.js';
export type { SchemaType } from './SchemaType.js';
export type {
  PatchbayConfig,
  LogLevel,
  HomeserverConfig,
  TurnConfig,
  RateLimitConfig,
  RateLimitsConfig,
  ConnectionsConfig,
  FederationConfig,
  RedisConfig,
  HostConfig,
  BridgeConfig,
} from './PatchbayConfig.js';
