// A local user joins, leaves or knocks on a room that lives on other servers: make_join (make_leave,
// make_knock) to each candidate server in turn, the template filled and signed with this server's key,
// send_join/send_leave v2 (send_knock v1), and for a join the answer checked (each state and auth chain event: format, signatures, auth against
// its own auth events; the join against the returned state) and stored: the auth chain as outliers, the
// state as the room's state, the join in the timeline. Later events arrive through /send.
import type { Logger } from 'pino';
import type { EventStore, SignedRemote } from '../../events/EventStore.js';
import { MatrixError } from '../../MatrixError.js';
import { isSupportedRoomVersion, SUPPORTED_ROOM_VERSIONS, type RoomVersion, creatorOf } from '../../rooms/RoomVersions.js';
import { authorizeAgainstState, type AuthContext } from '../eventauth/EventAuthRules.js';
import { domainOf, lookup, stateKeyOf, type StateEvents } from '../eventauth/RoomState.js';
import type { Federation } from '../Federation.js';
import { FederationRequestError } from '../transport/FederationClient.js';
import type { Pdu, UnsignedPdu } from '../pdu/Pdu.js';
import { checkFetchedEvents } from '../receive/FetchedEvents.js';
import { parsePdu } from '../receive/PduFormat.js';
import { redactEvent } from '../pdu/EventRedaction.js';
import { signatureKeyIds, verifyJsonSignature } from '../signing/SignedJson.js';
import { authorizeEvent } from '../../rooms/AuthRules.js';
import { checkStrippedState } from './ReceivedStrippedState.js';
import { strippedStatePdus } from './RoomGraph.js';
import { federates, type Membership } from './ResidentMembership.js';
import { isJsonObject } from '../../http/RequestReader.js';

const enc = encodeURIComponent;

/**
 * Stores an event of this server that went out through another server (send_join, send_leave), which
 * passes it on to the room's other servers, so it is not queued for sending here (LocalEventFeed).
 */
export type StoreSentElsewhere = <T>(eventId: string, store: () => T) => T;

export class RemoteMembership {
  private readonly joining = new Map<string, Promise<void>>();

  constructor(
    private readonly serverName: string,
    private readonly fed: Federation,
    private readonly events: EventStore,
    private readonly logger: Logger,
    private readonly storeSentElsewhere: StoreSentElsewhere = (_id, store) => store(),
  ) {}

  /** Whether joining `roomId` needs another server: unknown here, or another server's room no local user is in. */
  needsRemoteJoin(roomId: string): boolean {
    if (!this.events.room(roomId)) return true;
    return domainOf(roomId) !== this.serverName && !this.events.members(roomId, 'join').some((m) => domainOf(m.user_id) === this.serverName);
  }

  /**
   * Whether the user's leave must go through another server: the user is the last local member of a room
   * other servers are in, so after it this server no longer hears of the room (send_leave makes sure the
   * room's server has the leave before this one stops listening), or rejects an invite to such a room.
   */
  needsRemoteLeave(userId: string, roomId: string): boolean {
    const membership = this.events.membership(roomId, userId)?.membership;
    const joined = this.events.members(roomId, 'join');
    // Rejecting an invite to (or withdrawing a knock on) a room this server is not in: only the room's
    // servers can take the leave.
    if (membership === 'invite' || membership === 'knock') return !joined.some((m) => domainOf(m.user_id) === this.serverName);
    if (membership !== 'join') return false;
    return !joined.some((m) => m.user_id !== userId && domainOf(m.user_id) === this.serverName) && joined.some((m) => domainOf(m.user_id) !== this.serverName);
  }

  /** The servers to ask: the ones given, then the room ID's own, never this one. */
  candidates(roomId: string, given: string[]): string[] {
    return [...new Set([...given, domainOf(roomId)])].filter((s) => s !== '' && s !== this.serverName);
  }

  /**
   * Joins through a resident server. While it runs, the room's other servers may already send its new
   * events (they saw the join before we stored the room): joinSettled() lets the receiver wait for it.
   */
  async join(userId: string, roomId: string, servers: string[], content: Record<string, unknown>): Promise<void> {
    const joining = this.joinThrough(userId, roomId, servers, content);
    this.joining.set(roomId, joining);
    try {
      await joining;
    } finally {
      if (this.joining.get(roomId) === joining) this.joining.delete(roomId);
    }
  }

  /** Settles once a join of `roomId` in progress here has ended, stored or failed; at once when none is. */
  async joinSettled(roomId: string): Promise<void> {
    await this.joining.get(roomId)?.catch(() => undefined);
  }

  private async joinThrough(userId: string, roomId: string, servers: string[], content: Record<string, unknown>): Promise<void> {
    // An invited user's inviter is in the room: its server can take the join.
    const invite = this.events.membership(roomId, userId)?.membership === 'invite' ? this.events.event(this.events.membership(roomId, userId)!.event_id) : null;
    const { server, version, template } = await this.makeMembership(userId, roomId, invite ? [...servers, domainOf(invite.sender)] : servers, 'join');
    const { eventId, pdu } = this.events.signer.sign(version, this.filled(template, content));
    const answer = await this.fed.client.request(server, 'PUT', `/_matrix/federation/v2/send_join/${enc(roomId)}/${enc(eventId)}`, pdu);
    if (!isJsonObject(answer) || !Array.isArray(answer['state']) || !Array.isArray(answer['auth_chain'])) {
      throw new MatrixError(502, 'M_UNKNOWN', `${server} gave no state and auth chain for the join`);
    }
    // A restricted join comes back signed by the resident server too; it must still be our event.
    const returned = isJsonObject(answer['event']) ? parsePdu(version, answer['event']) : null;
    const signedJoin = returned?.ok && returned.event.event_id === eventId ? (answer['event'] as Pdu) : pdu;
    // Each event's auth events must be among the answer's: this server has nothing of the room yet.
    const checked = await checkFetchedEvents(version, roomId, [...answer['auth_chain'], ...answer['state']], (s, k, ts) => this.fed.remoteKeys.verifyKey(s, k, ts), {
      get: () => undefined,
      isRejected: () => false,
    });
    const stateIds = new Set<string>();
    for (const raw of answer['state']) {
      const parsed = parsePdu(version, raw);
      if (parsed.ok && checked.has(parsed.event.event_id)) stateIds.add(parsed.event.event_id);
    }
    const state: StateEvents = new Map();
    for (const id of stateIds) {
      const e = checked.get(id)!.event;
      state.set(stateKeyOf(e.type, e.state_key ?? ''), e);
    }
    const create = lookup(state, 'm.room.create', '');
    if (!create || create.room_id !== roomId) throw new MatrixError(502, 'M_UNKNOWN', `${server} gave a state without the room's create event`);
    const joinEvent = { ...signedJoin, event_id: eventId };
    const ctx: AuthContext = { roomVersion: version, signedBy: () => true };
    const allowed = authorizeAgainstState(ctx, joinEvent, state);
    if (!allowed.allowed) throw new MatrixError(403, 'M_FORBIDDEN', `The join is not allowed by the room's state: ${allowed.reason}`);

    const signed = (id: string): SignedRemote => ({ eventId: id, pdu: checked.get(id)!.pdu });
    const authChain = [...checked.keys()].filter((id) => !stateIds.has(id)).map(signed);
    this.storeSentElsewhere(eventId, () =>
      this.events.write(() => {
        this.events.storeJoinedRoom(
          { roomId, version, creator: creatorOf(version, create) },
          { eventId, pdu: signedJoin },
          [...stateIds].map(signed),
          authChain,
        );
      }),
    );
    this.logger.info({ roomId, userId, server, eventId, state: stateIds.size }, 'federation: joined a remote room');
  }

  async leave(userId: string, roomId: string, content: Record<string, unknown>): Promise<void> {
    const own = this.events.membership(roomId, userId);
    const servers = this.events.members(roomId, 'join').map((m) => domainOf(m.user_id));
    const invite = own?.membership === 'invite' ? this.events.event(own.event_id) : null;
    if (invite) servers.push(domainOf(invite.sender));
    let made: Awaited<ReturnType<RemoteMembership['makeMembership']>>;
    try {
      made = await this.makeMembership(userId, roomId, servers, 'leave');
    } catch (err) {
      if (own?.membership !== 'invite' && own?.membership !== 'knock') throw err;
      // No server of the room takes the leave (a knock already turned away there, an invite withdrawn, a
      // server gone): declined here only, so the user is not stuck with it.
      this.declineLocally(userId, roomId, own.event_id, content);
      this.logger.warn({ roomId, userId, err: (err as Error).message }, `federation: ${own.membership} declined on this server only`);
      return;
    }
    const { server, version, template } = made;
    const { eventId, pdu } = this.events.signer.sign(version, this.filled(template, content));
    await this.fed.client.request(server, 'PUT', `/_matrix/federation/v2/send_leave/${enc(roomId)}/${enc(eventId)}`, pdu);
    this.storeSentElsewhere(eventId, () =>
      this.events.write(() => {
        this.events.storeRemote({ eventId, pdu, status: 'timeline', stateBefore: this.events.stateIds(roomId) });
      }),
    );
    this.logger.info({ roomId, userId, server, eventId }, 'federation: left a remote room');
  }

  /** A leave after an invite or knock of a room this server is not in, stored here and sent nowhere. */
  private declineLocally(userId: string, roomId: string, ownEventId: string, content: Record<string, unknown>): void {
    const room = this.events.room(roomId);
    const own = this.events.pduEntry(ownEventId)?.event;
    if (!room || !own) throw new MatrixError(404, 'M_NOT_FOUND', `Unknown room ${roomId}`);
    const { eventId, pdu } = this.events.signer.sign(room.room_version, {
      room_id: roomId, sender: userId, type: 'm.room.member', state_key: userId, content, origin: this.serverName, origin_server_ts: Date.now(),
      depth: own.depth + 1, prev_events: [ownEventId], auth_events: [ownEventId],
    });
    this.events.write(() => {
      this.events.storeInvite({ roomId, version: room.room_version, creator: room.creator }, { eventId, pdu });
    });
  }

  /**
   * Knocks on a room of another server (make_knock, send_knock). The knock is kept as the user's membership
   * of a room this server is not in, with the room's state the resident server answered (checked and
   * stripped: ReceivedStrippedState) for /sync's rooms.knock.
   */
  async knock(userId: string, roomId: string, servers: string[], content: Record<string, unknown>): Promise<void> {
    const { server, version, template } = await this.makeMembership(userId, roomId, servers, 'knock');
    const { eventId, pdu } = this.events.signer.sign(version, this.filled(template, content));
    const answer = await this.fed.client.request(server, 'PUT', `/_matrix/federation/v1/send_knock/${enc(roomId)}/${enc(eventId)}`, pdu);
    const roomState = await checkStrippedState(version, roomId, isJsonObject(answer) ? answer['knock_room_state'] : undefined, (s, k, ts) => this.fed.remoteKeys.verifyKey(s, k, ts));
    if (roomState.dropped.length > 0) this.logger.warn({ roomId, eventId, server, dropped: roomState.dropped }, 'federation: knock_room_state entries dropped');
    const state = roomState.kept;
    const create = state.find((e) => e.type === 'm.room.create');
    this.events.write(() => {
      this.events.storeInvite({ roomId, version, creator: create?.sender ?? userId }, { eventId, pdu: { ...pdu, unsigned: { knock_room_state: state } } });
    });
    this.logger.info({ roomId, userId, server, eventId }, 'federation: knocked on a remote room');
  }

  /**
   * Invites another server's user: the invite is made here, sent to the invitee's server (invite v2), which
   * signs it too; only that doubly signed event is stored, and it goes out to the room's servers from there.
   */
  async invite(inviter: string, roomId: string, target: string, content: Record<string, unknown>): Promise<void> {
    const room = this.events.room(roomId);
    if (!room || !isSupportedRoomVersion(room.room_version)) throw new MatrixError(404, 'M_NOT_FOUND', `Unknown room ${roomId}`);
    const version = room.room_version;
    if (!federates(this.events, roomId)) {
      throw new MatrixError(403, 'M_FORBIDDEN', `Room ${roomId} does not federate (m.federate is false): ${target} cannot be invited`);
    }
    const ev = { room_id: roomId, sender: inviter, type: 'm.room.member', state_key: target, content };
    authorizeEvent(ev, this.events.liveState(roomId), version);
    const { eventId, pdu } = this.events.signer.sign(version, { ...ev, origin: this.serverName, origin_server_ts: Date.now(), ...this.events.graphFields(ev) });
    const server = domainOf(target);
    const answer = await this.fed.client.request(server, 'PUT', `/_matrix/federation/v2/invite/${enc(roomId)}/${enc(eventId)}`, {
      room_version: version,
      event: pdu,
      invite_room_state: strippedStatePdus(this.events, roomId),
    });
    const returned = isJsonObject(answer) ? answer['event'] : undefined;
    const parsed = parsePdu(version, returned);
    if (!parsed.ok || parsed.event.event_id !== eventId) throw new MatrixError(502, 'M_UNKNOWN', `${server} answered the invite with another event`);
    const signedPdu = returned as Pdu;
    const redacted = redactEvent(version, signedPdu);
    let signedByInvitee = false;
    for (const keyId of signatureKeyIds(redacted, server)) {
      const key = await this.fed.remoteKeys.verifyKey(server, keyId, signedPdu.origin_server_ts);
      if (key && verifyJsonSignature(redacted, server, keyId, key)) signedByInvitee = true;
    }
    if (!signedByInvitee) throw new MatrixError(502, 'M_UNKNOWN', `${server} did not sign the invite`);
    this.events.write(() => {
      this.events.storeRemote({ eventId, pdu: signedPdu, status: 'timeline', stateBefore: this.events.stateIds(roomId) });
    });
    this.logger.info({ roomId, inviter, target, eventId }, 'federation: invited a user of another server');
  }

  private filled(template: UnsignedPdu, content: Record<string, unknown>): UnsignedPdu {
    const { event_id: _id, hashes: _h, signatures: _s, unsigned: _u, ...rest } = template;
    const via = template.content['join_authorised_via_users_server'];
    return { ...rest, origin: this.serverName, origin_server_ts: Date.now(), content: { ...content, ...(via !== undefined && { join_authorised_via_users_server: via }) } };
  }

  private async makeMembership(userId: string, roomId: string, servers: string[], membership: Membership): Promise<{ server: string; version: RoomVersion; template: UnsignedPdu }> {
    const candidates = this.candidates(roomId, servers);
    if (candidates.length === 0) throw new MatrixError(404, 'M_NOT_FOUND', `No server to ${membership} room ${roomId} through; give server_name`);
    const ver = membership !== 'leave' ? `?${SUPPORTED_ROOM_VERSIONS.map((v) => `ver=${v}`).join('&')}` : '';
    const failures: string[] = [];
    for (const server of candidates) {
      try {
        const answer = await this.fed.client.request(server, 'GET', `/_matrix/federation/v1/make_${membership}/${enc(roomId)}/${enc(userId)}${ver}`);
        const template = isJsonObject(answer) ? answer['event'] : undefined;
        const version = isJsonObject(answer) ? answer['room_version'] : undefined;
        if (!isSupportedRoomVersion(version)) throw new Error(`room version ${JSON.stringify(version)} is not supported here`);
        if (
          !isJsonObject(template) || template['room_id'] !== roomId || template['sender'] !== userId || template['state_key'] !== userId ||
          template['type'] !== 'm.room.member' || !isJsonObject(template['content']) || template['content']['membership'] !== membership ||
          !Array.isArray(template['prev_events']) || !Array.isArray(template['auth_events']) || typeof template['depth'] !== 'number'
        ) {
          throw new Error(`the make_${membership} template is not a ${membership} of ${userId} in ${roomId}`);
        }
        return { server, version, template: template as UnsignedPdu };
      } catch (err) {
        this.logger.warn({ roomId, userId, server, err: (err as Error).message }, `federation: make_${membership} failed`);
        // A server in the room that forbids it (a ban, the join rules) speaks for the room: no other is asked.
        if (err instanceof FederationRequestError && err.status === 403) throw new MatrixError(403, 'M_FORBIDDEN', err.message);
        failures.push(`${server}: ${(err as Error).message}`);
      }
    }
    throw new MatrixError(404, 'M_NOT_FOUND', `Could not ${membership} room ${roomId} through ${failures.join('; ')}`);
  }
}
