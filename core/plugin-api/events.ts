import type { ClientEvent } from '../../matrix-types/index.js';

/** A Matrix room event as the host delivers it (the spec's ClientEvent, shared with the homeserver). */
export type MatrixEvent = ClientEvent;

/** Typing, receipts, presence (only for plugins implementing EphemeralHandler). */
export interface MatrixEphemeralEvent {
  type: string;
  room_id?: string;
  content: Record<string, unknown>;
}

/** Where an event sits in a conversation, worked out by the host from `m.relates_to`. */
export interface EventRelation {
  /** `m.replace` target (an edit). */
  replaces?: string;
  /** `m.in_reply_to` target. */
  inReplyTo?: string;
  /** `m.thread` root. */
  threadRoot?: string;
}

/** An `m.call.*` event with its VoIP version settled by the host. */
export interface MatrixCallEvent extends MatrixEvent {
  call: {
    kind: 'invite' | 'answer' | 'candidates' | 'hangup' | 'reject' | 'select_answer' | 'negotiate' | 'other';
    callId: string;
    /** `0` for legacy calls, `'1'` otherwise. */
    version: 0 | '1';
    partyId: string | null;
  };
}

/** The bytes of a media message, fetched by the host. */
export interface MediaContent {
  mxcUri: string;
  bytes: Uint8Array;
  mimetype: string;
  filename: string;
}
