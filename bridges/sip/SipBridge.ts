// The SIP/PSTN bridge: Matrix calls (m.call.*, VoIP v0 and v1) <-> SIP dialogs and Matrix texts <-> SIP
// MESSAGE, one portal per (line, number, Matrix user). sip.js speaks SIP over WebSocket to an SBC (the
// managed Kamailio + rtpengine, or the operator's own), which converts the Matrix clients' WebRTC media
// to plain RTP; the bridge carries signalling only and passes SDP through.
import type {
  BridgeContext,
  BridgeDescriptor,
  BridgePlugin,
  CallHandler,
  EventContext,
  MatrixCallEvent,
  MatrixEvent,
  ThirdPartyHandler,
  ThirdPartyLocation,
  ThirdPartyProtocol,
  ThirdPartyUser,
  UserQueryHandler,
} from 'patchbay-matrix/plugin';
import type { Session } from 'sip.js';
import { ADMIN_HELP, runAdminCommand } from './admin/AdminCommands.js';
import { BridgedCall, type CallEnv } from './calls/BridgedCall.js';
import { CallBridge } from './calls/CallBridge.js';
import { CallRecords } from './calls/CallRecords.js';
import { CallRegistry } from './calls/CallRegistry.js';
import { CallSignalling } from './calls/CallSignalling.js';
import { DTMF_EVENT_TYPE, parseDigits } from './calls/Dtmf.js';
import { Lines } from './lines/Lines.js';
import { SipLine, type LineSettings } from './lines/SipLine.js';
import { NumberPlan } from './numbers/NumberPlan.js';
import { partyFromId, partyFromInput } from './numbers/RemoteParty.js';
import { anyGlob } from './policy/Glob.js';
import { InboundRoutes } from './policy/InboundRoutes.js';
import { OutboundPolicy } from './policy/OutboundPolicy.js';
import { SipPortals, type PortalInfo } from './portals/SipPortals.js';
import { ManagedSbc } from './sbc/ManagedSbc.js';
import { finalResponse, byeOf, cancelOf } from './sip/CleanupMessages.js';
import { PassthroughSdh, type SdpPeer } from './sip/PassthroughSdh.js';
import { speedUpSipGrammar } from './sip/SipGrammarSpeedup.js';
import { ensureWebSocketGlobal } from './sip/WebSocketGlobal.js';
import { configuredLines, sipConfigSchema, type SipPluginConfig } from './SipConfig.js';
import { SipMetrics } from './SipMetrics.js';
import { EXTRA_PROTOCOLS, lookupPhoneUser, phoneProtocol } from './ThirdPartyPhone.js';
import { TextBridge } from './texts/TextBridge.js';

/** The remote id of the bridge's control ghost (@sip_bridge:server): invite it for an admin room. */
export const CONTROL_REMOTE_ID = 'bridge';
const ADMIN_NETWORK = '_admin';

export const sipDescriptor: BridgeDescriptor = {
  protocol: 'sip',
  networkName: 'SIP',
  ghostPrefix: 'sip_',
  aliasPrefix: 'sip_',
  configSchema: sipConfigSchema,
  thirdPartyProtocols: EXTRA_PROTOCOLS,
};

/** What runs while the bridge is started. */
interface Running {
  ctx: BridgeContext<SipPluginConfig>;
  plan: NumberPlan;
  sbc: ManagedSbc | null;
  lines: Lines;
  registry: CallRegistry<BridgedCall>;
  records: CallRecords;
  portals: SipPortals;
  routes: InboundRoutes;
  calls: CallBridge;
  texts: TextBridge;
  env: CallEnv;
  /** SIP work waiting for a line to be ready again. */
  pending: Map<string, Array<() => Promise<void>>>;
}

export class SipBridge implements BridgePlugin<SipPluginConfig>, CallHandler, ThirdPartyHandler, UserQueryHandler {
  readonly descriptor = sipDescriptor;
  private state: Running | null = null;

  private get run(): Running {
    if (!this.state) throw new Error('the SIP bridge is not started');
    return this.state;
  }

  /** The managed SBC, when the bridge runs one (tests kill its Kamailio). */
  get sbc(): ManagedSbc | null {
    return this.state?.sbc ?? null;
  }

  /** A line by id (for tests and tools). */
  line(id: string): SipLine | undefined {
    return this.state?.lines.get(id);
  }

  /** The calls in progress (for tests and the benchmark). */
  get activeCalls(): number {
    return this.state?.registry.size ?? 0;
  }

  // ---- lifecycle ------------------------------------------------------------------------------------

  async start(ctx: BridgeContext<SipPluginConfig>): Promise<void> {
    const config = ctx.config;
    ensureWebSocketGlobal();
    const grammar = speedUpSipGrammar();
    if (!grammar.installed) ctx.logger.warn({ reason: grammar.reason }, 'sip.js keeps its own (slower) SIP parser');
    const plan = new NumberPlan(config.default_region);
    const configured = configuredLines(config, process.env);
    const registry = new CallRegistry<BridgedCall>();
    const records = new CallRecords(ctx.store, config.calls.max_call_hours * 3600 + 3600, ctx.logger);
    const routes = new InboundRoutes(ctx.store, plan);
    for (const l of configured) l.routes = Object.fromEntries(Object.entries(l.routes).map(([n, users]) => [n === '*' ? n : routes.canonical(n), users]));
    const portals = new SipPortals(ctx as BridgeContext<unknown>, plan);
    const policy = new OutboundPolicy(plan, {
      allow: config.outbound.allow ?? [{ users: [`@*:${ctx.serverName}`], numbers: ['national', 'sip'] }],
      deny: config.outbound.deny,
      callsPerMinute: config.outbound.calls_per_minute,
      maxConcurrentCalls: config.outbound.max_concurrent_calls,
    });
    const pending = new Map<string, Array<() => Promise<void>>>();
    const linesRef: { lines: Lines | null } = { lines: null };
    const metrics = new SipMetrics(ctx.metrics, {
      activeCalls: () => registry.size,
      lines: () => (linesRef.lines?.all() ?? []).map((l) => ({ id: l.id, ready: l.isReady })),
    });
    const env: CallEnv = {
      plan,
      settings: {
        ringTimeoutMs: config.calls.ring_timeout_s * 1000,
        candidateWaitMs: config.calls.candidate_wait_ms,
        negotiateTimeoutMs: config.calls.negotiate_timeout_s * 1000,
        maxCallMs: config.calls.max_call_hours * 3_600_000,
        maxSdpBytes: config.limits.max_sdp_bytes,
      },
      logger: ctx.logger,
      ghost: (party) => portals.ghost(party),
      notice: (roomId, key, text) => {
        ctx.outbox
          .enqueue({ remoteId: key, roomId, senderRemoteId: null, type: 'm.room.message', content: { msgtype: 'm.notice', body: text } })
          .catch((err: unknown) => ctx.logger.warn({ err, room_id: roomId }, 'could not post a call notice'));
      },
      registry,
      records,
      metrics,
      policy,
      afterReconnect: (lineId, work) => this.whenLineReady(lineId, work),
    };
    const fromUri = async (line: SipLine, userId: string): Promise<string | null> => {
      if (line.settings.owner !== null) return null;
      const [number] = await routes.numbersOf(line.settings, userId);
      const parsed = number === undefined ? null : plan.parse(number);
      return parsed ? `sip:${plan.format(parsed, line.settings.numberFormat)}@${line.domain}` : null;
    };
    const blocked = anyGlob(config.inbound.block);
    const calls = new CallBridge({ env, plan, portals, routes, blocked, metrics, store: ctx.store, line: (id) => linesRef.lines?.get(id), fromUri, remoteIdOf: (u) => ctx.ghosts.remoteIdOf(u) });
    const texts = new TextBridge({
      ctx: ctx as BridgeContext<unknown>, plan, portals, routes, policy, blocked, metrics, enabled: config.texts.enabled, maxPartBytes: config.texts.max_part_bytes,
      line: (id) => linesRef.lines?.get(id), fromUri,
    });

    let sbc: ManagedSbc | null = null;
    const externalUrl = config.external_sbc.url;
    if (config.sbc === 'external') {
      if (externalUrl === null) throw new Error('bridges.sip.external_sbc.url is not set, but bridges.sip.sbc is external. Fix: give the ws:// or wss:// URL of your SBC, or set sbc: managed');
    } else {
      const domain = config.managed_sbc.domain ?? config.managed_sbc.sip_address;
      const local = configured.filter((l) => hostOf(l.aor) === domain);
      sbc = new ManagedSbc({
        dir: `${ctx.dataDir}/sbc`,
        sipAddress: config.managed_sbc.sip_address,
        sipPort: config.managed_sbc.sip_port,
        domain,
        mediaAddress: config.managed_sbc.media_address,
        mediaAdvertise: config.managed_sbc.media_advertise,
        rtpPortMin: config.managed_sbc.rtp_port_min,
        rtpPortMax: config.managed_sbc.rtp_port_max,
        wsPort: config.managed_sbc.ws_port,
        kamailio: config.managed_sbc.kamailio,
        rtpengine: config.managed_sbc.rtpengine,
        gatewayAor: local[0]?.aor ?? null,
        bridgeUsers: local.map((l) => userOf(l.aor)).filter((u): u is string => u !== null),
        defines: process.env.PATCHBAY_SIP_SBC_DEFINES?.split(',').filter((d) => /^[A-Z_]+$/.test(d)),
        logger: ctx.logger.child({ component: 'sbc' }),
        status: ctx.status,
      });
    }
    // The managed SBC's WebSocket port is chosen when it starts, before the lines are made.
    const wsUrl = (): string => sbc?.wsUrl ?? externalUrl ?? '';
    const makeLine = (settings: LineSettings): SipLine =>
      new SipLine(settings, {
        wsUrl: wsUrl(),
        status: ctx.status,
        logger: ctx.logger.child({ line: settings.id }),
        limits: { maxMessageBytes: config.limits.max_message_bytes, maxHeaderBytes: config.limits.max_header_bytes, maxSdpBytes: config.limits.max_sdp_bytes },
        sdh: (session) => new PassthroughSdh(registry.peerFor(session) ?? refusingPeer(session)),
        onInvite: (line, invitation) => void calls.fromSip(line, invitation),
        onMessage: (line, message) => void texts.fromSip(line, message).catch((err: unknown) => ctx.logger.warn({ err }, 'an inbound text failed')),
        onConnectionLost: (line) => {
          for (const call of registry.onLine(line.id)) call.connectionLost();
        },
        onReady: (line) => this.lineReady(line),
        refused: (reason) => metrics.refused(reason),
      });
    const lines = new Lines(configured, config.outbound.line, makeLine, ctx.store, ctx.logger);
    linesRef.lines = lines;
    this.state = { ctx, plan, sbc, lines, registry, records, portals, routes, calls, texts, env, pending };
    // A process that only answers the homeserver's queries keeps off the SIP network.
    if (ctx.connectRemote === false) return;
    const left = await records.all();
    if (sbc) await sbc.start();
    await lines.start();
    await this.endLeftoverCalls(left);
    if (lines.all().length === 0) ctx.logger.warn('the SIP bridge is enabled but bridges.sip.lines is empty: nothing to bridge');
    ctx.logger.info({ lines: lines.all().map((l) => l.id), sbc: config.sbc, ws: wsUrl() }, 'SIP bridge started');
  }

  async stop(): Promise<void> {
    const run = this.state;
    if (!run) return;
    for (const call of run.registry.all()) call.shutDown('the bridge is stopping');
    await run.records.settled();
    // Let the hangups and BYEs leave before the connections close.
    await new Promise((r) => setTimeout(r, run.registry.size > 0 ? 200 : 0));
    await run.lines.stop();
    await run.sbc?.stop();
    this.state = null;
  }

  // ---- Matrix -> SIP --------------------------------------------------------------------------------

  async onCallEvent(event: MatrixCallEvent, ectx: EventContext): Promise<void> {
    if (ectx.fromBridge) return;
    await this.run.calls.fromMatrix(event);
  }

  async onMatrixEvent(event: MatrixEvent, ectx: EventContext): Promise<void> {
    if (ectx.fromBridge) return;
    const run = this.run;
    if (event.type === 'm.room.member') return this.onMembership(event);
    const admin = await this.adminOwner(event.room_id);
    if (admin !== null) {
      if (event.type === 'm.room.message' && event.sender === admin && typeof event.content.body === 'string' && event.content.body.trim().startsWith('!sip')) {
        await this.onAdminCommand(event, admin);
      }
      return;
    }
    const portal = await run.portals.byRoom(event.room_id);
    if (!portal) return;
    if (event.type === 'm.room.encryption') return this.onEncrypted(portal);
    if (event.type === DTMF_EVENT_TYPE) return this.onDtmfEvent(event, portal);
    if (event.type !== 'm.room.message') return;
    const body = typeof event.content.body === 'string' ? event.content.body.trim() : '';
    if (event.sender === portal.receiver && /^!(dtmf|transfer)\b/i.test(body)) return this.onPortalCommand(event, portal, body);
    await run.texts.fromMatrix(event, portal);
  }

  private async onMembership(event: MatrixEvent): Promise<void> {
    const run = this.run;
    const { ctx } = run;
    if (event.state_key === undefined) return;
    if (event.content.membership === 'leave' || event.content.membership === 'ban') return this.onLeft(event.room_id, event.state_key);
    if (event.content.membership !== 'invite') return;
    const remote = ctx.ghosts.remoteIdOf(event.state_key);
    if (remote === null) return;
    const ghost = await ctx.ghosts.intent(remote, remote === CONTROL_REMOTE_ID ? { displayName: 'SIP bridge' } : undefined);
    if (remote === CONTROL_REMOTE_ID) {
      await ghost.join(event.room_id);
      await ctx.links.link(event.room_id, { network: ADMIN_NETWORK, location: event.sender });
      await ctx.notice(event.room_id, ADMIN_HELP);
      return;
    }
    const party = partyFromId(run.plan, remote);
    if (!party) return;
    await ghost.join(event.room_id);
    const line = run.lines.forUser(event.sender);
    if (!line) {
      await ctx.notice(event.room_id, 'The SIP bridge has no line to reach this number from (bridges.sip.lines).');
      return;
    }
    await run.portals.adopt(event.room_id, line.id, party, event.sender);
  }

  /**
   * A user left their portal (or admin room): it is no longer where that number reaches them. The link
   * goes, and the party's ghost leaves, so the next call or text opens a new room.
   */
  private async onLeft(roomId: string, userId: string): Promise<void> {
    const { ctx, portals } = this.run;
    const portal = await portals.byRoom(roomId);
    if (portal && portal.receiver === userId) {
      await ctx.links.unlink(roomId, { network: portal.lineId, location: portal.party.id, receiver: userId });
      await (await portals.ghost(portal.party)).leave(roomId).catch(() => undefined);
      return;
    }
    if ((await this.adminOwner(roomId)) === userId) {
      await ctx.links.unlink(roomId, { network: ADMIN_NETWORK, location: userId });
      await (await ctx.ghosts.intent(CONTROL_REMOTE_ID)).leave(roomId).catch(() => undefined);
    }
  }

  private async adminOwner(roomId: string): Promise<string | null> {
    const remotes = await this.run.ctx.links.remotesFor(roomId);
    return remotes.find((r) => r.network === ADMIN_NETWORK)?.location ?? null;
  }

  private async onAdminCommand(event: MatrixEvent, userId: string): Promise<void> {
    const run = this.run;
    const { ctx } = run;
    const config = ctx.config;
    const reply = await runAdminCommand(String(event.content.body), {
      userId,
      plan: run.plan,
      lines: run.lines,
      routes: run.routes,
      isAdmin: config.admins.includes(userId),
      mayAddAccount: anyGlob(config.accounts.users ?? [`@*:${ctx.serverName}`]),
      accountsEnabled: config.accounts.enabled,
      status: () => ctx.status.all(),
      openPortal: async (party) => {
        const line = run.lines.forUser(userId);
        if (!line) throw new Error('no SIP line');
        return run.portals.ensure(line.id, party, userId);
      },
      forgetStatus: (lineId) => ctx.status.remove(lineId),
    });
    if (reply.redact) {
      // The message holds a password: remove it. The room's creator (the user) may have to do it instead.
      const redacted = await ctx.ghosts
        .intent(CONTROL_REMOTE_ID)
        .then((g) => g.redact(event.room_id, event.event_id, 'contained a password'))
        .then(() => true, () => false);
      if (!redacted) reply.text += '\nDelete your message with the password: the bridge may not remove it in this room.';
    }
    await ctx.outbox.enqueue({ remoteId: `admin:${event.event_id}`, roomId: event.room_id, senderRemoteId: CONTROL_REMOTE_ID, type: 'm.room.message', content: { msgtype: 'm.notice', body: reply.text } });
  }

  private async onPortalCommand(event: MatrixEvent, portal: PortalInfo, body: string): Promise<void> {
    const run = this.run;
    const [command = '', ...args] = body.split(/\s+/);
    const call = this.callIn(portal);
    let text: string;
    if (!call) text = 'No call is in progress in this room.';
    else if (command.toLowerCase() === '!dtmf') {
      const digits = parseDigits(args.join(''));
      text = digits === null ? 'Usage: !dtmf <digits 0-9 * # A-D>' : await call.sendDtmf(digits).then(() => `🔢 Sent ${digits.split('').join(' ')}`, (err: Error) => `🔢 Not sent: ${err.message}`);
    } else {
      const target = args[0] === undefined ? null : partyFromInput(run.plan, args.join(''));
      text = target ? await run.calls.transferTo(call, target) : 'Usage: !transfer <number or sip:address>';
    }
    await run.ctx.outbox.enqueue({
      remoteId: `command:${event.event_id}`,
      roomId: event.room_id,
      senderRemoteId: null,
      type: 'm.room.message',
      content: { msgtype: 'm.notice', body: text, 'm.relates_to': { 'm.in_reply_to': { event_id: event.event_id } } },
    });
  }

  private async onDtmfEvent(event: MatrixEvent, portal: PortalInfo): Promise<void> {
    const call = this.callIn(portal);
    const digits = typeof event.content.digits === 'string' ? parseDigits(event.content.digits) : null;
    if (!call || digits === null || event.sender !== portal.receiver) return;
    const ms = typeof event.content.duration_ms === 'number' ? Math.min(Math.max(Math.round(event.content.duration_ms), 40), 2000) : 160;
    await call.sendDtmf(digits, ms).catch((err: Error) => this.run.env.notice(event.room_id, `dtmf:${event.event_id}`, `🔢 Not sent: ${err.message}`));
  }

  private callIn(portal: PortalInfo): BridgedCall | undefined {
    return this.run.registry.all().find((c) => c.user === portal.receiver && c.legs.some((l) => l.roomId === portal.roomId && l.state === 'answered'));
  }

  /** The host has told the room its messages no longer cross; the bridge adds what that means for calls. */
  private async onEncrypted(portal: PortalInfo): Promise<void> {
    const run = this.run;
    if (!(await run.portals.markEncrypted(portal.roomId))) return;
    await run.ctx.notice(
      portal.roomId,
      `📞 Calls with ${portal.party.displayName} cannot ring in an encrypted room either. ` +
        `Open a new room with "!sip call ${portal.party.id}" in your SIP admin room (invite @${this.descriptor.ghostPrefix}${CONTROL_REMOTE_ID}:${run.ctx.serverName}).`,
    );
  }

  // ---- SIP lines ------------------------------------------------------------------------------------

  private lineReady(line: SipLine): void {
    const work = this.state?.pending.get(line.id) ?? [];
    this.state?.pending.delete(line.id);
    for (const w of work) w().catch((err: unknown) => this.state?.ctx.logger.debug({ err, line: line.id }, 'clean-up after reconnect failed'));
  }

  private whenLineReady(lineId: string, work: () => Promise<void>): void {
    const run = this.state;
    if (!run) return;
    const line = run.lines.get(lineId);
    if (line?.isReady) {
      work().catch(() => undefined);
      return;
    }
    run.pending.set(lineId, [...(run.pending.get(lineId) ?? []), work]);
  }

  /** Calls a previous process left (it crashed or was killed): both sides hear they are over. */
  private async endLeftoverCalls(records: Awaited<ReturnType<CallRecords['all']>>): Promise<void> {
    const run = this.run;
    for (const record of records) {
      const party = partyFromId(run.plan, record.partyId) ?? { id: record.partyId, number: null, displayName: record.partyName };
      const signalling = new CallSignalling(() => run.portals.ghost(party));
      for (const leg of record.legs) {
        await signalling.hangup({ ...leg, peerPartyId: null, state: 'ended' }, 'unknown_error').catch(() => undefined);
        run.env.notice(leg.roomId, `call:${record.id}:${leg.callId}:ended`, `📞 The call with ${record.partyName} ended: the bridge restarted.`);
      }
      const sip = record.sip;
      if (sip) {
        this.whenLineReady(record.lineId, async () => {
          const line = run.lines.get(record.lineId);
          if (!line) return;
          const raw =
            sip.kind === 'inbound' ? finalResponse(sip, 480, 'Temporarily Unavailable') : sip.kind === 'outbound' ? cancelOf(sip) : byeOf(sip, line.ua.configuration.viaHost);
          await line.sendRaw(raw);
        });
      }
      await run.records.delete(record.id);
      run.ctx.logger.info({ call: record.id, line: record.lineId }, 'ended a call the previous run left');
    }
  }

  // ---- lookups --------------------------------------------------------------------------------------

  thirdPartyProtocol(protocol: string): ThirdPartyProtocol {
    return phoneProtocol(protocol, this.run.plan.region);
  }

  lookupThirdPartyUser(fields: Record<string, string>, protocol: string): Promise<ThirdPartyUser[]> {
    const run = this.run;
    return lookupPhoneUser(
      { plan: run.plan, remoteIdOf: (u) => run.ctx.ghosts.remoteIdOf(u), ghostOf: async (party) => (await run.portals.ghost(party)).userId },
      fields,
      protocol,
    );
  }

  async lookupThirdPartyLocation(): Promise<ThirdPartyLocation[]> {
    return [];
  }

  async onUserQuery(userId: string): Promise<boolean> {
    const run = this.run;
    const remote = run.ctx.ghosts.remoteIdOf(userId);
    if (remote === null) return false;
    if (remote === CONTROL_REMOTE_ID) {
      await run.ctx.ghosts.intent(remote, { displayName: 'SIP bridge' });
      return true;
    }
    const party = partyFromId(run.plan, remote);
    if (!party) return false;
    await run.portals.ghost(party);
    return true;
  }
}

function hostOf(aor: string): string {
  return /^sips?:[^@]*@([^;>?]+)/.exec(aor)?.[1] ?? '';
}

function userOf(aor: string): string | null {
  return /^sips?:([^@]+)@/.exec(aor)?.[1] ?? null;
}

/** For a session no call claims (it should not happen): every SDP exchange fails, so sip.js refuses it. */
function refusingPeer(session: Session): SdpPeer {
  const fail = async (): Promise<never> => {
    throw new Error(`no call owns session ${session.id}`);
  };
  return { localOffer: fail, localAnswer: fail, remoteOffer: fail, remoteAnswer: fail };
}
