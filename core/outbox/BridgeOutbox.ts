import type { GhostDirectory, OutboundMessage, Outbox } from '../plugin-api/index.js';
import { outboxTxnId, type OutboxJobData } from './OutboxJob.js';
import type { OutboxQueues } from './OutboxQueues.js';

/** Thrown by `enqueue` for a message that can never be delivered (caught before it is queued). */
export class OutboundMessageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OutboundMessageError';
  }
}

/** One bridge's view of the shared outbox: its ghosts, its namespace, its deterministic txnIds. */
export class BridgeOutbox implements Outbox {
  constructor(
    private readonly bridge: string,
    private readonly ghosts: GhostDirectory,
    private readonly queues: OutboxQueues,
  ) {}

  async enqueue(message: OutboundMessage): Promise<void> {
    await this.queues.add(this.jobOf(message));
  }

  async send(message: OutboundMessage): Promise<string> {
    const job = this.jobOf(message);
    await this.queues.add(job);
    return this.queues.waitForEventId(job.txnId);
  }

  private jobOf(message: OutboundMessage): OutboxJobData {
    if (typeof message.remoteId !== 'string' || message.remoteId.length === 0) {
      throw new OutboundMessageError('An outbound message needs a non-empty remoteId (the stable id of the remote message)');
    }
    if (typeof message.roomId !== 'string' || !message.roomId.startsWith('!')) {
      throw new OutboundMessageError(`roomId must be a room id (!...), got ${JSON.stringify(message.roomId)}`);
    }
    if (typeof message.type !== 'string' || message.type.length === 0) throw new OutboundMessageError('An outbound message needs an event type');
    if (typeof message.content !== 'object' || message.content === null || Array.isArray(message.content)) {
      throw new OutboundMessageError('An outbound message needs a content object');
    }
    if (message.timestamp !== undefined && !(Number.isInteger(message.timestamp) && message.timestamp > 0)) {
      throw new OutboundMessageError(`timestamp must be a positive integer (ms since the epoch), got ${String(message.timestamp)}`);
    }
    return {
      bridge: this.bridge,
      roomId: message.roomId,
      remoteId: message.remoteId,
      txnId: outboxTxnId(this.bridge, message.roomId, message.remoteId),
      senderUserId: message.senderRemoteId === null ? null : this.ghosts.userIdFor(message.senderRemoteId),
      ...(message.senderProfile ? { senderProfile: message.senderProfile } : {}),
      type: message.type,
      content: message.content,
      ...(message.timestamp !== undefined ? { timestamp: message.timestamp } : {}),
      ...(message.mapAs ? { mapAs: message.mapAs } : {}),
    };
  }
}
