import type { Redis } from 'ioredis';
import type { IntentCaches } from '../matrix/IntentCaches.js';
import type { RuntimeMetrics } from '../metrics/RuntimeMetrics.js';
import { failureKindOf, MatrixApiError, type EventContext, type MatrixEphemeralEvent, type MatrixEvent, type MediaContent } from '../plugin-api/index.js';
import type { RuntimeKeys } from '../store/BridgeKeyspace.js';
import type { BridgeRuntime } from './BridgeRuntime.js';
import { normaliseCallEvent } from './CallEventNormaliser.js';
import { EncryptedRoomNotices } from './EncryptedRoomNotices.js';
import { relationOf } from './EventRelations.js';

const MEDIA_MSGTYPES = new Set(['m.image', 'm.file', 'm.audio', 'm.video']);

/** The running bridges, in config order, with what the host's jobs on them share. */
export interface HostBridges {
  bridges: readonly BridgeRuntime[];
  /** The appservice's bot, shared by every bridge. */
  botUserId: string;
  metrics: RuntimeMetrics;
}

export interface EventRouterDeps extends HostBridges {
  redis: Redis;
  keys: RuntimeKeys;
  caches: IntentCaches;
  /** How long "plugin X handled event E" is remembered, so a retry skips plugins that succeeded. */
  handledTtlSeconds: number;
}

/**
 * Hands each event to every bridge it concerns, in config order:
 * - events sent by a bridge's ghosts, and membership events about them (invites to its ghosts above all);
 * - invites of the shared bot go to every bridge (each decides whether to join through `ctx.bot`);
 * - events of rooms the bridge has links in, or where its ghosts or its bot (joined through that bridge)
 *   are members (RoomInterest, kept in Redis from membership events and the bridge's own joins);
 * - an encrypted room is announced once per bridge (EncryptedRoomNotices), and `m.room.encrypted`
 *   events, which no bridge can read, stop there;
 * - `m.call.*` goes to a CallHandler (v0/v1 normalised) instead of onMatrixEvent; m.image/m.file/m.audio/
 *   m.video with an `mxc://` url goes to an AttachmentHandler with the bytes fetched.
 * A bridge that handled an event is marked so, so when another bridge's failure makes the worker retry the
 * event, only the failed bridge sees it again.
 */
export class EventRouter {
  private readonly encrypted: EncryptedRoomNotices;

  constructor(private readonly deps: EventRouterDeps) {
    this.encrypted = new EncryptedRoomNotices(deps.redis, deps.keys);
  }

  async dispatch(event: MatrixEvent, attempt: number): Promise<void> {
    const { redis, keys, metrics, handledTtlSeconds } = this.deps;
    const targets = await this.route(event);
    await this.trackMembership(event);
    const failures: Array<{ bridge: string; error: unknown }> = [];
    // Markers matter only when several bridges share an event (one's failure must not replay it to the
    // others); a single bridge's retries and replays are the pipeline's ledger's business. Sparing the
    // markers otherwise keeps Redis from holding a key per event.
    const shared = targets.length > 1;
    for (const b of targets) {
      const handledKey = keys.handled(b.name, event.event_id);
      if (shared && attempt > 1 && (await redis.exists(handledKey))) {
        metrics.pluginEvents.inc({ bridge: b.name, outcome: 'skipped_done' });
        continue;
      }
      try {
        if (EncryptedRoomNotices.concernsEncryption(event) && !b.isOwnUser(event.sender)) {
          await this.encrypted.tell(b, event.room_id);
          if (EncryptedRoomNotices.isCiphertext(event)) {
            // Nothing a bridge can carry: the room has been told, the event is done.
            if (shared) await redis.set(handledKey, '1', 'EX', handledTtlSeconds);
            metrics.pluginEvents.inc({ bridge: b.name, outcome: 'encrypted' });
            continue;
          }
        }
        await this.deliver(b, event, attempt);
        if (shared) await redis.set(handledKey, '1', 'EX', handledTtlSeconds);
        metrics.pluginEvents.inc({ bridge: b.name, outcome: 'ok' });
      } catch (error) {
        const kind = failureKindOf(error);
        if (kind === 'ignored') {
          // The bridge does not carry this event: acknowledged like a success, and counted.
          if (shared) await redis.set(handledKey, '1', 'EX', handledTtlSeconds);
          metrics.pluginEvents.inc({ bridge: b.name, outcome: 'ignored' });
          b.logger.debug({ reason: (error as Error).message, room_id: event.room_id, event_id: event.event_id }, 'event ignored by the bridge');
          continue;
        }
        metrics.pluginEvents.inc({ bridge: b.name, outcome: kind === 'permanent' ? 'permanent' : kind === 'retry-later' ? 'retry_later' : 'error' });
        b.logger.warn({ err: error, room_id: event.room_id, event_id: event.event_id, attempt }, 'plugin failed on an event');
        failures.push({ bridge: b.name, error });
      }
    }
    if (failures.length === 1) throw failures[0]!.error;
    if (failures.length > 1) {
      throw new AggregateError(
        failures.map((f) => f.error),
        failures.map((f) => `${f.bridge}: ${f.error instanceof Error ? f.error.message : String(f.error)}`).join('; '),
      );
    }
  }

  /** The bridges an event concerns, in config order (see the class comment). */
  async route(event: MatrixEvent): Promise<BridgeRuntime[]> {
    const member = event.type === 'm.room.member' && typeof event.state_key === 'string' ? event.state_key : null;
    const botInvite = member === this.deps.botUserId && event.content.membership === 'invite';
    const targets: BridgeRuntime[] = [];
    for (const b of this.deps.bridges) {
      if (botInvite || b.ghosts.ownsUserId(event.sender) || (member !== null && b.ghosts.ownsUserId(member)) || (await b.interest.concerns(event.room_id))) {
        targets.push(b);
      }
    }
    return targets;
  }

  async dispatchEphemeral(event: MatrixEphemeralEvent): Promise<void> {
    // Typing and receipts are stale by the time a retry would run: failures are logged, not retried.
    for (const b of this.deps.bridges) {
      const handler = b.loaded.capabilities.ephemeral;
      if (!handler) continue;
      try {
        if (event.room_id !== undefined && !(await b.interest.concerns(event.room_id))) continue;
        await handler.onEphemeralEvent(event);
      } catch (err) {
        b.logger.warn({ err, type: event.type, room_id: event.room_id }, 'plugin failed on an ephemeral event');
      }
    }
  }

  /** Keeps RoomInterest in step with the membership events of the bridges' own users. */
  private async trackMembership(event: MatrixEvent): Promise<void> {
    if (event.type !== 'm.room.member' || typeof event.state_key !== 'string') return;
    const user = event.state_key;
    const membership = event.content.membership;
    const gone = membership === 'leave' || membership === 'ban';
    const present = membership === 'join' || membership === 'invite';
    for (const b of this.deps.bridges) {
      if (user === this.deps.botUserId) {
        // The bot is shared: its leaving ends every bridge's interest through it; its joins are recorded
        // by the bridge that joined (through ctx.bot), not here.
        if (gone) await b.interest.left(user, event.room_id);
      } else if (b.ghosts.ownsUserId(user)) {
        if (gone) await b.interest.left(user, event.room_id);
        else if (present) await b.interest.joined(user, event.room_id);
      }
    }
    // The intents' join cache learns of kicks and bans here instead of at the next failed send.
    if (gone) this.deps.caches.markLeft(user, event.room_id);
  }

  private async deliver(b: BridgeRuntime, event: MatrixEvent, attempt: number): Promise<void> {
    const ctx: EventContext = {
      attempt,
      relation: relationOf(event),
      fromBridge: b.isOwnUser(event.sender),
      logger: b.logger.child({ room_id: event.room_id, event_id: event.event_id }),
    };
    const caps = b.loaded.capabilities;
    if (caps.call && event.type.startsWith('m.call.')) {
      const call = normaliseCallEvent(event);
      if (call) return caps.call.onCallEvent(call, ctx);
    }
    if (caps.attachment && !ctx.fromBridge) {
      const media = await this.fetchAttachment(b, event, ctx);
      if (media) return caps.attachment.onAttachment(event, media, ctx);
    }
    return b.loaded.plugin.onMatrixEvent(event, ctx);
  }

  /** The bytes of a media message, or null when the event is none (or too large: then it goes as an event). */
  private async fetchAttachment(b: BridgeRuntime, event: MatrixEvent, ctx: EventContext): Promise<MediaContent | null> {
    const c = event.content;
    if (event.type !== 'm.room.message' || typeof c.msgtype !== 'string' || !MEDIA_MSGTYPES.has(c.msgtype)) return null;
    if (typeof c.url !== 'string' || !c.url.startsWith('mxc://')) return null;
    let media: MediaContent;
    try {
      media = await b.bot.downloadMedia(c.url);
    } catch (err) {
      if (MatrixApiError.is(err, 'M_TOO_LARGE') || MatrixApiError.is(err, 'M_NOT_FOUND')) {
        ctx.logger.warn({ err: err.message }, 'attachment not fetched; delivering the event without its bytes');
        return null;
      }
      throw err;
    }
    const info = (typeof c.info === 'object' && c.info !== null ? c.info : {}) as Record<string, unknown>;
    return {
      ...media,
      mimetype: typeof info.mimetype === 'string' ? info.mimetype : media.mimetype,
      filename: typeof c.filename === 'string' ? c.filename : typeof c.body === 'string' && c.body.length ? c.body : media.filename,
    };
  }
}
