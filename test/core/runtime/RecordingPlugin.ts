// Test plugins that record what the host hands them, with optional capabilities switched on per test.
import type {
  BridgeContext,
  BridgePlugin,
  EventContext,
  MatrixCallEvent,
  MatrixEphemeralEvent,
  MatrixEvent,
  MediaContent,
  ThirdPartyHandler,
  ThirdPartyLocation,
  ThirdPartyProtocol,
  ThirdPartyUser,
} from '../../../core/plugin-api/index.js';
import { detectCapabilities } from '../../../core/plugin/PluginCapabilities.js';
import type { LoadedPlugin } from '../../../core/plugin/PluginLoader.js';

export interface Delivery {
  kind: 'event' | 'call' | 'attachment' | 'ephemeral';
  eventId?: string;
  type: string;
  fromBridge?: boolean;
  attempt?: number;
  call?: MatrixCallEvent['call'];
  bytes?: string;
  relation?: EventContext['relation'];
}

export class RecordingPlugin implements BridgePlugin {
  readonly deliveries: Delivery[] = [];
  ctx: BridgeContext | null = null;
  /** Event ids to fail on, with how many more times to fail. */
  readonly failures = new Map<string, number>();

  constructor(readonly descriptor: BridgePlugin['descriptor']) {}

  async start(ctx: BridgeContext): Promise<void> {
    this.ctx = ctx;
  }
  async stop(): Promise<void> {
    this.ctx = null;
  }
  async onMatrixEvent(event: MatrixEvent, ctx: EventContext): Promise<void> {
    this.maybeFail(event.event_id);
    this.deliveries.push({ kind: 'event', eventId: event.event_id, type: event.type, fromBridge: ctx.fromBridge, attempt: ctx.attempt, relation: ctx.relation });
  }
  private maybeFail(eventId: string): void {
    const left = this.failures.get(eventId) ?? 0;
    if (left > 0) {
      this.failures.set(eventId, left - 1);
      throw new Error(`failing ${eventId} on purpose`);
    }
  }
  eventIds(kind: Delivery['kind'] = 'event'): string[] {
    return this.deliveries.filter((d) => d.kind === kind).map((d) => d.eventId ?? '');
  }
}

/** A plugin with calls, attachments and ephemeral events. */
export class CapablePlugin extends RecordingPlugin {
  async onCallEvent(event: MatrixCallEvent, ctx: EventContext): Promise<void> {
    this.deliveries.push({ kind: 'call', eventId: event.event_id, type: event.type, fromBridge: ctx.fromBridge, call: event.call });
  }
  async onAttachment(event: MatrixEvent, media: MediaContent, ctx: EventContext): Promise<void> {
    this.deliveries.push({ kind: 'attachment', eventId: event.event_id, type: event.type, fromBridge: ctx.fromBridge, bytes: Buffer.from(media.bytes).toString() });
  }
  async onEphemeralEvent(event: MatrixEphemeralEvent): Promise<void> {
    this.deliveries.push({ kind: 'ephemeral', type: event.type });
  }
  async onUserQuery(userId: string): Promise<boolean> {
    const remote = this.ctx?.ghosts.remoteIdOf(userId);
    if (!remote || !this.ctx) return false;
    await this.ctx.ghosts.intent(remote, { displayName: remote });
    return true;
  }
}

/** A plugin answering third-party lookups itself, saying which protocol id it was asked about. */
export class LookupPlugin extends RecordingPlugin implements ThirdPartyHandler {
  thirdPartyProtocol(protocol: string): ThirdPartyProtocol {
    return { user_fields: [protocol], location_fields: [], icon: '', field_types: {}, instances: [] };
  }
  async lookupThirdPartyUser(fields: Record<string, string>, protocol: string): Promise<ThirdPartyUser[]> {
    return [{ userid: this.ctx!.ghosts.userIdFor(fields.number ?? ''), protocol, fields }];
  }
  async lookupThirdPartyLocation(_fields: Record<string, string>, _protocol: string): Promise<ThirdPartyLocation[]> {
    return [];
  }
}

export function loadedPlugin(name: string, plugin: BridgePlugin, config: Record<string, unknown> = {}): LoadedPlugin {
  return { name, plugin, descriptor: plugin.descriptor, config, source: `test:${name}`, capabilities: detectCapabilities(plugin) };
}

let counter = 0;
export function event(partial: Partial<MatrixEvent> & Pick<MatrixEvent, 'room_id' | 'sender'>): MatrixEvent {
  counter++;
  return {
    event_id: `$t${counter}_${Math.random().toString(36).slice(2, 8)}`,
    type: 'm.room.message',
    content: { msgtype: 'm.text', body: `message ${counter}` },
    origin_server_ts: Date.now(),
    ...partial,
  };
}
