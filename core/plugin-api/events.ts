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

/** One ICE candidate of `m.call.candidates`; an empty `candidate` means the end of candidates. */
export interface CallCandidate {
  candidate: string;
  sdpMid?: string;
  sdpMLineIndex?: number;
}

/**
 * An `m.call.*` event with its VoIP version settled by the host, and what MSC2746 (VoIP v1) carries read
 * out of the content and checked, so a bridge needs no parsing of its own. The raw content stays in
 * `content`.
 */
export interface MatrixCallEvent extends MatrixEvent {
  call: {
    kind: 'invite' | 'answer' | 'candidates' | 'hangup' | 'reject' | 'select_answer' | 'negotiate' | 'replaces' | 'sdp_stream_metadata_changed' | 'other';
    callId: string;
    /** `0` for legacy calls, `'1'` otherwise. */
    version: 0 | '1';
    partyId: string | null;
    /** The SDP of an invite (`offer`), an answer (`answer`) or a negotiate (`description`, offer or answer). */
    description?: { type: 'offer' | 'answer'; sdp: string };
    /** Candidates of `m.call.candidates` (malformed entries left out). */
    candidates?: CallCandidate[];
    /** Why a hangup or reject happened (`user_hangup` when a legacy hangup gives none). */
    reason?: string;
    /** The party an `m.call.select_answer` chose. */
    selectedPartyId?: string;
    /** The one user an invite is for (v1.7 `invitee`); absent: anyone in the room. */
    invitee?: string;
    /** How long an invite or negotiate offer stays valid (ms). */
    lifetimeMs?: number;
  };
}

/** The bytes of a media message, fetched by the host. */
export interface MediaContent {
  mxcUri: string;
  bytes: Uint8Array;
  mimetype: string;
  filename: string;
}
