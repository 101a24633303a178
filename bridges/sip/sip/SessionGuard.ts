// sip.js calls into a session from its own timers, where nothing of ours is on the stack to catch a
// throw, and one uncaught throw ends the whole process (the homeserver and the host with it). The known
// case: an answered INVITE whose ACK never comes. After 64*T1 (32 s) sip.js's Invitation.onAckTimeout
// sends BYE and moves the session to Terminated, and throws "Invalid state transition from Terminated to
// Terminated" when the session had already ended meanwhile (the caller's BYE, or ours). This wraps one
// session so that case stays inside its call: ending an ended session is a no-op, the late ACK timeout
// of an ended session sends nothing, and any throw of sip.js's own give-up is logged and the call ended.
import type { Logger } from 'patchbay-matrix/plugin';
import { SessionState, type Session } from 'sip.js';

interface SessionInternals {
  stateTransition(state: SessionState): void;
  onAckTimeout?: () => void;
}

/**
 * Guards `session` (an Invitation or an Inviter). `gaveUpOnAck` runs when sip.js ended an established
 * session because its 200 was never ACKed, so the call can end on the Matrix side too.
 */
export function guardSession(session: Session, log: Logger, gaveUpOnAck: () => void): void {
  const internals = session as unknown as SessionInternals;
  const transition = internals.stateTransition.bind(session);
  internals.stateTransition = (state: SessionState): void => {
    if (state === SessionState.Terminated && session.state === SessionState.Terminated) {
      log.debug('sip.js ended a session that had already ended; ignored');
      return;
    }
    transition(state);
  };
  const onAckTimeout = internals.onAckTimeout?.bind(session);
  if (!onAckTimeout) return;
  internals.onAckTimeout = (): void => {
    if (session.state === SessionState.Terminated) {
      log.info('no ACK came for the 200 of a call that has ended since; nothing to do');
      return;
    }
    log.warn('no ACK came for the 200 within 32 s: sip.js ends the session with a BYE');
    try {
      onAckTimeout();
    } catch (err) {
      log.error({ err }, 'sip.js failed while ending a session whose 200 was never ACKed; the call ends here');
    }
    gaveUpOnAck();
  };
}
