// The SIP bridge end to end with real peers: Kamailio + rtpengine (the managed SBC the bridge runs),
// baresip phones, and Matrix users calling through matrix-js-sdk with real WebRTC media (werift). Audio
// is checked by decoding the other side's tone at each end. The tests share one rig and run in order.
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type { Baresip } from '../../bridges/sip/test/Baresip.js';
import type { MatrixPhone, PhoneCall } from '../../bridges/sip/test/MatrixPhone.js';
import { DID, DOMAIN, SipRig } from '../../bridges/sip/test/SipRig.js';
import { enc, waitFor } from '../harness/index.js';

const BOB = '+14155550100';
const DAVE = '+14155550101';
/** A number that rings two Matrix users at once. */
const TEAM = '+14155550199';
const ghostOf = (number: string): string => `@sip_${number.replace('+', '=2b')}:localhost`;

describe('SIP bridge calls (Kamailio + rtpengine + baresip + matrix-js-sdk/werift)', () => {
  let rig: SipRig;
  let bob: Baresip;
  let dave: Baresip;
  let alice: MatrixPhone;
  let carol: MatrixPhone;
  let bobRoom = '';

  /** The answered call's media: connected, or retried by the caller on a stalled handshake. */
  const mediaUp = async (call: PhoneCall): Promise<boolean> => {
    if (await call.peer.waitConnected(6000)) return true;
    rig.stalls++;
    return false;
  };
  /** Both tones crossed: alice's at the phone, the phone's at alice. */
  const audioBothWays = async (call: PhoneCall, phone: Baresip, phoneHz: number): Promise<void> => {
    call.peer.startTone();
    await waitFor(async () => call.peer.heardTone(phoneHz) > 0.5, 10_000, `alice to hear the phone's ${phoneHz} Hz tone`);
    await waitFor(async () => phone.heardTone(1000) > 0.5, 10_000, 'the phone to hear alice\'s 1000 Hz tone');
  };
  /** Phone -> alice, answered, media up (a stalled handshake is hung up and the call placed again). */
  const callFromBob = async (): Promise<PhoneCall> => {
    for (let attempt = 1; ; attempt++) {
      const from = alice.mark;
      const mark = bob.mark;
      await bob.command('dial', `sip:${DID}@${DOMAIN}`);
      const call = await alice.incoming({ from });
      await call.answer();
      await bob.event((e) => e.type === 'CALL_ESTABLISHED', 15_000, mark);
      if (await mediaUp(call)) return call;
      if (attempt === 3) throw new Error('the media handshake stalled three times in a row');
      await bob.command('hangup');
      await call.ended();
    }
  };

  beforeAll(async () => {
    rig = await SipRig.start({
      appserviceId: 'sip-calls',
      config: () => ({
        lines: { gw: { aor: `sip:patchbay@${DOMAIN}`, routes: { [DID]: ['@alice:localhost'], [TEAM]: ['@alice:localhost', '@carol:localhost'] } } },
        calls: { ring_timeout_s: 6, candidate_wait_ms: 1000 },
        texts: { max_part_bytes: 200 },
      }),
    });
    [bob, dave, alice, carol] = await Promise.all([
      rig.phone({ user: BOB, toneHz: 600, contacts: [`sip:${DID}@${DOMAIN}`] }),
      rig.phone({ user: DAVE, toneHz: 800 }),
      rig.user('alice'),
      rig.user('carol'),
    ]);
  }, 60_000);

  afterAll(async () => {
    await rig?.stop();
  });

  // A failed test must not leave a phone in a call the next one trips over.
  afterEach(async () => {
    for (const phone of [bob, dave]) await phone?.command('hangup');
  });

  it('phone -> Matrix: rings alice in a DM from the caller\'s ghost, audio flows both ways, the phone hangs up', async () => {
    const call = await callFromBob();
    bobRoom = call.roomId;
    expect(call.inviteEvent?.sender).toBe(ghostOf(BOB));
    expect(call.inviteEvent?.content).toMatchObject({ version: '1', invitee: alice.userId, lifetime: 6000 });
    await audioBothWays(call, bob, 600);
    await bob.command('hangup');
    await call.ended('m.call.hangup');
    await alice.notice(bobRoom, /Call from \+1 415 555 0100 ended after 0:0\d/);
  });

  it('Matrix -> phone from Element\'s dial pad: the number looked up under m.protocol.pstn, a DM with the ghost, trickled candidates gathered into the INVITE', async () => {
    const protocols = await alice.user.http.ok<Record<string, unknown>>('GET', '/thirdparty/protocols');
    expect(Object.keys(protocols)).toEqual(expect.arrayContaining(['sip', 'm.protocol.pstn', 'im.vector.protocol.pstn', 'im.vector.protocol.sip_native', 'im.vector.protocol.sip_virtual']));
    const [found] = await alice.user.http.ok<Array<{ userid: string }>>('GET', '/thirdparty/user/m.protocol.pstn', { query: { 'm.id.phone': '(415) 555-0101' } });
    expect(found?.userid).toBe(ghostOf(DAVE));
    const { room_id: room } = await alice.user.http.ok<{ room_id: string }>('POST', '/createRoom', { body: { preset: 'trusted_private_chat', is_direct: true, invite: [ghostOf(DAVE)] } });
    await waitFor(async () => ghostOf(DAVE) in (await alice.user.http.ok<{ joined: Record<string, unknown> }>('GET', `/rooms/${enc(room)}/joined_members`)).joined, 20_000, 'the ghost to join');
    for (let attempt = 1; ; attempt++) {
      const mark = dave.mark;
      const call = await alice.call(room, { trickle: true });
      const incoming = await dave.event((e) => e.type === 'CALL_INCOMING', 15_000, mark);
      expect(incoming.peeruri).toBe(`sip:${DID}@${DOMAIN}`);
      await dave.command('accept');
      await call.answered();
      if (await mediaUp(call)) {
        await audioBothWays(call, dave, 800);
        const closing = dave.mark;
        await call.hangup();
        await dave.event((e) => e.type === 'CALL_CLOSED', 15_000, closing);
        await alice.notice(room, /Call with \+1 415 555 0101 ended after/);
        return;
      }
      if (attempt === 3) throw new Error('the media handshake stalled three times in a row');
      await call.hangup();
      await dave.event((e) => e.type === 'CALL_CLOSED', 15_000, mark);
    }
  });

  it('hold and resume both ways: renegotiation <-> re-INVITE, sendonly answered recvonly', async () => {
    const call = await callFromBob();
    await call.renegotiate('sendonly');
    expect(call.peer.direction).toBe('sendonly');
    await call.renegotiate('sendrecv');
    expect(call.peer.direction).toBe('sendrecv');
    // The phone holds: the bridge turns its re-INVITE into a negotiate offer alice's client answers.
    const from = call.seen.length;
    await bob.command('hold');
    await waitFor(async () => call.seen.slice(from).some((e) => e.type === 'm.call.negotiate' && /a=sendonly/.test(String((e.content.description as { sdp: string }).sdp))), 20_000, 'the hold offer');
    await waitFor(async () => call.peer.direction === 'recvonly', 20_000, 'alice\'s side on hold');
    await bob.command('resume');
    await waitFor(async () => call.peer.direction === 'sendrecv', 20_000, 'alice\'s side resumed');
    // baresip rebuilds its receive pipeline without its recorder after a re-INVITE: count its RTP instead.
    call.peer.startTone();
    const before = await bob.rtpReceived();
    await waitFor(async () => (await bob.rtpReceived()) > before + 25, 20_000, 'alice\'s audio at the phone after resume');
    await waitFor(async () => call.peer.heardTone(600) > 0.5, 20_000, 'the phone\'s tone at alice after resume');
    const mark = bob.mark;
    await call.hangup();
    await bob.event((e) => e.type === 'CALL_CLOSED', 15_000, mark);
    // Each step waits for its condition; on a loaded 2-core machine re-INVITEs through rtpengine take seconds.
  }, 150_000);

  it('DTMF both ways: !dtmf and org.patchbay.call.dtmf leave as SIP INFO; the phone\'s RFC 4733 digits reach the Matrix client in the media', async () => {
    const call = await callFromBob();
    const mark = bob.mark;
    await alice.send(bobRoom, 'm.room.message', { msgtype: 'm.text', body: '!dtmf 1 2#' });
    await alice.notice(bobRoom, /Sent 1 2 #/);
    await alice.send(bobRoom, 'org.patchbay.call.dtmf', { call_id: call.callId, digits: '9' });
    await bob.event((e) => e.type === 'CALL_DTMF_START' && e.param === '9', 10_000, mark);
    const started = [];
    for (const d of ['1', '2', '#', '9']) started.push(await bob.event((e) => e.type === 'CALL_DTMF_START' && e.param === d, 1000, mark));
    expect(started).toHaveLength(4);
    await bob.command('sndcode', '5');
    await waitFor(async () => call.peer.dtmfReceived.includes('5'), 10_000, 'the RFC 4733 digit at alice');
    await call.hangup();
    await bob.event((e) => e.type === 'CALL_CLOSED', 15_000, mark);
  });

  it('a decline is 603, a busy phone is user_busy, an unanswered call times out, and a call cancelled while ringing is a missed call', async () => {
    // alice declines bob.
    let mark = bob.mark;
    let from = alice.mark;
    await bob.command('dial', `sip:${DID}@${DOMAIN}`);
    let call = await alice.incoming({ from });
    await call.reject();
    const closed = await bob.event((e) => e.type === 'CALL_CLOSED', 15_000, mark);
    expect(closed.param).toMatch(/603/);
    await alice.notice(bobRoom, /Declined call from/, 20_000, from);
    // bob gives up while it rings.
    mark = bob.mark;
    from = alice.mark;
    await bob.command('dial', `sip:${DID}@${DOMAIN}`);
    call = await alice.incoming({ from });
    await bob.command('hangup');
    expect((await call.ended('m.call.hangup')).content.reason).toBe('user_hangup');
    await alice.notice(bobRoom, /Missed call from \+1 415 555 0100/, 20_000, from);
    // Nobody answers: the ring timeout (6 s here).
    mark = bob.mark;
    from = alice.mark;
    await bob.command('dial', `sip:${DID}@${DOMAIN}`);
    call = await alice.incoming({ from });
    expect((await call.ended('m.call.hangup', 15_000)).content.reason).toBe('invite_timeout');
    expect((await bob.event((e) => e.type === 'CALL_CLOSED', 15_000, mark)).param).toMatch(/480/);
    // alice calls bob; bob's phone refuses it (busy).
    mark = bob.mark;
    const out = await alice.call(bobRoom);
    await bob.event((e) => e.type === 'CALL_INCOMING', 15_000, mark);
    await bob.command('hangup');
    expect((await out.ended('m.call.hangup')).content.reason).toBe('user_busy');
    await alice.notice(bobRoom, /failed: busy/);
  });

  it('Matrix -> phone: cancelled while ringing, and not answered within the invite\'s lifetime', async () => {
    let mark = bob.mark;
    const call = await alice.call(bobRoom, { trickle: false });
    await bob.event((e) => e.type === 'CALL_INCOMING', 15_000, mark);
    await call.hangup();
    await bob.event((e) => e.type === 'CALL_CLOSED', 15_000, mark);
    mark = bob.mark;
    const unanswered = await alice.call(bobRoom, { trickle: false, lifetime: 3000 });
    await bob.event((e) => e.type === 'CALL_INCOMING', 15_000, mark);
    expect((await unanswered.ended('m.call.hangup', 15_000)).content.reason).toBe('invite_timeout');
    await bob.event((e) => e.type === 'CALL_CLOSED', 15_000, mark);
    await alice.notice(bobRoom, /no answer/);
  });

  it('parallel ring: a number that rings alice and carol; carol answers first, alice hears it was answered elsewhere', async () => {
    const mark = bob.mark;
    const [fromA, fromC] = [alice.mark, carol.mark];
    await bob.command('dial', `sip:${TEAM}@${DOMAIN}`);
    const [toAlice, toCarol] = await Promise.all([alice.incoming({ from: fromA }), carol.incoming({ from: fromC })]);
    expect(toAlice.roomId).not.toBe(toCarol.roomId);
    await toCarol.answer();
    await bob.event((e) => e.type === 'CALL_ESTABLISHED', 15_000, mark);
    expect((await toCarol.ended('m.call.select_answer')).content.selected_party_id).toBe(carol.partyId);
    await toAlice.ended('m.call.hangup');
    await alice.notice(toAlice.roomId, /answered elsewhere \(by @carol:localhost\)/);
    // alice answering late changes nothing.
    await toAlice.answer();
    await toCarol.hangup();
    await bob.event((e) => e.type === 'CALL_CLOSED', 15_000, mark);
  });

  it('texts both ways in the same room as the calls; a long text leaves in parts; a refused one is shown on the message', async () => {
    const from = alice.mark;
    await bob.command('message', 'hello from the phone');
    const text = await alice.event((e) => e.roomId === bobRoom && e.type === 'm.room.message' && e.content.body === 'hello from the phone', 20_000, from);
    expect(text.sender).toBe(ghostOf(BOB));
    await alice.send(bobRoom, 'm.room.message', { msgtype: 'm.text', body: 'hello from matrix' });
    await bob.waitOutput(/hello from matrix/);
    const long = Array.from({ length: 60 }, (_, i) => `word${i}`).join(' ');
    await alice.send(bobRoom, 'm.room.message', { msgtype: 'm.text', body: long });
    await bob.waitOutput(/word59/);
    // Nobody is registered as this number: the SBC answers 404.
    const { room_id: nowhere } = await alice.user.http.ok<{ room_id: string }>('POST', '/createRoom', { body: { is_direct: true, invite: [ghostOf('+14155550177')] } });
    await waitFor(async () => ghostOf('+14155550177') in (await alice.user.http.ok<{ joined: Record<string, unknown> }>('GET', `/rooms/${enc(nowhere)}/joined_members`)).joined, 20_000, 'the ghost to join');
    const sent = await alice.send(nowhere, 'm.room.message', { msgtype: 'm.text', body: 'anyone?' });
    const failure = await alice.notice(nowhere, /Not delivered to \+1 415 555 0177: 404/);
    expect((failure.content['m.relates_to'] as { 'm.in_reply_to': { event_id: string } })['m.in_reply_to'].event_id).toBe(sent);
  });
});
