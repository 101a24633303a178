// One loaded appservice registration, in the shape the rest of this folder works with. The registry
// builds it from a validated registration file, so senders and queries never re-read YAML.

/** How one namespace entry matched: only its exclusivity matters to the homeserver. */
export interface NamespaceMatch {
  exclusive: boolean;
}

/** Namespace tests of one registration (regexes anchored at the start, as Synapse applies them). */
export interface NamespaceMatcher {
  matchUser(userId: string): NamespaceMatch | null;
  matchAlias(alias: string): NamespaceMatch | null;
  matchRoom(roomId: string): NamespaceMatch | null;
  /** True for the appservice's own sender user. */
  isSender(userId: string): boolean;
}

export interface Appservice {
  readonly id: string;
  /** Base URL without a trailing slash; null means the homeserver sends it no traffic. */
  readonly url: string | null;
  readonly asToken: string;
  readonly hsToken: string;
  readonly senderUserId: string;
  readonly protocols: readonly string[];
  /** receive_ephemeral, or one of its unstable names (push_ephemeral, de.sorunome.msc2409.push_ephemeral). */
  readonly receivesEphemeral: boolean;
  /**
   * `org.matrix.msc3202: true`: the appservice takes part in end-to-end encryption and receives device-list
   * changes and its users' key counts (MSC3202), and, with receivesEphemeral, their to-device messages.
   */
  readonly encryption: boolean;
  /** `rate_limited` (default true): whether the users it acts as are held to the rate limits. */
  readonly rateLimited: boolean;
  readonly namespaces: NamespaceMatcher;
  /** The registration file it came from (for logs and errors). */
  readonly source: string;
}

/** To-device messages go to appservices that asked for both ephemeral data and encryption (as Synapse's flags). */
export function receivesToDevice(appservice: Appservice): boolean {
  return appservice.encryption && appservice.receivesEphemeral;
}

/** A user the appservice may act as or is interested in: its users namespace or its sender. */
export function coversUser(appservice: Appservice, userId: string): boolean {
  return appservice.namespaces.isSender(userId) || appservice.namespaces.matchUser(userId) !== null;
}

/** A user only this appservice may act as (its sender or an exclusive namespace): nobody else syncs for them. */
export function ownsUser(appservice: Appservice, userId: string): boolean {
  return appservice.namespaces.isSender(userId) || appservice.namespaces.matchUser(userId)?.exclusive === true;
}
