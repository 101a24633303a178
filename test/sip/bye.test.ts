// A phone's BYE is answered: the bridge ends the call in Matrix and sends 200 back, so the phone does not
// retransmit its BYE for 32 s (the bridge's session delegate must accept it; sip.js does so only without one).
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Core } from 'sip.js';
import type { MatrixPhone } from '../../bridges/sip/test/MatrixPhone.js';
import { RawSip } from '../../bridges/sip/test/RawSip.js';
import { DID, DOMAIN, SipRig } from '../../bridges/sip/test/SipRig.js';
import { waitFor } from '../harness/index.js';

describe('SIP bridge: a phone hangs up an answered call', () => {
  let rig: SipRig;
  let raw: RawSip;
  let alice: MatrixPhone;

  beforeAll(async () => {
    rig = await SipRig.start({ appserviceId: 'sip-bye', config: () => ({ lines: { gw: { aor: `sip:patchbay@${DOMAIN}`, routes: { [DID]: ['@alice:localhost'] } } } }) });
    raw = new RawSip({ host: '127.0.0.1', port: rig.sipPort });
    await raw.start();
    alice = await rig.user('alice');
  }, 60_000);

  afterAll(async () => {
    raw?.stop();
    await rig?.stop();
  });

  it('its BYE gets 200 and the Matrix side gets the hangup', async () => {
    const callId = raw.invite({ to: `sip:${DID}@${DOMAIN}`, fromUser: '+14155550100' });
    const call = await alice.incoming();
    await call.answer();
    expect((await raw.final(callId)).status).toBe(200);
    raw.bye(callId);
    await call.ended('m.call.hangup');
    const byeAnswer = await waitFor(() => raw.responsesTo(callId).find((r) => /BYE/.test(r.headers.get('cseq') ?? '')), 5000, 'an answer to the BYE');
    expect(byeAnswer.status).toBe(200);
  });

  it('a phone that never ACKs the 200 and hangs up: when sip.js gives up on the ACK, the bridge stays up', async () => {
    // sip.js waits 64*T1 (32 s) for the ACK of a 200 and then calls the session's onAckTimeout, which
    // throws from a timer if the session already ended (here: by the BYE). Shortened for the test.
    const timerL = Core.Timers.TIMER_L;
    Core.Timers.TIMER_L = 1500;
    try {
      const from = alice.mark;
      const callId = raw.invite({ to: `sip:${DID}@${DOMAIN}`, fromUser: '+14155550100', ack: false });
      const call = await alice.incoming({ from });
      await call.answer();
      expect((await raw.final(callId)).status).toBe(200);
      raw.bye(callId);
      await call.ended('m.call.hangup');
      // The ACK wait is a timer: let it run out.
      await sleep(Core.Timers.TIMER_L + 1000);
    } finally {
      Core.Timers.TIMER_L = timerL;
    }
    // Still bridging calls.
    const from = alice.mark;
    const next = raw.invite({ to: `sip:${DID}@${DOMAIN}`, fromUser: '+14155550100' });
    const second = await alice.incoming({ from });
    await second.answer();
    expect((await raw.final(next)).status).toBe(200);
    raw.bye(next);
    await second.ended('m.call.hangup');
  });

  it('a phone that never ACKs the 200: when sip.js gives up on the ACK, the call ends on both sides', async () => {
    const timerL = Core.Timers.TIMER_L;
    Core.Timers.TIMER_L = 1500;
    try {
      const from = alice.mark;
      const callId = raw.invite({ to: `sip:${DID}@${DOMAIN}`, fromUser: '+14155550100', ack: false });
      const call = await alice.incoming({ from });
      await call.answer();
      expect((await raw.final(callId)).status).toBe(200);
      // sip.js says BYE to the phone; Matrix hears the call end.
      await waitFor(() => (raw.requests.get(callId) ?? []).some((r) => r.startsWith('BYE ')), 10_000, 'the BYE of the unconfirmed call');
      await call.ended('m.call.hangup');
    } finally {
      Core.Timers.TIMER_L = timerL;
    }
  });
});
