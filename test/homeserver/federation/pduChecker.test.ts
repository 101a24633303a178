// The checks on receipt of a PDU in the spec's order: malformed or badly signed -> dropped; a wrong content
// hash -> the redacted copy goes on; not allowed by its auth events or the state before it -> rejected;
// not allowed by the current state -> soft-failed.
import { describe, expect, it } from '@jest/globals';
import { stateKeyOf, type RoomEvent, type StateEvents } from '../../../homeserver/federation/eventauth/RoomState.js';
import { ephemeralSigningKeys } from '../../../homeserver/federation/keys/SigningKeyFile.js';
import { LocalEventSigner } from '../../../homeserver/federation/pdu/LocalEventSigner.js';
import type { Pdu } from '../../../homeserver/federation/pdu/Pdu.js';
import { checkReceivedPdu, type PduCheckSources } from '../../../homeserver/federation/receive/PduChecker.js';

const ROOM = '!room:b.test';
const ALICE = '@alice:b.test';
const BOB = '@bob:c.test';
const b = new LocalEventSigner('b.test', ephemeralSigningKeys().current);
const c = new LocalEventSigner('c.test', ephemeralSigningKeys().current);
const stranger = new LocalEventSigner('b.test', ephemeralSigningKeys().current);

let ts = 1_700_000_000_000;
/** A signed PDU and its id (as the sender's server made it). */
function make(signer: LocalEventSigner, fields: { sender: string; type: string; state_key?: string; content: Record<string, unknown>; auth: RoomEvent[]; prev?: RoomEvent[] }): { pdu: Pdu; event: RoomEvent } {
  const { eventId, pdu } = signer.sign('10', {
    room_id: ROOM,
    sender: fields.sender,
    type: fields.type,
    ...(fields.state_key !== undefined && { state_key: fields.state_key }),
    content: fields.content,
    auth_events: fields.auth.map((e) => e.event_id),
    prev_events: (fields.prev ?? []).map((e) => e.event_id),
    depth: 1 + Math.max(0, ...(fields.prev ?? []).map((e) => e.depth)),
    origin_server_ts: ++ts,
  });
  return { pdu, event: { ...pdu, event_id: eventId } };
}

// The room on b.test: created by Alice, public, with Bob (of c.test) joined.
const create = make(b, { sender: ALICE, type: 'm.room.create', state_key: '', content: { creator: ALICE, room_version: '10' }, auth: [] }).event;
const aliceJoin = make(b, { sender: ALICE, type: 'm.room.member', state_key: ALICE, content: { membership: 'join' }, auth: [create], prev: [create] }).event;
const power = make(b, { sender: ALICE, type: 'm.room.power_levels', state_key: '', content: { users: { [ALICE]: 100 } }, auth: [create, aliceJoin], prev: [aliceJoin] }).event;
const rules = make(b, { sender: ALICE, type: 'm.room.join_rules', state_key: '', content: { join_rule: 'public' }, auth: [create, power, aliceJoin], prev: [power] }).event;
const bobJoin = make(c, { sender: BOB, type: 'm.room.member', state_key: BOB, content: { membership: 'join' }, auth: [create, power, rules], prev: [rules] }).event;
const bobBan = make(b, { sender: ALICE, type: 'm.room.member', state_key: BOB, content: { membership: 'ban' }, auth: [create, power, aliceJoin, bobJoin], prev: [bobJoin] }).event;

const stateOf = (...events: RoomEvent[]): StateEvents => new Map(events.map((e) => [stateKeyOf(e.type, e.state_key!), e]));
const known = new Map([create, aliceJoin, power, rules, bobJoin, bobBan].map((e) => [e.event_id, e]));

function sources(overrides: Partial<PduCheckSources> = {}): PduCheckSources {
  const keys = new Map([['b.test', b], ['c.test', c]]);
  return {
    roomVersion: '10',
    verifyKey: async (server, keyId) => {
      const signer = keys.get(server);
      return signer && signer.keyId === keyId ? signer.publicKey : null;
    },
    authEvent: (id) => known.get(id),
    isRejected: () => false,
    stateBefore: () => stateOf(create, aliceJoin, power, rules, bobJoin),
    currentState: () => stateOf(create, aliceJoin, power, rules, bobJoin),
    ...overrides,
  };
}

const bobSays = (body: string, signer = c) =>
  make(signer, { sender: BOB, type: 'm.room.message', content: { msgtype: 'm.text', body }, auth: [create, power, bobJoin], prev: [bobJoin] });

describe('checks on receipt of a PDU', () => {
  it('accepts a well-formed, signed, authorised event and names it by its reference hash', async () => {
    const { pdu, event } = bobSays('hi');
    expect(await checkReceivedPdu(pdu, sources())).toEqual({ outcome: 'accepted', event, redacted: false });
  });

  it('drops a malformed event before looking at signatures', async () => {
    const { pdu } = bobSays('hi');
    let asked = 0;
    const counting = sources({ verifyKey: async () => (asked++, null) });
    expect(await checkReceivedPdu({ ...pdu, depth: 'deep' }, counting)).toMatchObject({ outcome: 'dropped', reason: expect.stringMatching(/depth/) });
    expect(await checkReceivedPdu({ ...pdu, content: { n: 1.5 } }, counting)).toMatchObject({ outcome: 'dropped', reason: expect.stringMatching(/canonical/) });
    expect(await checkReceivedPdu({ ...pdu, prev_events: Array.from({ length: 21 }, (_, i) => `$p${i}`) }, counting)).toMatchObject({ outcome: 'dropped' });
    expect(await checkReceivedPdu([pdu], counting)).toMatchObject({ outcome: 'dropped' });
    expect(asked).toBe(0);
  });

  it('drops an event whose signature fails or whose server key is unknown', async () => {
    const forged = { ...bobSays('hi').pdu, origin_server_ts: 1 }; // the signed part changed after signing
    expect(await checkReceivedPdu(forged, sources())).toMatchObject({ outcome: 'dropped', reason: expect.stringMatching(/does not verify/) });
    expect(await checkReceivedPdu(bobSays('hi', new LocalEventSigner('c.test', ephemeralSigningKeys().current)).pdu, sources())).toMatchObject({
      outcome: 'dropped',
      reason: expect.stringMatching(/No signature of c.test/),
    });
    // A signature of the wrong server (b.test signing for Bob of c.test) does not count.
    expect(await checkReceivedPdu(bobSays('hi', stranger).pdu, sources())).toMatchObject({ outcome: 'dropped' });
  });

  it('goes on with the redacted copy when only the content hash fails', async () => {
    const { pdu, event } = bobSays('hi');
    const verdict = await checkReceivedPdu({ ...pdu, content: { msgtype: 'm.text', body: 'changed in transit' } }, sources());
    expect(verdict).toMatchObject({ outcome: 'accepted', redacted: true, event: { event_id: event.event_id, content: {} } });
  });

  it('rejects an event its own auth events do not allow, or whose auth events are unknown or rejected', async () => {
    const mallory = make(b, { sender: '@mallory:b.test', type: 'm.room.message', content: { body: 'x' }, auth: [create, power], prev: [bobJoin] });
    expect(await checkReceivedPdu(mallory.pdu, sources())).toMatchObject({ outcome: 'rejected', reason: expect.stringMatching(/not in the room/) });
    const { pdu } = bobSays('hi');
    expect(await checkReceivedPdu(pdu, sources({ authEvent: (id) => (id === bobJoin.event_id ? undefined : known.get(id)) }))).toMatchObject({
      outcome: 'rejected',
      reason: expect.stringMatching(/is not known/),
    });
    expect(await checkReceivedPdu(pdu, sources({ isRejected: (id) => id === bobJoin.event_id }))).toMatchObject({ outcome: 'rejected', reason: expect.stringMatching(/was rejected/) });
  });

  it('rejects an event the state before it does not allow, and soft-fails one only the current state forbids', async () => {
    const { pdu } = bobSays('after the ban');
    const banned = stateOf(create, aliceJoin, power, rules, bobBan);
    expect(await checkReceivedPdu(pdu, sources({ stateBefore: () => banned }))).toMatchObject({ outcome: 'rejected', reason: expect.stringMatching(/state before it/) });
    expect(await checkReceivedPdu(pdu, sources({ currentState: () => banned }))).toMatchObject({ outcome: 'soft_failed', reason: expect.stringMatching(/current state/) });
  });

  it("drops a restricted join without the authorising server's signature", async () => {
    const carol = '@carol:c.test';
    const join = make(c, { sender: carol, type: 'm.room.member', state_key: carol, content: { membership: 'join', join_authorised_via_users_server: ALICE }, auth: [create, power, rules], prev: [rules] });
    expect(await checkReceivedPdu(join.pdu, sources())).toMatchObject({ outcome: 'dropped', reason: expect.stringMatching(/signature of b.test/) });
  });
});
