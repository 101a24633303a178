// Real matrix-js-sdk clients for black-box tests: started, synced to PREPARED, quiet.
import { jest } from '@jest/globals';
import { LoggerLevel, Tracing } from '@matrix-org/matrix-sdk-crypto-wasm';
import * as sdk from 'matrix-js-sdk';
import type { CryptoApi } from 'matrix-js-sdk/lib/crypto-api/index.js';
// The SDK's sync loop and client log through this module-level logger, not the per-client one.
import { logger as sdkModuleLogger } from 'matrix-js-sdk/lib/logger.js';
import type { TestUser } from '../../testkit/testUsers.js';

/** A logger that drops everything: the SDK logs each sync at debug/info, which drowns test output. */
const silent: sdk.MatrixClient['logger'] = {
  trace: () => {},
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  getChild: () => silent,
};

// It is a loglevel logger (its type hides setLevel), and the children it hands out (the RTC session
// manager's, for one) start at debug level whatever the parent says, so children are silenced too.
if (process.env.PATCHBAY_TEST_LOG_LEVEL !== 'debug') {
  (sdkModuleLogger as unknown as { setLevel(level: 'silent'): void }).setLevel('silent');
  (sdkModuleLogger as { getChild: (namespace: string) => sdk.MatrixClient['logger'] }).getChild = () => silent;
}

// matrix-js-sdk 37's timeoutSignal() ponyfill arms a plain setTimeout for every request and never clears
// it (up to 110 s for each /sync), so a finished suite cannot exit. Those timers only abort requests
// that are long done: let them not hold the process open. Matched by the ponyfill's exact callback.
// Its Rust crypto does the same for each event it could not decrypt yet: a 5-minute timer that only
// stops listening for the event's late decryption.
const sdkAbortTimer = /^\(\)\s*=>\s*\{\s*controller\.abort\(\);?\s*\}$/;
const sdkDecryptionWait = /^\(\)\s*=>\s*event\.off\(MatrixEventEvent\.Decrypted,\s*onDecrypted\)$/;
if (!(globalThis.setTimeout as { patchbayUnrefsSdkTimers?: boolean }).patchbayUnrefsSdkTimers) {
  const original = globalThis.setTimeout;
  const wrapped = ((handler: unknown, ms?: number, ...args: unknown[]) => {
    const timer = (original as (h: unknown, ms?: number, ...rest: unknown[]) => NodeJS.Timeout)(handler, ms, ...args);
    if (typeof handler === 'function' && (ms ?? 0) > 10_000) {
      const source = handler.toString();
      if (sdkAbortTimer.test(source) || sdkDecryptionWait.test(source)) timer.unref();
    }
    return timer;
  }) as typeof globalThis.setTimeout;
  Object.defineProperties(wrapped, Object.getOwnPropertyDescriptors(original));
  (wrapped as { patchbayUnrefsSdkTimers?: boolean }).patchbayUnrefsSdkTimers = true;
  globalThis.setTimeout = wrapped;
}

export interface SdkClientOptions {
  initialSyncLimit?: number;
  /** Starts the client with its Rust crypto (the WASM build inside the npm package), keys kept in memory. */
  crypto?: boolean;
  /** How long to wait for the first sync before failing (hang detection only). */
  timeoutMs?: number;
  /** Threads as Element shows them: thread replies go to their thread's timeline (server-side threads). */
  threadSupport?: boolean;
  /** Timelines around any event (permalinks, jumping to a reply), as Element runs the client. */
  timelineSupport?: boolean;
}

/** Starts a client for `user` on `baseUrl` and resolves once its first sync is PREPARED. Call stopClient() in afterAll. */
export async function startSdkClient(baseUrl: string, user: TestUser, options: SdkClientOptions = {}): Promise<sdk.MatrixClient> {
  const client = sdk.createClient({
    baseUrl,
    userId: user.userId,
    accessToken: user.accessToken,
    deviceId: user.deviceId,
    logger: silent,
    timelineSupport: options.timelineSupport ?? false,
  });
  const prepared = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${user.userId}: no PREPARED sync within ${options.timeoutMs ?? 20_000} ms`)), options.timeoutMs ?? 20_000);
    const onSync = (state: sdk.SyncState, _prev: sdk.SyncState | null, data?: { error?: Error }): void => {
      if (state === sdk.SyncState.Prepared) {
        clearTimeout(timer);
        client.off(sdk.ClientEvent.Sync, onSync);
        resolve();
      } else if (state === sdk.SyncState.Error) {
        clearTimeout(timer);
        client.off(sdk.ClientEvent.Sync, onSync);
        reject(new Error(`${user.userId}: sync failed: ${data?.error?.message ?? 'unknown error'}`));
      }
    };
    client.on(sdk.ClientEvent.Sync, onSync);
  });
  if (options.crypto) await client.initRustCrypto({ useIndexedDB: false });
  await client.startClient({ initialSyncLimit: options.initialSyncLimit ?? 20, threadSupport: options.threadSupport ?? false });
  try {
    await prepared;
  } catch (err) {
    client.stopClient();
    throw err;
  }
  return client;
}

/** Timeline events of `roomId` as the client currently holds them (live timeline). */
export function timelineOf(client: sdk.MatrixClient, roomId: string): sdk.MatrixEvent[] {
  return client.getRoom(roomId)?.getLiveTimeline().getEvents() ?? [];
}

/** The crypto API of a client started with `crypto: true`. */
export function cryptoOf(client: sdk.MatrixClient): CryptoApi {
  const api = client.getCrypto();
  if (!api) throw new Error(`${client.getUserId()} was started without crypto`);
  return api;
}

/**
 * For a suite's beforeAll: the Rust crypto library logs every step through console.debug and
 * console.info, and warns of each event it cannot decrypt yet; those go, every other warning stays (the
 * console is the suite's own: jest gives each test file a fresh one).
 */
export function quietRustCryptoConsole(): void {
  const warn = console.warn.bind(console);
  jest.spyOn(console, 'debug').mockImplementation(() => {});
  jest.spyOn(console, 'info').mockImplementation(() => {});
  jest.spyOn(console, 'warn').mockImplementation((...args: unknown[]) => {
    if (!/^WARN matrix_sdk_crypto/.test(String(args[0]))) warn(...args);
  });
}

/**
 * For a suite's afterAll, before its clients stop: work the Rust library has in flight still logs after
 * the clients stop, when the suite's console is gone (jest then complains), so its logging goes off first.
 */
export function silenceRustCrypto(): void {
  new Tracing(LoggerLevel.Error).turnOff();
}
