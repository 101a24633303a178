/** Third-party id <-> Matrix user id, for ghosts and for real Matrix users alike. */
export interface IdentityMap {
  set(protocol: string, thirdPartyId: string, userId: string): Promise<void>;
  userIdFor(protocol: string, thirdPartyId: string): Promise<string | null>;
  thirdPartyIdFor(protocol: string, userId: string): Promise<string | null>;
  remove(protocol: string, thirdPartyId: string): Promise<void>;
}

/**
 * A place on the remote network: an IRC channel (`{network: 'libera', location: '#matrix'}`), or a
 * conversation one Matrix user has there: a phone number's texts and calls with @alice, an email
 * correspondent of @bob (`{network: 'sip', location: '+14155550100', receiver: '@alice:example.org'}`).
 */
export interface RemoteLocation {
  /** Network/instance, e.g. `libera`, the SIP trunk, the mail domain. */
  network: string;
  /** Channel, number, address or thread id within the network. */
  location: string;
  /** The Matrix user whose conversation this is, for per-user places; absent for shared ones. */
  receiver?: string;
}

/** One room <-> remote link with the data it was linked with. */
export interface RoomLink extends RemoteLocation {
  roomId: string;
  data: Record<string, string>;
}

export interface RoomLinks {
  link(roomId: string, remote: RemoteLocation, data?: Record<string, string>): Promise<void>;
  unlink(roomId: string, remote: RemoteLocation): Promise<void>;
  roomFor(remote: RemoteLocation): Promise<string | null>;
  remotesFor(roomId: string): Promise<Array<RemoteLocation & { data: Record<string, string> }>>;
  /**
   * Every link of the bridge (only those of `network` when given), sorted by network and location: what
   * a bridge rebuilds its rooms from at start, so it needs no index of its own.
   */
  all(network?: string): Promise<RoomLink[]>;
}

/** Remote message ids <-> Matrix event ids, for edits, replies, redactions and threads. */
export interface MessageMap {
  set(remote: RemoteLocation & { messageId: string }, roomId: string, eventId: string): Promise<void>;
  eventFor(remote: RemoteLocation & { messageId: string }): Promise<{ roomId: string; eventId: string } | null>;
  remoteFor(eventId: string): Promise<(RemoteLocation & { messageId: string }) | null>;
}

export interface PluginStore {
  get(key: string): Promise<string | null>;
  /** With `ttlSeconds` the key expires (for dedupe markers and caches). */
  set(key: string, value: string, ttlSeconds?: number): Promise<void>;
  /**
   * Sets the key only if it is absent; true when this call set it. The way to act once per event id:
   * `if (!(await store.setIfAbsent(`seen:${event.event_id}`, '1', 86400))) return;`
   */
  setIfAbsent(key: string, value: string, ttlSeconds?: number): Promise<boolean>;
  delete(key: string): Promise<void>;
  /** Keys under a prefix, for rebuilding state on start. */
  keys(prefix: string): Promise<string[]>;
  /** Appends to a durable ordered list (its own namespace, apart from the keys); returns the new length. */
  append(list: string, value: string): Promise<number>;
  /**
   * Appends unless `uniqueId` was appended to this list before, in one atomic step: true when it appended.
   * Records something exactly once even though events arrive at least once.
   */
  appendOnce(list: string, uniqueId: string, value: string): Promise<boolean>;
  /** Items of a list, `start`..`stop` inclusive (negative counts from the end; default all). */
  readList(list: string, start?: number, stop?: number): Promise<string[]>;
}
