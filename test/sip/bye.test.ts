// A phone's BYE is answered: the bridge ends the call in Matrix and sends 200 back, so the phone does not
// retransmit its BYE for 32 s (the bridge's session delegate must accept it; sip.js does so only without one).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
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
});
