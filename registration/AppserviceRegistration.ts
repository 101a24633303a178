// The appservice registration file (spec: Application Service API, "Registration"), as a homeserver
// and an appservice both read it. Keys are the file's own, so a value round-trips unchanged.

/** One namespace entry: a regular expression over full IDs (`@user:server`, `#alias:server`, `!room:server`). */
export interface Namespace {
  regex: string;
  exclusive: boolean;
}

export interface AppserviceRegistration {
  id: string;
  /** null: the homeserver sends this appservice no traffic. */
  url: string | null;
  /** The appservice authenticates to the homeserver with this. */
  as_token: string;
  /** The homeserver authenticates to the appservice with this. */
  hs_token: string;
  sender_localpart: string;
  namespaces: { users?: Namespace[]; aliases?: Namespace[]; rooms?: Namespace[] };
  rate_limited?: boolean;
  protocols?: string[];
  receive_ephemeral?: boolean;
  /** Unstable and vendor keys (`de.sorunome.msc2409.push_ephemeral`, `org.matrix.msc3202` ...) are kept. */
  [key: string]: unknown;
}
