// The plugin runtime as bin/ composes it: load the enabled bridges, derive the registration inputs,
// run them behind the EventDispatcher / QueryResolver / ThirdPartyResolver seams of core/contracts.ts.
export { PluginLoader, type LoadedPlugin, type PluginLoaderOptions } from './PluginLoader.js';
export { PluginHost, type PluginHostOptions } from './PluginHost.js';
export { registrationInputsFor, type RegistrationInputs } from './RegistrationInputs.js';
export { detectCapabilities, capabilityNames, type PluginCapabilities } from './PluginCapabilities.js';
export { DEFAULT_OUTBOX_SETTINGS, OutboxDeliveryError, type OutboxSettings } from '../outbox/OutboxQueues.js';
export type { RedisConnection } from '../store/RedisConnection.js';
export type * from '../plugin-api/index.js';
