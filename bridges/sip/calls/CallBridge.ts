// Where calls start: an INVITE from a line (checked, routed to the users who ring for the called
// number, each in their portal) and an m.call.invite in a portal (checked against the outbound rules and
// limits, dialled on the user's line). Every later m.call.* event goes to the call it belongs to.
import type { MatrixCallEvent, PluginStore } from 'patchbay-matrix/plugin';
import type { Invitation } from 'sip.js';
import type { SipLine } from '../lines/SipLine.js';
import type { NumberPlan } from '../numbers/NumberPlan.js';
import { dialUri, partyFromId, partyFromSip, type RemoteParty } from '../numbers/RemoteParty.js';
import type { Glob } from '../policy/Glob.js';
import type { InboundRoutes } from '../policy/InboundRoutes.js';
import type { PortalInfo, SipPortals } from '../portals/SipPortals.js';
import type { SipMetrics } from '../SipMetrics.js';
import type { BridgedCall, CallEnv } from './BridgedCall.js';
import { CallSignalling, bridgePartyId, type CallLeg } from './CallSignalling.js';
import { InboundCall, type RingTarget } from './InboundCall.js';
import { OutboundCall } from './OutboundCall.js';
import { sdpProblem } from './Sdp.js';

export interface CallBridgeDeps {
  env: CallEnv;
  plan: NumberPlan;
  portals: SipPortals;
  routes: InboundRoutes;
  blocked: Glob;
  metrics: SipMetrics;
  store: PluginStore;
  line(id: string): SipLine | undefined;
  fromUri(line: SipLine, userId: string): Promise<string | null>;
  /** The remote id behind a Matrix user id when it is one of the bridge's ghosts. */
  remoteIdOf(userId: string): string | null;
}

const SEEN_TTL_SECONDS = 86400;

export class CallBridge {
  constructor(private readonly deps: CallBridgeDeps) {}

  // ---- SIP -> Matrix ---------------------------------------------------------------------------------

  /** An INVITE on a line. Never throws: whatever goes wrong is answered with a SIP error. */
  async fromSip(line: SipLine, invitation: Invitation): Promise<void> {
    const { env, metrics } = this.deps;
    const req = invitation.request;
    const log = env.logger.child({ line: line.id, sip_call_id: req.callId });
    const refuse = (statusCode: number, reasonPhrase: string, reason?: Parameters<SipMetrics['refused']>[0]): void => {
      if (reason) metrics.refused(reason);
      log.info({ status: statusCode }, `call refused: ${reasonPhrase}`);
      invitation.reject({ statusCode, reasonPhrase }).catch(() => undefined);
    };
    try {
      const from = invitation.remoteIdentity;
      const caller = partyFromSip(this.deps.plan, from.uri.user, from.uri.host + (from.uri.port ? `:${from.uri.port}` : ''), from.displayName);
      if (!caller) return refuse(400, 'Unreadable From', 'malformed');
      if (this.deps.blocked(caller.id)) return refuse(403, 'Forbidden', 'blocked');
      const offer = invitation.body;
      if (!offer) return refuse(488, 'Offer Required', 'bad_sdp');
      const problem = sdpProblem(offer, env.settings.maxSdpBytes);
      if (problem) return refuse(488, 'Not Acceptable Here', 'bad_sdp');
      const users = await this.deps.routes.usersFor(line.settings, req.to.uri.user ?? null);
      if (users.length === 0) return refuse(404, 'Not Found', 'no_route');
      const targets: RingTarget[] = [];
      for (const userId of users) {
        const roomId = await this.deps.portals.ensure(line.id, caller, userId);
        if (await this.deps.portals.isEncrypted(roomId)) {
          metrics.refused('encrypted');
          env.notice(roomId, `encrypted-call:${req.callId}`, `📞 Missed call from ${caller.displayName}: this room is encrypted, so the bridge cannot ring you here. Open an unencrypted room with !sip call ${caller.id} in your SIP admin room.`);
          continue;
        }
        targets.push({ userId, roomId });
      }
      if (targets.length === 0) return refuse(480, 'Temporarily Unavailable');
      const call = new InboundCall(line, caller, env, invitation, offer);
      await call.ring(targets);
      log.info({ call: call.id, users: targets.map((t) => t.userId) }, 'ringing Matrix users');
    } catch (err) {
      log.error({ err }, 'an inbound call could not be set up');
      refuse(500, 'Server Internal Error');
    }
  }

  // ---- Matrix -> SIP ---------------------------------------------------------------------------------

  /** A call event in a room; nothing in an encrypted room (the room was told why). */
  async fromMatrix(event: MatrixCallEvent): Promise<void> {
    const { registry } = this.deps.env;
    const call = registry.callFor(event.room_id, event.call.callId);
    if (call) {
      const leg = call.legs.find((l) => l.roomId === event.room_id && l.callId === event.call.callId);
      if (leg && !(await this.deps.portals.isEncrypted(event.room_id))) await call.onMatrixCallEvent(event, leg);
      return;
    }
    if (event.call.kind === 'replaces') return (await this.deps.portals.isEncrypted(event.room_id)) ? undefined : this.transfer(event);
    if (event.call.kind !== 'invite' || registry.hasEnded(event.room_id, event.call.callId)) return;
    await this.matrixInvite(event);
  }

  private async matrixInvite(event: MatrixCallEvent): Promise<void> {
    const { env, metrics, portals } = this.deps;
    // Every lookup before the INVITE leaves is on the caller's wait: the independent ones go together.
    const [portal, encrypted] = await Promise.all([portals.byRoom(event.room_id), portals.isEncrypted(event.room_id)]);
    if (!portal || encrypted) return;
    // Calls to someone else in the room, expired invites, and invites seen before a restart are not ours.
    const ghost = this.deps.remoteIdOf(event.call.invitee ?? '');
    if (event.call.invitee !== undefined && ghost !== portal.party.id) return;
    if (event.origin_server_ts + (event.call.lifetimeMs ?? 60_000) < Date.now()) return;
    const userId = event.sender;
    const line = this.deps.line(portal.lineId);
    const [first, fromUri] = await Promise.all([
      this.deps.store.setIfAbsent(`seen-invite/${event.room_id}/${event.call.callId}`, '1', SEEN_TTL_SECONDS),
      line ? this.deps.fromUri(line, userId) : null,
    ]);
    if (!first) return;
    if (this.glareLost(event, portal)) return;
    const refuse = (text: string, reason: Parameters<SipMetrics['refused']>[0]): Promise<void> => {
      metrics.refused(reason);
      env.metrics.ended('outbound', 'refused');
      return this.refuseInvite(event, portal, text);
    };
    if (userId !== portal.receiver) return refuse(`📞 Only ${portal.receiver} can call ${portal.party.displayName} from this room.`, 'policy');
    const verdict = env.policy.check(userId, portal.party, line?.settings.owner === userId);
    if (!verdict.ok) return refuse(`📞 The call to ${portal.party.displayName} was not placed: ${verdict.reason}.`, 'policy');
    const admitted = env.policy.admitCall(userId, env.registry.countFor(userId));
    if (!admitted.ok) return refuse(`📞 The call to ${portal.party.displayName} was not placed: ${admitted.reason}.`, 'rate_limit');
    if (!line?.isReady) return refuse(`📞 The call to ${portal.party.displayName} was not placed: the SIP line ${portal.lineId} is not connected.`, 'line_down');
    const offer = event.call.description?.sdp;
    const problem = offer === undefined ? 'the invite has no offer' : sdpProblem(offer, env.settings.maxSdpBytes);
    if (problem) return refuse(`📞 The call to ${portal.party.displayName} was not placed: ${problem}.`, 'bad_sdp');
    const call = new OutboundCall(line, portal.party, env, {
      event,
      targetUri: dialUri(this.deps.plan, portal.party, line.domain, line.settings.numberFormat),
      fromUri,
      fromDisplayName: null,
    });
    call.start();
    env.logger.info({ call: call.id, user: userId, party: portal.party.id, line: line.id }, 'calling out');
  }

  /**
   * A Matrix user calls the party while the party's call to them rings in the same room. MSC2746: the
   * lower call id wins. The bridge's ids sort first, so normally the phone's call stays and the client
   * answers it; should the client's id be lower, the phone's call gives way.
   */
  private glareLost(event: MatrixCallEvent, portal: PortalInfo): boolean {
    for (const call of this.deps.env.registry.all()) {
      if (!(call instanceof InboundCall)) continue;
      const leg = call.legs.find((l) => l.roomId === portal.roomId && l.userId === event.sender && l.state === 'ringing');
      if (!leg) continue;
      if (leg.callId < event.call.callId) return true;
      void call.onMatrixCallEvent({ ...event, call: { ...event.call, kind: 'hangup', reason: 'user_busy' } }, leg);
    }
    return false;
  }

  private async refuseInvite(event: MatrixCallEvent, portal: PortalInfo, text: string): Promise<void> {
    const leg: CallLeg = { userId: event.sender, roomId: event.room_id, callId: event.call.callId, partyId: bridgePartyId(), version: event.call.version, peerPartyId: event.call.partyId, state: 'ended' };
    const signalling = new CallSignalling(() => this.deps.portals.ghost(portal.party));
    await signalling.reject(leg, 'user_hangup').catch(() => undefined);
    this.deps.env.notice(event.room_id, `refused:${event.call.callId}`, text);
  }

  /** MSC2747 `m.call.replaces` naming a party's ghost: a blind transfer of the call in that room. */
  private async transfer(event: MatrixCallEvent): Promise<void> {
    const targetUser = (event.content.target_user as { id?: unknown } | undefined)?.id;
    const remote = typeof targetUser === 'string' ? this.deps.remoteIdOf(targetUser) : null;
    const target = remote ? partyFromId(this.deps.plan, remote) : null;
    const call = this.deps.env.registry.all().find((c) => c.user === event.sender && c.legs.some((l) => l.roomId === event.room_id && l.state === 'answered'));
    if (!call || !target) return;
    this.deps.env.notice(event.room_id, `transfer:${event.event_id}`, await this.transferTo(call, target));
  }

  /** A blind transfer of `call` to `target`; resolves with what to tell the user. */
  async transferTo(call: BridgedCall, target: RemoteParty): Promise<string> {
    const userId = call.user;
    if (userId === null) return 'No call is in progress.';
    const verdict = this.deps.env.policy.check(userId, target, call.line.settings.owner === userId);
    if (!verdict.ok) return `📞 Not transferred: ${verdict.reason}.`;
    return call.transfer(target, dialUri(this.deps.plan, target, call.line.domain, call.line.settings.numberFormat));
  }
}
