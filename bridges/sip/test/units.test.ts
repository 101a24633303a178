// The SIP bridge's pure parts: what the guard refuses and answers, SDP checks and candidate gathering,
// the requests that end a call after a restart, texts (bodies, splitting), the outbound rules, and the
// mapping of call outcomes both ways.
import { describe, expect, it } from '@jest/globals';
import { Core } from 'sip.js';
import { failureFromSip, sipStatusForUnanswered, unansweredFromMatrix, duration } from '../calls/CallOutcomes.js';
import { digitOfInfo, dtmfRelayBody, parseDigits } from '../calls/Dtmf.js';
import { audioDirection, hasEndOfCandidates, sdpProblem, withCandidates } from '../calls/Sdp.js';
import { NumberPlan } from '../numbers/NumberPlan.js';
import { partyFromInput } from '../numbers/RemoteParty.js';
import { glob } from '../policy/Glob.js';
import { OutboundPolicy } from '../policy/OutboundPolicy.js';
import { byeOf, cancelOf, finalResponse, ringingInvite, sentInvite } from '../sip/CleanupMessages.js';
import { checkInbound } from '../sip/InboundGuard.js';
import { readMessageBody } from '../texts/MessageBody.js';
import { splitText } from '../texts/TextSplitter.js';

const LIMITS = { maxMessageBytes: 4000, maxHeaderBytes: 300, maxSdpBytes: 1000 };
const SDP = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n';

function invite(headers: string[], body = SDP): string {
  return [
    'INVITE sip:abc@x.invalid;transport=ws SIP/2.0',
    'Via: SIP/2.0/WS 127.0.0.1:5066;branch=z9hG4bK1',
    'Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK2',
    'Max-Forwards: 69',
    ...headers,
    'Call-ID: call-1',
    'CSeq: 7 INVITE',
    'Content-Type: application/sdp',
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ].join('\r\n');
}
const FROM_TO = ['From: "Bob" <sip:+14155550100@sip.test>;tag=ft1', 'To: <sip:+14155550123@sip.test>'];

describe('InboundGuard', () => {
  it('passes a well-formed INVITE', () => {
    const accepted = checkInbound(invite(FROM_TO), LIMITS);
    expect(accepted.ok).toBe(true);
    // The parse sip.js takes over (ParsedHandoff) instead of parsing the message again.
    expect(accepted.ok && accepted.message).toBeInstanceOf(Core.IncomingRequestMessage);
    expect(accepted.ok && accepted.message.callId).toBe('call-1');
  });

  it('refuses an unparseable From with 400, answering with the request\'s own Via, From, To, Call-ID and CSeq', () => {
    const raw = invite(['From: <<<garbage', 'To: <sip:+14155550123@sip.test>']);
    const verdict = checkInbound(raw, LIMITS);
    expect(verdict).toMatchObject({ ok: false, status: 400 });
    const reply = verdict.ok ? '' : verdict.reply ?? '';
    expect(reply.split('\r\n')[0]).toBe('SIP/2.0 400 Malformed Message');
    expect(reply).toContain('Via: SIP/2.0/WS 127.0.0.1:5066;branch=z9hG4bK1\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK2');
    expect(reply).toContain('From: <<<garbage');
    expect(reply).toMatch(/To: <sip:\+14155550123@sip\.test>;tag=guard/);
    expect(reply).toContain('Call-ID: call-1\r\nCSeq: 7 INVITE');
    // sip.js itself would have dropped it without a word.
    expect(Core.Parser.parseMessage(raw, { log: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined } as unknown as Core.Logger)).toBeUndefined();
  });

  it('refuses over-long headers, oversized SDP and oversized messages; never answers an ACK or a response', () => {
    expect(checkInbound(invite([...FROM_TO, `X-Padding: ${'a'.repeat(400)}`]), LIMITS)).toMatchObject({ ok: false, status: 400, reason: 'Header Too Long' });
    expect(checkInbound(invite(FROM_TO, `${SDP}${'a=x\r\n'.repeat(250)}`), LIMITS)).toMatchObject({ ok: false, status: 413 });
    expect(checkInbound(invite([...FROM_TO, ...Array.from({ length: 40 }, (_, i) => `X-${i}: ${'b'.repeat(100)}`)]), LIMITS)).toMatchObject({ ok: false, status: 513 });
    const ack = invite(['From: <<<garbage', 'To: <sip:a@b>']).replace(/^INVITE/, 'ACK').replace('7 INVITE', '7 ACK');
    expect(checkInbound(ack, LIMITS)).toMatchObject({ ok: false, reply: null });
    expect(checkInbound('SIP/2.0 200 OK\r\nVia: garbage\r\n\r\n', LIMITS)).toMatchObject({ ok: false, reply: null });
  });
});

describe('Sdp', () => {
  it('accepts a session description and says what is wrong with one that is not', () => {
    expect(sdpProblem(SDP, 1000)).toBeNull();
    expect(sdpProblem('hello', 1000)).toMatch(/v=0/);
    expect(sdpProblem('v=0\r\ns=-\r\n', 1000)).toMatch(/no media/);
    expect(sdpProblem(`${SDP}garbage line\r\n`, 1000)).toMatch(/malformed line/);
    expect(sdpProblem(SDP, 50)).toMatch(/larger than 50/);
  });

  it('writes trickled candidates into their media section, once, with the end marker', () => {
    const offer = 'v=0\r\ns=-\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\n';
    const merged = withCandidates(offer, [
      { candidate: 'candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host', sdpMid: '0', sdpMLineIndex: 0 },
      { candidate: 'candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host', sdpMid: '0', sdpMLineIndex: 0 },
      { candidate: 'candidate:2 1 udp 2130706431 127.0.0.1 5002 typ host', sdpMid: '1' },
      { candidate: '', sdpMLineIndex: 0 },
    ]);
    expect(merged).toBe(
      'v=0\r\ns=-\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\na=candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host\r\na=end-of-candidates\r\n' +
        'm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\na=candidate:2 1 udp 2130706431 127.0.0.1 5002 typ host\r\n',
    );
    expect(hasEndOfCandidates(merged)).toBe(true);
    expect(withCandidates(offer, [])).toBe(offer);
  });

  it('reads the audio direction, old-style 0.0.0.0 hold included', () => {
    expect(audioDirection(SDP)).toBe('sendrecv');
    expect(audioDirection(SDP.replace('a=sendrecv', 'a=sendonly'))).toBe('sendonly');
    expect(audioDirection(SDP.replace('a=sendrecv\r\n', '').replace('c=IN IP4 127.0.0.1', 'c=IN IP4 0.0.0.0'))).toBe('inactive');
  });
});

describe('CleanupMessages (what ends a call after a restart)', () => {
  it('answers a ringing INVITE with its own headers and a To tag', () => {
    const saved = ringingInvite(invite(FROM_TO));
    const response = finalResponse(saved, 480, 'Temporarily Unavailable');
    expect(response).toMatch(/^SIP\/2\.0 480 Temporarily Unavailable\r\nVia: .*branch=z9hG4bK1\r\nVia: .*branch=z9hG4bK2\r\n/);
    expect(response).toMatch(/To: <sip:\+14155550123@sip\.test>;tag=[0-9a-f]+\r\n/);
    expect(response).not.toContain('Max-Forwards');
    expect(response.endsWith('Content-Length: 0\r\n\r\n')).toBe(true);
  });

  it('cancels an INVITE it sent: same request URI, top Via, Call-ID and CSeq number', () => {
    const sent = sentInvite(['INVITE sip:+14155550100@sip.test SIP/2.0', 'Via: SIP/2.0/WS h.invalid;branch=z9hG4bK77', 'Route: <sip:127.0.0.1:5066;transport=ws;lr>', 'To: <sip:+14155550100@sip.test>', 'From: <sip:patchbay@sip.test>;tag=f1', 'Call-ID: c9', 'CSeq: 1 INVITE', 'Max-Forwards: 70', 'Content-Type: application/sdp', 'Content-Length: 3', '', 'v=0'].join('\r\n'))!;
    expect(cancelOf(sent)).toBe(
      'CANCEL sip:+14155550100@sip.test SIP/2.0\r\nVia: SIP/2.0/WS h.invalid;branch=z9hG4bK77\r\nRoute: <sip:127.0.0.1:5066;transport=ws;lr>\r\nTo: <sip:+14155550100@sip.test>\r\nFrom: <sip:patchbay@sip.test>;tag=f1\r\nCall-ID: c9\r\nCSeq: 1 CANCEL\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n',
    );
  });

  it('sends BYE in a dialog along its route set, one past its last CSeq', () => {
    const bye = byeOf({ kind: 'dialog', callId: 'c1', localTag: 'l1', remoteTag: 'r1', localSequence: 4, localUri: 'sip:patchbay@sip.test', remoteUri: 'sip:+14155550100@sip.test', remoteTarget: 'sip:bob@127.0.0.1:5080', routeSet: ['<sip:127.0.0.1:5066;transport=ws;lr>', '<sip:127.0.0.1:5060;lr>'] }, 'h.invalid');
    expect(bye.split('\r\n').slice(0, 9)).toEqual([
      'BYE sip:bob@127.0.0.1:5080 SIP/2.0',
      expect.stringMatching(/^Via: SIP\/2\.0\/WSS h\.invalid;branch=z9hG4bK[0-9a-f]+$/),
      'Max-Forwards: 70',
      'Route: <sip:127.0.0.1:5066;transport=ws;lr>',
      'Route: <sip:127.0.0.1:5060;lr>',
      'From: <sip:patchbay@sip.test>;tag=l1',
      'To: <sip:+14155550100@sip.test>;tag=r1',
      'Call-ID: c1',
      'CSeq: 5 BYE',
    ]);
  });
});

describe('texts', () => {
  it('reads plain, CPIM and multipart bodies', () => {
    expect(readMessageBody('text/plain;charset=utf-8', 'hi there')).toEqual({ text: 'hi there', files: [] });
    expect(readMessageBody('message/cpim', 'From: <sip:a@b>\r\nNS: imdn <urn:ietf:params:imdn>\r\n\r\nContent-Type: text/plain\r\n\r\nwrapped')?.text).toBe('wrapped');
    const multipart = ['--b1', 'Content-Type: text/plain', '', 'caption', '--b1', 'Content-Type: image/png; name="pic.png"', 'Content-Transfer-Encoding: base64', '', Buffer.from('PNG!').toString('base64'), '--b1--', ''].join('\r\n');
    const read = readMessageBody('multipart/mixed; boundary="b1"', multipart);
    expect(read?.text).toBe('caption');
    expect(read?.files).toEqual([{ mimetype: 'image/png', filename: 'pic.png', bytes: Buffer.from('PNG!') }]);
    const alternative = ['--x', 'Content-Type: text/html', '', '<b>no</b>', '--x', 'Content-Type: text/plain', '', 'yes', '--x--'].join('\r\n');
    expect(readMessageBody('multipart/alternative; boundary=x', alternative)?.text).toBe('yes');
    expect(readMessageBody('text/plain', '   ')).toBeNull();
  });

  it('splits long texts between words within the byte limit, never inside a character', () => {
    expect(splitText('short', 10)).toEqual(['short']);
    expect(splitText('one two three four', 9)).toEqual(['one two', 'three', 'four']);
    const emoji = '😀'.repeat(10);
    const parts = splitText(emoji, 10);
    expect(parts.join('')).toBe(emoji);
    for (const p of parts) expect(Buffer.byteLength(p)).toBeLessThanOrEqual(10);
    expect(splitText('a'.repeat(25), 10)).toEqual(['a'.repeat(10), 'a'.repeat(10), 'a'.repeat(5)]);
  });
});

describe('OutboundPolicy', () => {
  const plan = new NumberPlan('US');
  const party = (t: string) => partyFromInput(plan, t)!;

  it('by default: this server\'s users may call national numbers and SIP addresses, nothing premium, nothing abroad', () => {
    const policy = new OutboundPolicy(plan, { allow: [{ users: ['@*:example.org'], numbers: ['national', 'sip'] }], deny: ['premium', 'shared_cost'], callsPerMinute: 2, maxConcurrentCalls: 1 });
    expect(policy.check('@alice:example.org', party('+14155550100'), false)).toEqual({ ok: true });
    expect(policy.check('@alice:example.org', party('alice@pbx.example'), false)).toEqual({ ok: true });
    expect(policy.check('@alice:example.org', party('+442079460958'), false)).toMatchObject({ ok: false, reason: expect.stringMatching(/may not call/) });
    expect(policy.check('@alice:example.org', party('1-900-555-0199'), false)).toMatchObject({ ok: false, reason: expect.stringMatching(/deny list \(premium\)/) });
    expect(policy.check('@mallory:elsewhere.org', party('+14155550100'), false)).toMatchObject({ ok: false });
    // A user's own account: only the deny list applies.
    expect(policy.check('@mallory:elsewhere.org', party('+442079460958'), true)).toEqual({ ok: true });
    expect(policy.check('@mallory:elsewhere.org', party('1-900-555-0199'), true)).toMatchObject({ ok: false });
  });

  it('limits calls per minute and at once, per user', () => {
    let now = 1_000_000;
    const policy = new OutboundPolicy(plan, { allow: [], deny: [], callsPerMinute: 2, maxConcurrentCalls: 1 }, () => now);
    expect(policy.admitCall('@a:x', 0)).toEqual({ ok: true });
    expect(policy.admitCall('@a:x', 1)).toMatchObject({ ok: false, reason: expect.stringMatching(/limit is 1/) });
    expect(policy.admitCall('@a:x', 0)).toEqual({ ok: true });
    expect(policy.admitCall('@a:x', 0)).toMatchObject({ ok: false, reason: expect.stringMatching(/2 a minute/) });
    expect(policy.admitCall('@b:x', 0)).toEqual({ ok: true });
    now += 61_000;
    expect(policy.admitCall('@a:x', 0)).toEqual({ ok: true });
  });

  it('matches globs without backtracking', () => {
    expect(glob('@*:example.org')('@alice:example.org')).toBe(true);
    expect(glob('+1415*')('+14155550100')).toBe(true);
    expect(glob('a*b*c')('axxbyyc')).toBe(true);
    expect(glob('a*b*c')('axxbyy')).toBe(false);
    const started = Date.now();
    expect(glob(`${'*a'.repeat(20)}*b`)('a'.repeat(5000))).toBe(false);
    expect(Date.now() - started).toBeLessThan(1000);
  });
});

describe('call outcomes and DTMF', () => {
  it('maps SIP refusals to Matrix and Matrix refusals to SIP', () => {
    expect(failureFromSip(486, 'Busy Here')).toMatchObject({ event: 'hangup', reason: 'user_busy', outcome: 'busy' });
    expect(failureFromSip(603, 'Decline')).toMatchObject({ event: 'reject', outcome: 'declined' });
    expect(failureFromSip(480, 'Temporarily Unavailable')).toMatchObject({ reason: 'invite_timeout', outcome: 'no_answer' });
    expect(failureFromSip(404, 'Not Found')).toMatchObject({ outcome: 'not_found', words: expect.stringMatching(/404 Not Found/) });
    expect(failureFromSip(503, 'Service Unavailable')).toMatchObject({ reason: 'unknown_error', words: '503 Service Unavailable' });
    expect(sipStatusForUnanswered(unansweredFromMatrix('reject', undefined))).toEqual({ statusCode: 603, reasonPhrase: 'Decline' });
    expect(sipStatusForUnanswered(unansweredFromMatrix('hangup', 'user_busy'))).toEqual({ statusCode: 486, reasonPhrase: 'Busy Here' });
    expect(sipStatusForUnanswered('timeout')).toEqual({ statusCode: 480, reasonPhrase: 'Temporarily Unavailable' });
    expect(duration(65_400)).toBe('1:05');
    expect(duration(3_723_000)).toBe('1:02:03');
  });

  it('reads and writes DTMF INFO bodies', () => {
    expect(parseDigits('1 2 3 #')).toBe('123#');
    expect(parseDigits('12x')).toBeNull();
    expect(parseDigits('a')).toBe('A');
    expect(dtmfRelayBody('5', 160)).toBe('Signal=5\r\nDuration=160\r\n');
    expect(digitOfInfo('application/dtmf-relay', 'Signal= #\r\nDuration=100')).toBe('#');
    expect(digitOfInfo('application/dtmf', '7')).toBe('7');
    expect(digitOfInfo('text/plain', 'Signal=1')).toBeNull();
    expect(digitOfInfo('application/dtmf-relay', 'Signal=Z')).toBeNull();
  });
});
