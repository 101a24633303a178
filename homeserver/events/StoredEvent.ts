// A room event as the events table holds it.
export interface StoredEvent {
  pos: number;
  event_id: string;
  room_id: string;
  sender: string;
  type: string;
  state_key: string | null;
  content: Record<string, unknown>;
  origin_server_ts: number;
  /** Top-level `redacts` of a redaction (room version 10 style; v11 also keeps it in content). */
  redacts: string | null;
  /** The state event this one replaced, for unsigned.prev_content. */
  replaces_state: string | null;
  redacted_by: string | null;
  /** Who sent it with which transaction ID, for unsigned.transaction_id on the sender's own device. */
  txn_key: string | null;
  txn_id: string | null;
}

export interface EventRow extends Omit<StoredEvent, 'content'> {
  content: string;
}

export function fromRow(row: EventRow): StoredEvent {
  return { ...row, content: JSON.parse(row.content) as Record<string, unknown> };
}

export function stateKeyOf(type: string, stateKey: string): string {
  return `${type}\u0000${stateKey}`;
}
