// What the host reads out of m.call.* for a CallHandler: every part of MSC2746 (VoIP v1) a bridge mapping
// calls needs, for v0 and v1 events, with malformed parts left out rather than passed on.
import { describe, expect, it } from '@jest/globals';
import { normaliseCallEvent } from '../../../core/plugin/CallEventNormaliser.js';
import type { MatrixCallEvent, MatrixEvent } from '../../../core/plugin-api/index.js';

const call = (type: string, content: Record<string, unknown>): MatrixEvent => ({
  event_id: '$e', room_id: '!r:hs', sender: '@alice:hs', origin_server_ts: 1, type, content,
});

describe('normaliseCallEvent', () => {
  it('reads the offer, lifetime and invitee of a v1 invite, and the offer of a v0 one', () => {
    const v1 = normaliseCallEvent(call('m.call.invite', {
      call_id: 'c1', party_id: 'p1', version: '1', lifetime: 90000, invitee: '@sip_=2b1555:hs', offer: { type: 'offer', sdp: 'v=0\r\n' },
    }));
    expect(v1?.call).toEqual({
      kind: 'invite', callId: 'c1', version: '1', partyId: 'p1', description: { type: 'offer', sdp: 'v=0\r\n' }, lifetimeMs: 90000, invitee: '@sip_=2b1555:hs',
    });
    const v0 = normaliseCallEvent(call('m.call.invite', { call_id: 'c0', version: 0, lifetime: 60000, offer: { type: 'offer', sdp: 'v=0' } }));
    expect(v0?.call).toEqual({ kind: 'invite', callId: 'c0', version: 0, partyId: null, description: { type: 'offer', sdp: 'v=0' }, lifetimeMs: 60000 });
  });

  it('reads answers and both directions of negotiate', () => {
    expect(normaliseCallEvent(call('m.call.answer', { call_id: 'c', party_id: 'p', version: '1', answer: { type: 'answer', sdp: 'a' } }))?.call.description)
      .toEqual({ type: 'answer', sdp: 'a' });
    const offer = normaliseCallEvent(call('m.call.negotiate', { call_id: 'c', party_id: 'p', version: '1', lifetime: 10000, description: { type: 'offer', sdp: 'o' } }));
    expect(offer?.call).toMatchObject({ kind: 'negotiate', description: { type: 'offer', sdp: 'o' }, lifetimeMs: 10000 });
    const answer = normaliseCallEvent(call('m.call.negotiate', { call_id: 'c', party_id: 'p', version: '1', description: { type: 'answer', sdp: 'x' } }));
    expect(answer?.call.description).toEqual({ type: 'answer', sdp: 'x' });
  });

  it('reads candidates, the end-of-candidates marker among them, and drops malformed ones', () => {
    const e = normaliseCallEvent(call('m.call.candidates', {
      call_id: 'c', party_id: 'p', version: '1',
      candidates: [
        { candidate: 'candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host', sdpMid: '0', sdpMLineIndex: 0 },
        { candidate: 7 }, 'junk', { candidate: 'candidate:2 1 udp 1 10.0.0.1 6000 typ host', sdpMLineIndex: -1 },
        { candidate: '' },
      ],
    }));
    expect(e?.call.candidates).toEqual([
      { candidate: 'candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host', sdpMid: '0', sdpMLineIndex: 0 },
      { candidate: 'candidate:2 1 udp 1 10.0.0.1 6000 typ host' },
      { candidate: '' },
    ]);
    expect(normaliseCallEvent(call('m.call.candidates', { call_id: 'c', version: 0, candidates: 'nope' }))?.call.candidates).toEqual([]);
  });

  it('reads the reason of a hangup (user_hangup when a legacy one has none) and of a reject, and the selected party', () => {
    expect(normaliseCallEvent(call('m.call.hangup', { call_id: 'c', version: 0 }))).toMatchObject({ content: { reason: 'user_hangup' }, call: { reason: 'user_hangup' } });
    expect(normaliseCallEvent(call('m.call.hangup', { call_id: 'c', party_id: 'p', version: '1', reason: 'user_busy' }))?.call.reason).toBe('user_busy');
    expect(normaliseCallEvent(call('m.call.reject', { call_id: 'c', party_id: 'p', version: '1' }))?.call).toEqual({ kind: 'reject', callId: 'c', version: '1', partyId: 'p' });
    expect(normaliseCallEvent(call('m.call.select_answer', { call_id: 'c', party_id: 'p', version: '1', selected_party_id: 'bridge' }))?.call)
      .toMatchObject({ kind: 'select_answer', selectedPartyId: 'bridge' });
  });

  it('names transfers and stream metadata changes; leaves out descriptions that are not one; refuses events without a call id', () => {
    expect(normaliseCallEvent(call('m.call.replaces', { call_id: 'c', party_id: 'p', version: '1', target_user: { id: '@sip_=2b1555:hs' } }))?.call.kind).toBe('replaces');
    expect(normaliseCallEvent(call('m.call.sdp_stream_metadata_changed', { call_id: 'c', party_id: 'p', version: '1' }))?.call.kind).toBe('sdp_stream_metadata_changed');
    expect(normaliseCallEvent(call('m.call.asserted_identity', { call_id: 'c', version: '1' }))?.call.kind).toBe('other');
    expect(normaliseCallEvent(call('m.call.invite', { call_id: 'c', version: '1', offer: { type: 'pranswer', sdp: 'x' }, lifetime: -5 }))?.call)
      .toEqual({ kind: 'invite', callId: 'c', version: '1', partyId: null });
    expect(normaliseCallEvent(call('m.call.answer', { version: '1', answer: { type: 'answer', sdp: 'x' } }))).toBeNull();
  });
});

describe('the test kit delivers m.call.* as the host does', () => {
  it('hands call events to onCallEvent, read out, and everything else to onMatrixEvent', async () => {
    const { createFakeContext } = await import('../../../testkit/index.js');
    const seen: string[] = [];
    const plugin = {
      descriptor: { protocol: 'phone', ghostPrefix: 'phone_', aliasPrefix: 'phone_' },
      async onMatrixEvent(e: MatrixEvent) { seen.push(`event ${e.type}`); },
      async onCallEvent(e: MatrixCallEvent) { seen.push(`call ${e.call.kind} ${e.call.description?.sdp ?? ''}`); },
    };
    const fake = createFakeContext(plugin.descriptor, {});
    await fake.deliver(plugin, { room_id: '!r:hs', sender: '@alice:hs', type: 'm.call.invite', content: { call_id: 'c', version: '1', party_id: 'p', lifetime: 1000, offer: { type: 'offer', sdp: 'v=0' } } });
    await fake.deliver(plugin, { room_id: '!r:hs', sender: '@alice:hs', content: { msgtype: 'm.text', body: 'hi' } });
    expect(seen).toEqual(['call invite v=0', 'event m.room.message']);
  });
});
