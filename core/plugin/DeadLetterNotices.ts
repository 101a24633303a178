import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { shortReason } from '../outbox/OutboxWorker.js';
import { failureKindOf, type MatrixEvent, type PermanentError } from '../plugin-api/index.js';
import type { BridgeRuntime } from './BridgeRuntime.js';
import type { EventRouter, HostBridges } from './EventRouter.js';

export interface DeadLetterNoticesDeps extends HostBridges {
  router: EventRouter;
  logger: Logger;
}

/**
 * What happens when an event could not be bridged: every bridge it concerned logs it and counts it, and
 * the room is told with a short notice from whoever speaks for one of those bridges there (RoomVoice),
 * once, however often the dead-lettering itself is retried.
 */
export class DeadLetterNotices {
  constructor(private readonly deps: DeadLetterNoticesDeps) {}

  async deadLettered(event: MatrixEvent, error: Error): Promise<void> {
    const { bridges, router, botUserId, metrics, logger } = this.deps;
    let targets: BridgeRuntime[] = [];
    try {
      targets = await router.route(event);
    } catch (err) {
      logger.error({ err }, 'routing a dead-lettered event failed');
    }
    for (const b of targets) {
      metrics.deadLetters.inc({ bridge: b.name, direction: 'to_remote' });
      b.logger.error({ err: error, room_id: event.room_id, event_id: event.event_id, type: event.type }, 'event dead-lettered: it could not be bridged');
    }
    // A notice about the bridge's own notice (or a ghost's echo) could loop: log only.
    if (event.sender === botUserId || bridges.some((b) => b.ghosts.ownsUserId(event.sender))) return;
    // A PermanentError with `notice: false`: recorded and logged, the room is not told.
    if (failureKindOf(error) === 'permanent' && (error as PermanentError).notice === false) return;
    const what = event.type === 'm.room.message' ? 'a message' : `a ${event.type} event`;
    const content = { msgtype: 'm.notice', body: `⚠️ Could not bridge ${what} from ${event.sender} (${event.event_id}): ${shortReason(error)}` };
    const txnId = `pbd_${createHash('sha256').update(event.event_id).digest('base64url').slice(0, 40)}`;
    try {
      for (const b of targets) {
        // Never joins to say it: a room none of the bridge's users is in gets no notice.
        if ((await b.voice.say(event.room_id, 'm.room.message', content, txnId, undefined, false)) !== null) return;
      }
      logger.error({ room_id: event.room_id, event_id: event.event_id }, 'no bridge user in the room could post the dead-letter notice');
    } catch (err) {
      logger.error({ err, room_id: event.room_id, event_id: event.event_id }, 'could not post the dead-letter notice');
    }
  }
}
