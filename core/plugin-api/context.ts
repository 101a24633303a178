import type { EventRelation } from './events.js';
import type { HttpRoutes } from './http.js';
import type { GhostDirectory, Intent } from './intent.js';
import type { Logger } from './Logger.js';
import type { PluginMetrics } from './metrics.js';
import type { Outbox } from './outbox.js';
import type { Portals } from './portals.js';
import type { BridgeStatus } from './status.js';
import type { IdentityMap, MessageMap, PluginStore, RoomLinks } from './stores.js';

/** What the host gives a plugin at start: everything it needs, so a bridge keeps no index of its own. */
export interface BridgeContext<Config = Record<string, unknown>> {
  /** The plugin's validated config section. */
  readonly config: Config;
  readonly serverName: string;
  readonly logger: Logger;
  /** Counters, gauges and histograms named `patchbay_<protocol>_...`, served on the host's /metrics. */
  readonly metrics: PluginMetrics;
  /** The bridge's bot user (the registration's sender_localpart). */
  readonly bot: Intent;
  readonly ghosts: GhostDirectory;
  readonly identities: IdentityMap;
  readonly links: RoomLinks;
  /** Portal rooms of remote places, made once across every worker. */
  readonly portals: Portals;
  readonly messages: MessageMap;
  readonly outbox: Outbox;
  /** A small durable key-value store in the plugin's own namespace. */
  readonly store: PluginStore;
  /** HTTP routes on the appservice host, under the bridge's own path. */
  readonly http: HttpRoutes;
  /**
   * A folder of the bridge's own for files (`<data_dir>/bridges/<name>`), made before start(): a spool of
   * accepted remote messages, recordings, caches. It belongs to this machine; a process on another
   * machine has its own.
   */
  readonly dataDir: string;
  /** Report each remote connection's state here (`connecting`, `connected`, `backoff`, `failed` + reason): operators see it in /health, `patchbay doctor` and /metrics. */
  readonly status: BridgeStatus;
  /**
   * Posts a visible m.notice, for anything that must not fail silently: from the bot where it is in the
   * room, otherwise from one of this bridge's ghosts that is (a DM only a ghost was invited to), and
   * failing those from the bot joining (a public room). Rejects only when none of them can post.
   */
  notice(roomId: string, text: string): Promise<void>;
  /**
   * False in a process that only answers the homeserver's queries and lookups (an ingest-only host with
   * separate workers): the plugin should not connect to its remote network there. Absent means true.
   */
  readonly connectRemote?: boolean;
}

/** Per-event facts the host passes with each Matrix event. */
export interface EventContext {
  /** 1 on the first try; a plugin must be idempotent because delivery is at-least-once. */
  attempt: number;
  relation: EventRelation;
  /** True when the sender is one of this plugin's ghosts or its bot (echoes to ignore). */
  fromBridge: boolean;
  logger: Logger;
}
