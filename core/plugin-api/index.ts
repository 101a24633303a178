// The plugin API: everything a bridge plugin sees of Patchbay, published as `patchbay-matrix/plugin`. A
// bridge imports this and nothing else of Patchbay. Modelled on mautrix-go's bridgev2: one small required
// interface, and optional capabilities as extra interfaces the host detects at load time. A leaf: it
// imports nothing but matrix-types/, so the package entry needs no other dependency to load or type-check.
export { bridgeInfoState, type BridgeInfo } from './bridgeInfo.js';
export type { ContentOf, FileContent, FileInfo, LocationContent, RelatesTo, RoomMessageContent, TextContent } from './content.js';
export type { BridgeContext, EventContext } from './context.js';
export type { CallCandidate, EventRelation, MatrixCallEvent, MatrixEphemeralEvent, MatrixEvent, MediaContent } from './events.js';
export type { HttpAuthHook, HttpHandler, HttpMethod, HttpRequest, HttpResponse, HttpRouteOptions, HttpRoutes } from './http.js';
export type { GhostDirectory, GhostProfile, Intent, PresenceState } from './intent.js';
export type { LogFn, Logger } from './Logger.js';
export type { Counter, Gauge, Histogram, MetricLabels, MetricOptions, PluginMetrics } from './metrics.js';
export { failureKindOf, IgnoredEventError, PermanentError, RetryLaterError, type FailureKind } from './errors.js';
export { MatrixApiError } from './MatrixApiError.js';
export type { OutboundMessage, Outbox } from './outbox.js';
export type { Portal, PortalKey, PortalPowerLevels, PortalSpec, Portals } from './portals.js';
export { USUAL_EVENT_LEVELS } from './portals.js';
export type {
  AliasQueryHandler,
  AttachmentHandler,
  BridgeDescriptor,
  BridgePlugin,
  BuiltinBridgeRegistry,
  CallHandler,
  EphemeralHandler,
  JsonSchema,
  PluginFactory,
  RoomUpgrade,
  RoomUpgradeHandler,
  ThirdPartyHandler,
  UserQueryHandler,
} from './plugin.js';
export {
  ProvisioningError,
  type Provisioning,
  type ProvisioningApi,
  type ProvisioningAuth,
  type ProvisioningHandler,
  type ProvisioningOptions,
  type ProvisioningRequest,
  type ProvisioningRouteOptions,
} from './provisioning.js';
export type { BridgeStatus, ConnectionReport, ConnectionState, ConnectionStatus } from './status.js';
export type { IdentityMap, MessageMap, PluginStore, RemoteLocation, RoomLink, RoomLinks } from './stores.js';
export type { ThirdPartyLocation, ThirdPartyProtocol, ThirdPartyUser } from './thirdparty.js';
