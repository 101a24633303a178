// Seams inside core/: the event pipeline (AS API, ingest, partitioned queues, workers) hands events to
// the plugin runtime through these, and asks it the appservice queries. Neither side reaches further.
import type {
  MatrixEphemeralEvent,
  MatrixEvent,
  ThirdPartyLocation,
  ThirdPartyProtocol,
  ThirdPartyUser,
} from './plugin-api/index.js';

/** Delivers queued events to the plugins (implemented by the plugin runtime). */
export interface EventDispatcher {
  /** Handles one event; throws to have the worker retry it (later events of the room wait). */
  dispatch(event: MatrixEvent, attempt: number): Promise<void>;
  dispatchEphemeral(event: MatrixEphemeralEvent): Promise<void>;
  /** The event failed all its tries: tell the room (a visible notice) and the plugin's logs. */
  deadLettered(event: MatrixEvent, error: Error): Promise<void>;
}

/** Answers the homeserver's user and alias queries (`GET /users/{id}`, `GET /rooms/{alias}`). */
export interface QueryResolver {
  userExists(userId: string): Promise<boolean>;
  aliasExists(alias: string): Promise<boolean>;
}

/** Answers the AS-side `/thirdparty/*` endpoints. `null` means no plugin serves that protocol (404). */
export interface ThirdPartyResolver {
  protocol(protocol: string): ThirdPartyProtocol | null;
  users(protocol: string, fields: Record<string, string>): Promise<ThirdPartyUser[] | null>;
  locations(protocol: string, fields: Record<string, string>): Promise<ThirdPartyLocation[] | null>;
  /** Reverse lookups: the third-party identities of a Matrix user id / the locations of an alias. */
  usersByMatrixId(userId: string): Promise<ThirdPartyUser[]>;
  locationsByAlias(alias: string): Promise<ThirdPartyLocation[]>;
}
