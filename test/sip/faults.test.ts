// The SIP bridge under bad input and faults, with real peers: requests no phone should send (a raw UDP
// peer writes them), callers and numbers outside the rules, an encrypted portal, and Kamailio killed
// mid-call and while idle (the managed SBC restarts it; the line registers again), and the bridge restarted
// mid-call.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { ConnectionStatus } from '../../core/plugin-api/index.js';
import type { Baresip } from '../../bridges/sip/test/Baresip.js';
import type { MatrixPhone, PhoneCall } from '../../bridges/sip/test/MatrixPhone.js';
import { RawSip } from '../../bridges/sip/test/RawSip.js';
import { DID, DOMAIN, SipRig } from '../../bridges/sip/test/SipRig.js';
import { enc, waitFor } from '../harness/index.js';

const BOB = '+14155550100';
const ghostOf = (number: string): string => `@sip_${number.replace('+', '=2b')}:localhost`;

describe('SIP bridge: bad input, rules and faults (Kamailio + rtpengine + baresip + matrix-js-sdk)', () => {
  let rig: SipRig;
  let bob: Baresip;
  let alice: MatrixPhone;
  let raw: RawSip;
  let encryptedRoom = '';
  const to = (number: string): string => `sip:${number}@${DOMAIN}`;
  const status = async (connection: string): Promise<ConnectionStatus | undefined> =>
    (await rig.stack.host.bridge('sip')!.context.status.all()).find((s) => s.connection === connection);
  const invitesSince = (from: number): Promise<boolean> =>
    alice.event((e) => e.type === 'm.call.invite', 300, from).then(() => true, () => false);

  /** Phone -> alice, answered, media up (a stalled werift handshake is hung up and the call placed again). */
  const callFromBob = async (): Promise<PhoneCall> => {
    for (let attempt = 1; ; attempt++) {
      const from = alice.mark;
      const mark = bob.mark;
      await bob.command('dial', to(DID));
      const call = await alice.incoming({ from });
      await call.answer();
      await bob.event((e) => e.type === 'CALL_ESTABLISHED', 15_000, mark);
      if (await call.peer.waitConnected(6000)) return call;
      rig.stalls++;
      if (attempt === 3) throw new Error('the media handshake stalled three times in a row');
      await bob.command('hangup');
      await call.ended();
    }
  };

  beforeAll(async () => {
    rig = await SipRig.start({
      appserviceId: 'sip-faults',
      config: () => ({
        lines: { gw: { aor: `sip:patchbay@${DOMAIN}`, routes: { [DID]: ['@alice:localhost'] } } },
        inbound: { block: ['+1900*', 'anonymous*'] },
        limits: { max_header_bytes: 1024 },
        calls: { ring_timeout_s: 10, candidate_wait_ms: 500 },
      }),
    });
    raw = new RawSip({ host: '127.0.0.1', port: rig.sipPort });
    await raw.start();
    [bob, alice] = await Promise.all([rig.phone({ user: BOB, toneHz: 600 }), rig.user('alice')]);
  }, 60_000);

  afterAll(async () => {
    raw?.stop();
    await rig?.stop();
  });

  it('answers what no phone should send with a SIP error and rings nobody; the bridge goes on working', async () => {
    const from = alice.mark;
    const unparseableFrom = raw.invite({ to: to(DID), fromUser: 'x', fromLine: 'From: <<<not a name-addr' });
    expect((await raw.final(unparseableFrom)).status).toBe(400);
    const garbageSdp = raw.invite({ to: to(DID), fromUser: BOB, sdp: 'this is not a session description\r\n' });
    expect((await raw.final(garbageSdp)).status).toBe(488);
    const hugeHeader = raw.invite({ to: to(DID), fromUser: BOB, extraHeaders: [`X-Huge: ${'a'.repeat(3000)}`] });
    expect(await raw.final(hugeHeader)).toMatchObject({ status: 400, reason: 'Header Too Long' });
    const unknownNumber = raw.invite({ to: to('+14155550999'), fromUser: BOB });
    expect((await raw.final(unknownNumber)).status).toBe(404);
    const blocked = raw.invite({ to: to(DID), fromUser: '+19005550100' });
    expect((await raw.final(blocked)).status).toBe(403);
    raw.sendRaw('this is not SIP at all\r\n\r\n');
    expect(await invitesSince(from)).toBe(false);
    // Still working: a proper call rings alice, who declines it.
    const fine = raw.invite({ to: to(DID), fromUser: BOB });
    const call = await alice.incoming({ from });
    await call.reject();
    expect((await raw.final(fine)).status).toBe(603);
    const metrics = await rig.stack.metrics.metrics();
    for (const reason of ['too_large', 'bad_sdp', 'no_route', 'blocked']) expect(metrics).toMatch(new RegExp(`patchbay_sip_refused_total\\{reason="${reason}"[^}]*\\} [1-9]`));
  });

  it('a Matrix user cannot call outside the rules: a number abroad is refused in the room, nothing leaves', async () => {
    const abroad = '+442079460958';
    const { room_id: room } = await alice.user.http.ok<{ room_id: string }>('POST', '/createRoom', { body: { is_direct: true, invite: [ghostOf(abroad)] } });
    await waitFor(async () => ghostOf(abroad) in (await alice.user.http.ok<{ joined: Record<string, unknown> }>('GET', `/rooms/${enc(room)}/joined_members`)).joined, 20_000, 'the ghost to join');
    const call = await alice.call(room, { trickle: false });
    await call.ended('m.call.reject');
    await alice.notice(room, /not placed: you may not call or text \+44 20 7946 0958/);
  });

  it('an encrypted portal: a clear notice, and calls to it are refused (480) with a notice instead of silence', async () => {
    // A DM alice opens with the caller's ghost becomes the caller's portal; she encrypts it.
    const { room_id: room } = await alice.user.http.ok<{ room_id: string }>('POST', '/createRoom', { body: { is_direct: true, invite: [ghostOf(BOB)] } });
    await waitFor(async () => ghostOf(BOB) in (await alice.user.http.ok<{ joined: Record<string, unknown> }>('GET', `/rooms/${enc(room)}/joined_members`)).joined, 20_000, 'the ghost to join');
    const from = alice.mark;
    const first = raw.invite({ to: to(DID), fromUser: BOB });
    const call = await alice.incoming({ from });
    expect(call.roomId).toBe(room);
    await call.hangup('user_busy');
    expect((await raw.final(first)).status).toBe(486);
    await alice.user.http.ok('PUT', `/rooms/${enc(room)}/state/m.room.encryption/`, { body: { algorithm: 'm.megolm.v1.aes-sha2' } });
    await alice.notice(room, /end-to-end encrypted, and the SIP bridge cannot read/);
    await alice.notice(room, /Calls with \+1 415 555 0100 cannot ring in an encrypted room either/);
    const second = raw.invite({ to: to(DID), fromUser: BOB });
    expect((await raw.final(second)).status).toBe(480);
    await alice.notice(room, /Missed call from \+1 415 555 0100: this room is encrypted/);
    // Leaving it frees the number: the next call opens a new room.
    await alice.client.leave(room);
    await waitFor(async () => (await rig.stack.host.bridge('sip')!.context.links.remotesFor(room)).length === 0, 20_000, 'the bridge to let the room go');
    encryptedRoom = room;
  });

  it('Kamailio killed mid-call: alice hears the call end at once, the line registers again, the phone gets its BYE', async () => {
    const from = alice.mark;
    const mark = bob.mark;
    await bob.command('dial', to(DID));
    const call = await alice.incoming({ from });
    expect(call.roomId).not.toBe(encryptedRoom);
    await call.answer();
    await bob.event((e) => e.type === 'CALL_ESTABLISHED', 15_000, mark);
    rig.bridge().sbc!.kamailioProcess!.kill();
    expect((await call.ended('m.call.hangup')).content.reason).toBe('unknown_error');
    await alice.notice(call.roomId, /cut off: the connection to the phone network was lost/);
    await waitFor(async () => (await status('gw'))?.state !== 'connected', 10_000, 'the line to notice');
    await waitFor(async () => (await status('gw'))?.state === 'connected' && (await status('sbc'))?.state === 'connected', 20_000, 'the SBC and the line back');
    await bob.event((e) => e.type === 'CALL_CLOSED', 20_000, mark);
  });

  it('Kamailio killed while idle: the line reconnects and registers again, and the next call rings', async () => {
    rig.bridge().sbc!.kamailioProcess!.kill();
    await waitFor(async () => (await status('gw'))?.state !== 'connected', 10_000, 'the line to notice');
    await waitFor(async () => rig.bridge().line('gw')?.isReady === true, 20_000, 'the line to register again');
    const from = alice.mark;
    const callId = raw.invite({ to: to(DID), fromUser: BOB });
    const call = await alice.incoming({ from });
    await call.reject();
    expect((await raw.final(callId)).status).toBe(603);
    const metrics = await rig.stack.metrics.metrics();
    expect(metrics).toMatch(/patchbay_sip_line_ready\{line="gw"[^}]*\} 1/);
    expect(metrics).toMatch(/patchbay_sip_calls_total\{direction="inbound",outcome="declined"[^}]*\} [1-9]/);
    expect(metrics).toMatch(/patchbay_bridge_connection_state\{[^}]*connection="gw"[^}]*state="connected"[^}]*\} 1/);
  });
  it('the bridge restarted mid-call: both sides hear the call end with a notice; the next call in that room rings, is answered and carries audio', async () => {
    const from = alice.mark;
    const mark = bob.mark;
    await bob.command('dial', to(DID));
    const call = await alice.incoming({ from });
    await call.answer();
    await bob.event((e) => e.type === 'CALL_ESTABLISHED', 15_000, mark);
    await rig.restartBridge();
    await call.ended('m.call.hangup');
    await alice.notice(call.roomId, /The call with \+1 415 555 0100 ended: the bridge is stopping/);
    await bob.event((e) => e.type === 'CALL_CLOSED', 15_000, mark);
    expect(rig.bridge().activeCalls).toBe(0);
    // The new bridge takes the room's next call, and alice's answer reaches it.
    const next = await callFromBob();
    expect(next.roomId).toBe(call.roomId);
    next.peer.startTone();
    await waitFor(async () => next.peer.heardTone(600) > 0.5, 10_000, "alice to hear the phone's 600 Hz tone");
    await waitFor(async () => bob.heardTone(1000) > 0.5, 10_000, "the phone to hear alice's 1000 Hz tone");
    await bob.command('hangup');
    await next.ended('m.call.hangup');
    await alice.notice(next.roomId, /Call from \+1 415 555 0100 ended after/);
  });
});
