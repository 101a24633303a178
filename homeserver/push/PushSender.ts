// Delivers users' notifications to their HTTP pushers' gateways. It runs after the event's transaction
// has committed and its sender has been answered: wake() only schedules work (setImmediate), so a slow
// or dead gateway never holds up the send path. Each pusher walks the user's recorded notifications
// from its last_pos in order, one request per notification; a failure retries that notification with
// capped exponential backoff, and after failing for `giveUpAfterMs` the notification is skipped (a
// notification a day late helps no one) and the pusher goes on. A pushkey the gateway rejects is
// deleted, as the spec asks.
import type { Logger } from 'pino';
import type { Counter } from 'prom-client';
import { RetryBackoff } from '../delivery/RetryBackoff.js';
import type { ReceiptStore } from '../ephemeral/ReceiptStore.js';
import type { EventStore } from '../events/EventStore.js';
import type { StoredEvent } from '../events/StoredEvent.js';
import type { PushActionRow, PushActionStore } from './PushActionStore.js';
import type { PushGatewayClient } from './PushGatewayClient.js';
import { pusherKeyString, type Pusher, type PusherKey, type PusherStore } from './PusherStore.js';
import type { UnreadCounter } from './UnreadCounter.js';

export interface PushSenderDeps {
  pushers: PusherStore;
  actions: PushActionStore;
  events: EventStore;
  receipts: ReceiptStore;
  unread: UnreadCounter;
  gateway: PushGatewayClient;
  logger: Logger;
  retry: { initialMs: number; maxMs: number; giveUpAfterMs: number };
  /** Notifications posted, by outcome (sent, failed, rejected, skipped). */
  outcomes: Counter<'outcome'>;
}

interface PusherRun {
  running: boolean;
  /** More work arrived while running: go round again. */
  again: boolean;
  timer: NodeJS.Timeout | null;
  backoff: RetryBackoff;
}

const BATCH = 20;

export class PushSender {
  private readonly runs = new Map<string, PusherRun>();
  private readonly inFlight = new Set<Promise<void>>();
  private stopped = false;

  constructor(private readonly d: PushSenderDeps) {}

  /** Resumes every pusher where it stopped (at startup). */
  start(): void {
    this.wake(new Set(this.d.pushers.all().map((p) => p.user_id)));
  }

  /** The users have new notifications: their pushers send them soon, never on the caller's stack. */
  wake(userIds: Iterable<string>): void {
    if (this.stopped) return;
    for (const userId of userIds) {
      for (const p of this.d.pushers.ofUser(userId)) this.schedule(p, 0);
    }
  }

  /** A pusher was deleted: drop its pending retry. */
  forget(k: PusherKey): void {
    const run = this.runs.get(pusherKeyString(k));
    if (run?.timer) clearTimeout(run.timer);
    this.runs.delete(pusherKeyString(k));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const run of this.runs.values()) if (run.timer) clearTimeout(run.timer);
    await Promise.allSettled([...this.inFlight]);
  }

  private schedule(k: PusherKey, delayMs: number): void {
    const key = pusherKeyString(k);
    let run = this.runs.get(key);
    if (!run) {
      run = { running: false, again: false, timer: null, backoff: new RetryBackoff({ initialMs: this.d.retry.initialMs, maxMs: this.d.retry.maxMs }) };
      this.runs.set(key, run);
    }
    if (run.running) {
      run.again = true;
      return;
    }
    // A retry already waiting keeps its backoff: new notifications queue behind the failing one.
    if (run.timer) return;
    const r = run;
    const fire = (): void => {
      r.timer = null;
      const work = this.drain(k, r).finally(() => this.inFlight.delete(work));
      this.inFlight.add(work);
    };
    r.timer = setTimeout(fire, delayMs);
    r.timer.unref();
  }

  private async drain(k: PusherKey, run: PusherRun): Promise<void> {
    run.running = true;
    let retryIn: number | null = null;
    try {
      do {
        run.again = false;
        retryIn = await this.sendPending(k, run);
      } while (run.again && retryIn === null && !this.stopped);
    } catch (err) {
      this.d.logger.error({ err, userId: k.user_id, appId: k.app_id }, 'push delivery failed');
    } finally {
      run.running = false;
    }
    if (this.stopped || !this.d.pushers.get(k)) {
      this.forget(k);
    } else if (retryIn !== null) {
      this.schedule(k, retryIn);
    } else if (run.again) {
      this.schedule(k, 0);
    }
  }

  /** Sends what is pending; returns the delay before a retry, or null when everything went. */
  private async sendPending(k: PusherKey, run: PusherRun): Promise<number | null> {
    for (;;) {
      const pusher = this.d.pushers.get(k);
      if (!pusher || this.stopped) return null;
      const rows = this.d.actions.after(pusher.user_id, pusher.last_pos, BATCH);
      if (rows.length === 0) return null;
      for (const row of rows) {
        const current = this.d.pushers.get(k);
        if (!current || this.stopped) return null;
        const outcome = await this.sendOne(current, row);
        if (outcome === 'retry') {
          const failingSince = current.failing_since ?? Date.now();
          if (current.failing_since === null) this.d.pushers.setFailingSince(k, failingSince);
          if (Date.now() - failingSince < this.d.retry.giveUpAfterMs) return run.backoff.nextDelayMs();
          this.d.logger.warn({ userId: k.user_id, appId: k.app_id, eventId: row.event_id }, 'push gateway failing too long: notification skipped');
          this.d.outcomes.inc({ outcome: 'skipped' });
        }
        if (outcome === 'removed') return null;
        run.backoff.reset();
        this.d.pushers.advance(k, row.pos);
      }
    }
  }

  private async sendOne(p: Pusher, row: PushActionRow): Promise<'done' | 'retry' | 'removed'> {
    const ev = this.d.events.event(row.event_id);
    if (!ev || this.alreadyRead(p.user_id, row)) return 'done';
    const url = typeof p.data['url'] === 'string' ? p.data['url'] : '';
    try {
      const rejected = await this.d.gateway.notify(url, { notification: this.notification(p, row, ev) });
      if (rejected.includes(p.pushkey)) {
        this.d.pushers.remove(p);
        this.d.outcomes.inc({ outcome: 'rejected' });
        this.d.logger.info({ userId: p.user_id, appId: p.app_id }, 'push gateway rejected the pushkey: pusher removed');
        return 'removed';
      }
      this.d.outcomes.inc({ outcome: 'sent' });
      return 'done';
    } catch (err) {
      this.d.outcomes.inc({ outcome: 'failed' });
      this.d.logger.warn({ err, userId: p.user_id, appId: p.app_id, eventId: row.event_id }, 'push gateway failed; will retry');
      return 'retry';
    }
  }

  /** Read by the time its turn came (the user saw it on another device): nothing to ring for. */
  private alreadyRead(userId: string, row: PushActionRow): boolean {
    const read = this.d.receipts.readPositions(row.room_id, userId);
    return read.unthreaded >= row.pos || (read.threads.get(row.thread_id) ?? 0) >= row.pos;
  }

  /** The body of POST /_matrix/push/v1/notify (spec: Push Gateway API). */
  private notification(p: Pusher, row: PushActionRow, ev: StoredEvent): Record<string, unknown> {
    const tweaks: Record<string, unknown> = {};
    for (const a of row.actions) {
      if (typeof a !== 'object' || a === null) continue;
      const t = a as Record<string, unknown>;
      if (typeof t['set_tweak'] === 'string') tweaks[t['set_tweak']] = t['set_tweak'] === 'highlight' ? t['value'] ?? true : t['value'];
    }
    // The gateway gets the pusher's data without the URL it was sent to (spec).
    const data = { ...p.data };
    delete data['url'];
    const device = { app_id: p.app_id, pushkey: p.pushkey, pushkey_ts: p.pushkey_ts, data, tweaks };
    const unread = this.d.unread.total(p.user_id);
    const counts = unread > 0 ? { unread } : {};
    const urgent = row.highlight || tweaks['sound'] !== undefined || ev.type === 'm.room.encrypted';
    const n: Record<string, unknown> = { event_id: ev.event_id, room_id: ev.room_id, counts, devices: [device], prio: urgent ? 'high' : 'low' };
    if (p.data['format'] === 'event_id_only') return n;
    n['type'] = ev.type;
    n['sender'] = ev.sender;
    n['content'] = ev.content;
    const senderName = this.d.events.stateEvent(ev.room_id, 'm.room.member', ev.sender)?.content['displayname'];
    if (typeof senderName === 'string' && senderName !== '') n['sender_display_name'] = senderName;
    const roomName = this.d.events.stateEvent(ev.room_id, 'm.room.name', '')?.content['name'];
    if (typeof roomName === 'string' && roomName !== '') n['room_name'] = roomName;
    const alias = this.d.events.stateEvent(ev.room_id, 'm.room.canonical_alias', '')?.content['alias'];
    if (typeof alias === 'string') n['room_alias'] = alias;
    if (ev.type === 'm.room.member') n['user_is_target'] = ev.state_key === p.user_id;
    return n;
  }
}
