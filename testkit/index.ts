// The plugin test kit, published as `patchbay-matrix/plugin/testing`: a fake context for unit tests of a
// plugin (no Redis, no homeserver), and the real stack (Redis, the embedded homeserver, the event
// pipeline, the plugin host) for tests that drive a plugin as a Matrix user would.
export { createFakeContext, type FakeContext, type FakeContextOptions, type FakeHttp, type FakeRequest } from './FakeBridgeContext.js';
export { FakeIntent, FakeMatrix, type FakeRoom, type Membership, type RecordedEvent } from './FakeMatrix.js';
export { MatrixHttpClient, enc, type JsonObject, type MatrixRequestOptions, type MatrixResponse } from './MatrixHttpClient.js';
export { MemoryBridgeStatus, MemoryIdentityMap, MemoryMessageMap, MemoryRoomLinks, MemoryStore } from './MemoryStores.js';
export { startPluginStack, type PluginStack, type PluginStackOptions } from './PluginStack.js';
export type { TestUser } from './testUsers.js';
export { waitFor } from './waitFor.js';
