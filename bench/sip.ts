// SIP bridge benchmark (`npm run bench -- sip [--samples N] [--calls N] [--concurrency N] [--hold N]`):
// the real stack (Redis, the embedded homeserver, the host, the bridge) with its managed SBC (Kamailio +
// rtpengine) and baresip phones, from the test rigs (bridges/sip/test). Signalling only: SDP is a werift
// offer/answer made once and reused, so the client's media work is not timed.
// - call setup through the bridge, both ways, against the same call placed directly at a baresip through
//   the same Kamailio, interleaved sample by sample (the machine's load hits all kinds alike);
// - calls per second sustained, phone -> Matrix: INVITE, 200, BYE, 200 at a fixed concurrency;
// - calls held open at once, with this process's memory per call.
import { loadavg, cpus } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as sdk from 'matrix-js-sdk';
import type { Baresip } from '../bridges/sip/test/Baresip.js';
import { freeRtpRange } from '../bridges/sip/test/FreePorts.js';
import type { MatrixPhone } from '../bridges/sip/test/MatrixPhone.js';
import { RawSip } from '../bridges/sip/test/RawSip.js';
import { DID, DOMAIN, SipRig } from '../bridges/sip/test/SipRig.js';
import { WebRtcPeer } from '../bridges/sip/test/WebRtcPeer.js';
import { enc, waitFor } from '../testkit/index.js';
import { rateLimitsWith } from '../testkit/shippedDefaults.js';
import { percentile, progress, round } from './BenchModule.js';

const CALLER = '+14155550100';
const DAVE = '+14155550101';
const CARL = '+14155550102';
const ghostOf = (number: string): string => `@sip_${number.replace('+', '=2b')}:localhost`;
const MB = 1024 * 1024;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function option(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`);
  const value = i >= 0 ? Number(args[i + 1]) : fallback;
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} takes a positive whole number`);
  return value;
}

function stats(samples: number[]): { p50: number; p95: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  return { p50: round(percentile(sorted, 50)), p95: round(percentile(sorted, 95)) };
}

/** When the last call's hops happened (performance.now()), for the sequential setup samples. */
const last = { inviteSeen: 0, answerStored: 0, phoneRang: 0 };

/** Alice answers every call the bridge offers her at once, with a canned answer (the first werift made). */
function autoAnswer(alice: MatrixPhone): void {
  let answer: Promise<string> | null = null;
  alice.client.on(sdk.RoomEvent.Timeline, (event, room, toStartOfTimeline) => {
    if (toStartOfTimeline || !room || event.getType() !== 'm.call.invite' || event.getSender() === alice.userId) return;
    last.inviteSeen = performance.now();
    const content = event.getContent();
    answer ??= new WebRtcPeer(1000).answer((content.offer as { sdp: string }).sdp);
    void answer
      .then((sdp) => alice.send(room.roomId, 'm.call.answer', { call_id: content.call_id, party_id: alice.partyId, version: '1', answer: { type: 'answer', sdp } }))
      .then(() => (last.answerStored = performance.now()))
      .catch((err: unknown) => progress(`an answer failed: ${String(err)}`));
  });
}

/** The phone accepts the next call it is offered (over ctrl_tcp, as the tests drive it). */
function acceptNext(phone: Baresip): void {
  void phone.event((e) => e.type === 'CALL_INCOMING', 15_000, phone.mark).then(() => {
    last.phoneRang = performance.now();
    return phone.command('accept');
  });
}

const byeAnswered = (raw: RawSip, callId: string): Promise<boolean> =>
  waitFor(() => raw.responsesTo(callId).some((r) => r.status >= 200 && /BYE/.test(r.headers.get('cseq') ?? '')), 15_000, `the BYE of ${callId} answered`, 2);

/** INVITE -> 200 at a raw SIP caller (ms); then BYE until answered. */
async function rawCall(raw: RawSip, to: string, answer: () => void, hungUp: (callId: string) => Promise<unknown>): Promise<number> {
  answer();
  const started = performance.now();
  const callId = raw.invite({ to, fromUser: CALLER });
  const final = await raw.final(callId);
  const ms = performance.now() - started;
  if (final.status !== 200) throw new Error(`call to ${to} answered ${final.status} ${final.reason}`);
  raw.bye(callId);
  await hungUp(callId);
  return ms;
}

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const samples = option(args, 'samples', 30);
  const calls = option(args, 'calls', 60);
  const concurrency = option(args, 'concurrency', 4);
  const hold = option(args, 'hold', 200);
  const loadBefore = loadavg().map((l) => round(l, 1));
  // rtpengine takes up to four ports a call (both sides, RTP and RTCP).
  const rtp = await freeRtpRange(2 * Math.max(150, 2 * hold + 50));
  const rig = await SipRig.start({
    appserviceId: 'sip-bench',
    // One Matrix user answers every call: the homeserver's per-user send limit (10/s) would be the bound.
    homeserver: { rateLimits: rateLimitsWith({ sends_per_user: { per_second: 10_000, burst: 10_000 } }) },
    config: ({ sipPort }) => ({
      managed_sbc: { sip_address: '127.0.0.1', domain: DOMAIN, sip_port: sipPort, rtp_port_min: rtp.min, rtp_port_max: rtp.max },
      lines: { gw: { aor: `sip:patchbay@${DOMAIN}`, routes: { [DID]: ['@alice:localhost'] } } },
      outbound: { calls_per_minute: 1000, max_concurrent_calls: 100 },
      calls: { ring_timeout_s: 20, candidate_wait_ms: 1000 },
    }),
  });
  const raw = new RawSip({ host: '127.0.0.1', port: rig.sipPort });
  try {
    await raw.start();
    const [dave, carl, alice] = await Promise.all([rig.phone({ user: DAVE, toneHz: 800 }), rig.phone({ user: CARL, toneHz: 600 }), rig.user('alice')]);
    autoAnswer(alice);
    // Alice's DM with dave's ghost, and one werift offer (with its candidates and their end) for every call.
    const { room_id: room } = await alice.user.http.ok<{ room_id: string }>('POST', '/createRoom', { body: { preset: 'trusted_private_chat', is_direct: true, invite: [ghostOf(DAVE)] } });
    await waitFor(async () => ghostOf(DAVE) in (await alice.user.http.ok<{ joined: Record<string, unknown> }>('GET', `/rooms/${enc(room)}/joined_members`)).joined, 20_000, 'the ghost to join');
    const offerPeer = new WebRtcPeer(1000);
    const werift = await offerPeer.offer();
    const offer = /a=end-of-candidates/.test(werift) ? werift : werift.replace(/\r\n$/, '') + '\r\na=end-of-candidates\r\n';
    await offerPeer.pc.close();

    const daveUri = `sip:${DAVE}@${DOMAIN}`;
    const hops: Record<string, number[]> = {
      direct_invite_to_phone_ringing: [], direct_phone_accept_to_200: [],
      p2m_invite_to_client_sees_invite: [], p2m_client_answer_send: [], p2m_answer_stored_to_sip_200: [],
      m2p_client_invite_send: [], m2p_invite_stored_to_phone_ringing: [], m2p_phone_accept_to_client_sees_answer: [],
    };
    const kinds = {
      // The baselines: the same Kamailio, no bridge. A raw caller (INVITE -> 200 seen by it), and
      // baresip -> baresip (dial -> CALL_ESTABLISHED, which includes baresip's own delay).
      direct_to_phone: async () => {
        const started = performance.now();
        const ms = await rawCall(raw, daveUri, () => acceptNext(dave), () => dave.event((e) => e.type === 'CALL_CLOSED', 15_000, dave.mark));
        hops.direct_invite_to_phone_ringing.push(last.phoneRang - started);
        hops.direct_phone_accept_to_200.push(started + ms - last.phoneRang);
        return ms;
      },
      baresip_to_baresip: async () => {
        const mark = carl.mark;
        const closing = dave.mark;
        acceptNext(dave);
        const started = performance.now();
        await carl.command('dial', daveUri);
        await carl.event((e) => e.type === 'CALL_ESTABLISHED', 15_000, mark);
        const ms = performance.now() - started;
        await carl.command('hangup');
        await dave.event((e) => e.type === 'CALL_CLOSED', 15_000, closing);
        return ms;
      },
      // Phone -> Matrix: a raw caller, the bridge, alice's client answering as soon as it sees the invite.
      phone_to_matrix: async () => {
        const started = performance.now();
        const ms = await rawCall(raw, `sip:${DID}@${DOMAIN}`, () => undefined, (callId) => byeAnswered(raw, callId));
        hops.p2m_invite_to_client_sees_invite.push(last.inviteSeen - started);
        hops.p2m_client_answer_send.push(last.answerStored - last.inviteSeen);
        hops.p2m_answer_stored_to_sip_200.push(started + ms - last.answerStored);
        return ms;
      },
      // Matrix -> phone: m.call.invite sent by alice's client until her client sees the m.call.answer.
      matrix_to_phone: async () => {
        const callId = `bench${performance.now().toFixed(3).replace('.', '')}`;
        const closing = dave.mark;
        acceptNext(dave);
        const started = performance.now();
        await alice.send(room, 'm.call.invite', { call_id: callId, party_id: alice.partyId, version: '1', offer: { type: 'offer', sdp: offer }, lifetime: 60_000, invitee: ghostOf(DAVE) });
        const stored = performance.now();
        await alice.event((e) => e.type === 'm.call.answer' && e.content.call_id === callId && e.sender !== alice.userId, 20_000, 0);
        const ms = performance.now() - started;
        hops.m2p_client_invite_send.push(stored - started);
        hops.m2p_invite_stored_to_phone_ringing.push(last.phoneRang - stored);
        hops.m2p_phone_accept_to_client_sees_answer.push(started + ms - last.phoneRang);
        await alice.send(room, 'm.call.hangup', { call_id: callId, party_id: alice.partyId, version: '1', reason: 'user_hangup' });
        await dave.event((e) => e.type === 'CALL_CLOSED', 15_000, closing);
        return ms;
      },
    };
    const times: Record<keyof typeof kinds, number[]> = { direct_to_phone: [], baresip_to_baresip: [], phone_to_matrix: [], matrix_to_phone: [] };
    // CPU this process spent per call (its threads: the bench's clients, the homeserver, the host, the
    // bridge): unlike wall time, barely moved by other jobs on the machine.
    const cpuMs: Record<keyof typeof kinds, number[]> = { direct_to_phone: [], baresip_to_baresip: [], phone_to_matrix: [], matrix_to_phone: [] };
    progress('warm-up (3 rounds; the first call opens alice\'s DM with the caller)');
    for (let i = 0; i < 3; i++) for (const kind of Object.values(kinds)) await kind();
    progress(`call setup: ${samples} rounds of each kind, interleaved`);
    for (let i = 0; i < samples; i++) {
      for (const [name, kind] of Object.entries(kinds)) {
        const cpu = process.cpuUsage();
        times[name as keyof typeof kinds].push(await kind());
        const used = process.cpuUsage(cpu);
        cpuMs[name as keyof typeof kinds].push((used.user + used.system) / 1000);
      }
    }
    const hopsP50 = Object.fromEntries(Object.entries(hops).map(([name, t]) => [name, round(percentile(t.slice(-samples).sort((a, b) => a - b), 50))]));
    const setup = Object.fromEntries(Object.entries(times).map(([name, t]) => [name, stats(t)])) as Record<keyof typeof kinds, { p50: number; p95: number }>;

    progress(`calls/s: ${calls} calls phone -> Matrix, ${concurrency} at a time`);
    let next = 0;
    let failed = 0;
    const rateStarted = performance.now();
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (next++ < calls) {
        await rawCall(raw, `sip:${DID}@${DOMAIN}`, () => undefined, (callId) => byeAnswered(raw, callId)).catch(() => failed++);
      }
    }));
    const rate = calls / ((performance.now() - rateStarted) / 1000);

    progress(`${hold} calls held open at once`);
    await new Promise((r) => setTimeout(r, 1000));
    gc();
    const before = process.memoryUsage();
    const held: string[] = [];
    let refused = 0;
    const holdStarted = performance.now();
    let launched = 0;
    await Promise.all(Array.from({ length: 10 }, async () => {
      while (launched++ < hold) {
        const callId = raw.invite({ to: `sip:${DID}@${DOMAIN}`, fromUser: CALLER });
        const final = await raw.final(callId, 60_000);
        if (final.status === 200) held.push(callId);
        else refused++;
      }
    }));
    const holdSetupSeconds = (performance.now() - holdStarted) / 1000;
    await new Promise((r) => setTimeout(r, 1000));
    gc();
    const during = process.memoryUsage();
    const active = rig.bridge().activeCalls;
    // Hung up 10 at a time, like they were placed. The raw caller does not retransmit (UDP), so a BYE
    // or its 200 lost on the way is counted, not waited for.
    let unanswered = 0;
    const toHangUp = [...held];
    await Promise.all(Array.from({ length: 10 }, async () => {
      for (let callId = toHangUp.pop(); callId !== undefined; callId = toHangUp.pop()) {
        raw.bye(callId);
        await byeAnswered(raw, callId).catch(() => unanswered++);
      }
    }));
    const perCall = (a: number, b: number): number => round((b - a) / Math.max(1, held.length) / 1024, 1);

    return {
      node: process.version,
      cpus: cpus().length,
      load_average_before: loadBefore,
      load_average_after: loadavg().map((l) => round(l, 1)),
      setup_ms: { samples, ...setup },
      bridge_added_p50_ms: {
        phone_to_matrix: round(setup.phone_to_matrix.p50 - setup.direct_to_phone.p50),
        matrix_to_phone: round(setup.matrix_to_phone.p50 - setup.direct_to_phone.p50),
      },
      hops_p50_ms: hopsP50,
      cpu_ms_per_call_p50: Object.fromEntries(Object.entries(cpuMs).map(([name, t]) => [name, round(percentile([...t].sort((a, b) => a - b), 50))])),
      calls_per_s: { phone_to_matrix: round(rate, 1), calls, concurrency, failed },
      held_calls: {
        calls: hold,
        answered: held.length,
        refused,
        bridge_active_calls: active,
        bye_unanswered: unanswered,
        setup_s: round(holdSetupSeconds, 1),
        rss_mb_before: round(before.rss / MB, 1),
        rss_kib_per_call: perCall(before.rss, during.rss),
        heap_kib_per_call: perCall(before.heapUsed, during.heapUsed),
      },
      note: 'one process: bench clients (matrix-js-sdk, raw SIP caller), homeserver, host, bridge; Kamailio, rtpengine and baresip are other processes. Setup is signalling only (canned werift SDP); direct_to_phone is a raw SIP caller -> Kamailio -> baresip, the baseline the bridge adds to',
    };
  } finally {
    raw.stop();
    await rig.stop();
  }
}
