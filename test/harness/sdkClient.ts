// Real matrix-js-sdk clients for black-box tests: started, synced to PREPARED, quiet.
import * as sdk from 'matrix-js-sdk';
import type { TestUser } from './testUsers.js';

/** A logger that drops everything: the SDK logs each sync at debug/info, which drowns test output. */
const silent: sdk.MatrixClient['logger'] = {
  trace: () => {},
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  getChild: () => silent,
};

// Some SDK modules log through its global loglevel logger, not the per-client one.
(sdk as unknown as { logger?: { setLevel?: (level: string) => void } }).logger?.setLevel?.('silent');

export interface SdkClientOptions {
  initialSyncLimit?: number;
  /** How long to wait for the first sync before failing (hang detection only). */
  timeoutMs?: number;
}

/** Starts a client for `user` on `baseUrl` and resolves once its first sync is PREPARED. Call stopClient() in afterAll. */
export async function startSdkClient(baseUrl: string, user: TestUser, options: SdkClientOptions = {}): Promise<sdk.MatrixClient> {
  const client = sdk.createClient({
    baseUrl,
    userId: user.userId,
    accessToken: user.accessToken,
    deviceId: user.deviceId,
    logger: silent,
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
  await client.startClient({ initialSyncLimit: options.initialSyncLimit ?? 20 });
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
