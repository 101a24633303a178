// Turns an event this server makes into its PDU: hashed, signed with the server's current key, and named
// by its reference hash (the v4 event id). The event store holds one from the first event on, whether or
// not the federation endpoints are enabled.
import { isSupportedRoomVersion } from '../../rooms/RoomVersions.js';
import type { ServerSigningKey } from '../signing/SignedJson.js';
import { eventIdOf } from './EventHashes.js';
import { hashAndSignEvent } from './EventSigning.js';
import type { Pdu, UnsignedPdu } from './Pdu.js';

export interface SignedEvent {
  eventId: string;
  pdu: Pdu;
}

export class LocalEventSigner {
  constructor(
    readonly serverName: string,
    private readonly signing: ServerSigningKey,
  ) {}

  get keyId(): string {
    return this.signing.keyId;
  }

  get publicKey(): Uint8Array {
    return this.signing.key.publicKey;
  }

  sign(roomVersion: string, event: UnsignedPdu): SignedEvent {
    if (!isSupportedRoomVersion(roomVersion)) throw new Error(`Cannot sign events of room version ${roomVersion}`);
    const pdu: Pdu = hashAndSignEvent(roomVersion, event, this.serverName, this.signing);
    return { eventId: eventIdOf(roomVersion, pdu), pdu };
  }
}
