// Every event the store makes is a PDU: signed with the server's key, named by its reference hash, with
// prev_events from the forward extremities, depth, and auth_events picked by the spec's selection from
// the current state; a redaction redacts the stored PDU as its room version says and it still verifies.
import { describe, expect, it } from '@jest/globals';
import { EventStore, type NewEvent } from '../../../homeserver/events/EventStore.js';
import { eventIdOf, hasValidContentHash } from '../../../homeserver/federation/pdu/EventHashes.js';
import { checkEventSignatures, type VerifyKeyLookup } from '../../../homeserver/federation/pdu/EventSigning.js';
import { LocalEventSigner } from '../../../homeserver/federation/pdu/LocalEventSigner.js';
import { ephemeralSigningKeys } from '../../../homeserver/federation/keys/SigningKeyFile.js';
import { MatrixError } from '../../../homeserver/MatrixError.js';
import { EventAppender } from '../../../homeserver/rooms/EventAppender.js';
import { redactContent } from '../../../homeserver/rooms/Redaction.js';
import type { RoomVersion } from '../../../homeserver/rooms/RoomVersions.js';
import { openDatabase } from '../../../homeserver/storage/Database.js';
import { StreamCounter } from '../../../homeserver/storage/StreamCounter.js';

const SERVER = 'pdu.test';
const ALICE = `@alice:${SERVER}`;
const BOB = `@bob:${SERVER}`;

function store(): { events: EventStore; appender: EventAppender; signer: LocalEventSigner } {
  const db = openDatabase({ kind: 'memory' });
  const signer = new LocalEventSigner(SERVER, ephemeralSigningKeys().current);
  const events = new EventStore(db, new StreamCounter(db), signer);
  return { events, appender: new EventAppender(events), signer };
}

const lookupFor =
  (signer: LocalEventSigner): VerifyKeyLookup =>
  async (server, keyId) =>
    server === SERVER && keyId === signer.keyId ? signer.publicKey : null;

/** create -> join -> power levels -> join rules -> bob joins -> a message, as the room creator sends them. */
function seedRoom(version: RoomVersion): ReturnType<typeof store> & { roomId: string; ids: Record<string, string> } {
  const s = store();
  const roomId = `!room${version}:${SERVER}`;
  const ids: Record<string, string> = {};
  const send = (name: string, ev: Omit<NewEvent, 'room_id'>): void => {
    ids[name] = s.appender.append(s.events.room(roomId)!, { room_id: roomId, ...ev }).event_id;
  };
  s.events.write(() => {
    s.events.insertRoom(roomId, version, ALICE);
    send('create', { sender: ALICE, type: 'm.room.create', state_key: '', content: version === '10' ? { creator: ALICE, room_version: version } : { room_version: version } });
    send('join', { sender: ALICE, type: 'm.room.member', state_key: ALICE, content: { membership: 'join' } });
    send('power', { sender: ALICE, type: 'm.room.power_levels', state_key: '', content: { users: { [ALICE]: 100 } } });
    send('rules', { sender: ALICE, type: 'm.room.join_rules', state_key: '', content: { join_rule: 'public' } });
    send('bob', { sender: BOB, type: 'm.room.member', state_key: BOB, content: { membership: 'join' } });
    send('message', { sender: BOB, type: 'm.room.message', content: { msgtype: 'm.text', body: 'hello' } });
  });
  return { ...s, roomId, ids };
}

describe.each(['10', '11'] as const)('events as PDUs, room version %s', (version) => {
  it('signs each event with the server key and names it by its reference hash', async () => {
    const { events, signer, ids } = seedRoom(version);
    for (const id of Object.values(ids)) {
      const pdu = events.pdu(id)!;
      expect(id).toMatch(/^\$[A-Za-z0-9_-]{43}$/);
      expect(eventIdOf(version, pdu)).toBe(id);
      expect(Object.keys(pdu.signatures)).toEqual([SERVER]);
      expect(await checkEventSignatures(version, pdu, lookupFor(signer))).toEqual({ outcome: 'valid' });
    }
  });

  it('chains prev_events and depth, and picks auth_events from the state before each event', () => {
    const { events, ids, roomId } = seedRoom(version);
    const graph = (name: string): { prev: string[]; auth: string[]; depth: number } => {
      const pdu = events.pdu(ids[name]!)!;
      return { prev: pdu.prev_events, auth: [...pdu.auth_events].sort(), depth: pdu.depth };
    };
    const sorted = (...names: string[]): string[] => names.map((n) => ids[n]!).sort();
    expect(graph('create')).toEqual({ prev: [], auth: [], depth: 1 });
    expect(graph('join')).toEqual({ prev: [ids['create']], auth: sorted('create'), depth: 2 });
    expect(graph('power')).toEqual({ prev: [ids['join']], auth: sorted('create', 'join'), depth: 3 });
    expect(graph('rules')).toEqual({ prev: [ids['power']], auth: sorted('create', 'power', 'join'), depth: 4 });
    // Bob's join: his (absent) membership, the join rules, and no one else's membership.
    expect(graph('bob')).toEqual({ prev: [ids['rules']], auth: sorted('create', 'power', 'rules'), depth: 5 });
    expect(graph('message')).toEqual({ prev: [ids['bob']], auth: sorted('create', 'power', 'bob'), depth: 6 });
    expect(events.forwardExtremities(roomId)).toEqual([ids['message']]);
  });

  it('redacts the stored PDU as the room version says, and its signature and id still hold', async () => {
    const { events, appender, signer, ids, roomId } = seedRoom(version);
    const room = events.room(roomId)!;
    let redactionId = '';
    events.write(() => {
      const redaction = appender.append(room, {
        room_id: roomId,
        sender: ALICE,
        type: 'm.room.redaction',
        content: version === '11' ? { redacts: ids['message'] } : {},
        redacts: ids['message']!,
      });
      redactionId = redaction.event_id;
      const target = events.event(ids['message']!)!;
      events.markRedacted(target, redactContent(version, target.type, target.content), redaction.event_id);
    });
    const redacted = events.pdu(ids['message']!)!;
    expect(redacted.content).toEqual({});
    expect(hasValidContentHash(redacted)).toBe(false);
    expect(eventIdOf(version, redacted)).toBe(ids['message']);
    expect(await checkEventSignatures(version, redacted, lookupFor(signer))).toMatchObject({ outcome: 'redacted' });
    const redaction = events.pdu(redactionId)!;
    if (version === '10') expect(redaction['redacts']).toBe(ids['message']);
    else expect(redaction).not.toHaveProperty('redacts');
    expect(await checkEventSignatures(version, redaction, lookupFor(signer))).toEqual({ outcome: 'valid' });
  });

  it('hands listeners events whose PDUs are stored, and refuses a PDU over 64 KiB without storing anything', () => {
    const { events, appender, roomId } = seedRoom(version);
    const heard: Array<string | undefined> = [];
    events.onAppend((appended) => heard.push(...appended.map((e) => events.pdu(e.event_id)?.type)));
    const send = (body: string) =>
      events.write(() => appender.append(events.room(roomId)!, { room_id: roomId, sender: BOB, type: 'm.room.message', content: { msgtype: 'm.text', body } }));
    const before = events.forwardExtremities(roomId);
    expect(() => send('x'.repeat(65_500))).toThrow(MatrixError);
    expect(events.forwardExtremities(roomId)).toEqual(before);
    expect(heard).toEqual([]);
    const small = send('fits');
    expect(heard).toEqual(['m.room.message']);
    expect(events.forwardExtremities(roomId)).toEqual([small.event_id]);
  });
});
