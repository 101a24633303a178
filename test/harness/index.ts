// The black-box test harness: one import for suites and benchmarks.
export { SpecValidator, specDirectory, type HttpMethod } from './SpecValidator.js';
export { MatrixHttpClient, enc, type MatrixResponse, type MatrixRequestOptions, type JsonObject } from '../../testkit/MatrixHttpClient.js';
export { startTestHomeserver, testHomeserverOptions, type TestHomeserver } from '../../testkit/testHomeserver.js';
export { federationClientAs, federationRefusal, loopbackFederationOptions, testFederationOptions } from '../../testkit/testFederation.js';
export { startServerPair, type ServerPair } from '../../testkit/testServerPair.js';
export { TestAppservice, type TestAppserviceOptions, type TransactionAttempt, type AcceptedTransaction, type RecordedRequest } from './TestAppservice.js';
export { writeAppserviceRegistration } from './appserviceRegistration.js';
export { registerUser, loginUser, uniqueLocalpart, type TestUser } from '../../testkit/testUsers.js';
export { cryptoOf, quietRustCryptoConsole, silenceRustCrypto, startSdkClient, timelineOf, type SdkClientOptions } from './sdkClient.js';
export { waitFor } from '../../testkit/waitFor.js';
export { startBridgeStack, type BridgeStack, type BridgeStackOptions } from '../../testkit/bridgeStack.js';
export { shippedHomeserverLimits, rateLimitsWith, type ShippedLimits } from '../../testkit/shippedDefaults.js';
export { SeededRandom } from './SeededRandom.js';
export { rawRequest, type RawAnswer } from './rawRequest.js';
