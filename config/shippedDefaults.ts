import { loadConfig } from './loadConfig.js';
import type { HostConfig, PatchbayConfig } from './PatchbayConfig.js';

let cached: PatchbayConfig | null = null;

/** config/defaults.yaml alone, validated: what a setting is when nobody set it. */
export function shippedDefaults(): PatchbayConfig {
  cached ??= loadConfig({ env: {} });
  return cached;
}

/** The host section with `given` over the shipped defaults: how core takes its host settings. */
export function hostSettings(given: Partial<HostConfig> = {}): HostConfig {
  return { ...shippedDefaults().host, ...given };
}
