// What the homeserver keeps for end-to-end encryption, as one handle for routes and sync. It does no
// cryptography: devices publish keys here and fetch each other's; the messages stay encrypted end to end.
import type { SqlDatabase } from '../storage/SqlDatabase.js';
import type { StreamCounter } from '../storage/StreamCounter.js';
import { CrossSigningStore } from './CrossSigningStore.js';
import { DeviceKeyStore } from './DeviceKeyStore.js';
import { DeviceListStream } from './DeviceListStream.js';
import { KeyBackupStore } from './KeyBackupStore.js';
import { OneTimeKeyStore } from './OneTimeKeyStore.js';

export interface E2eeStores {
  deviceKeys: DeviceKeyStore;
  oneTimeKeys: OneTimeKeyStore;
  crossSigning: CrossSigningStore;
  backup: KeyBackupStore;
  deviceLists: DeviceListStream;
}

export function openE2eeStores(db: SqlDatabase, counter: StreamCounter): E2eeStores {
  return {
    deviceKeys: new DeviceKeyStore(db),
    oneTimeKeys: new OneTimeKeyStore(db),
    crossSigning: new CrossSigningStore(db),
    backup: new KeyBackupStore(db),
    deviceLists: new DeviceListStream(db, counter),
  };
}
