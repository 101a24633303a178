/**
 * A room event as clients and appservices see it: the spec's ClientEvent. The homeserver formats events
 * into this shape and the appservice host receives them in it; both import it from here so the two
 * cannot drift apart.
 */
export interface ClientEvent {
  event_id: string;
  room_id: string;
  sender: string;
  type: string;
  state_key?: string;
  content: Record<string, unknown>;
  origin_server_ts: number;
  unsigned?: Record<string, unknown>;
  /** Redaction events: the redacted event (top level up to room version 10; version 11 has it in content). */
  redacts?: string;
}
