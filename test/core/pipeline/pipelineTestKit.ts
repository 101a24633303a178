// Shared pieces of the pipeline suites: a recording dispatcher, events, and a sender that behaves like
// a homeserver (sends a transaction until it gets 200, retrying on 5xx and connection errors).
import { setTimeout as sleep } from 'node:timers/promises';
import { pino, type Logger } from 'pino';
import type { EventDispatcher } from '../../../core/contracts.js';
import type { MatrixEphemeralEvent, MatrixEvent } from '../../../core/plugin-api/index.js';

export const HS_TOKEN = 'hs-token-for-tests';

export function quietLogger(): Logger {
  return pino({ level: process.env.PATCHBAY_TEST_LOG ?? 'silent' });
}

export function roomEvent(id: string, roomId: string, content: Record<string, unknown> = {}): MatrixEvent {
  return {
    event_id: id,
    room_id: roomId,
    type: 'm.room.message',
    sender: '@alice:test',
    content: { msgtype: 'm.text', body: id, ...content },
    origin_server_ts: 1_700_000_000_000,
  };
}

export interface PutResult {
  status: number;
  body: Record<string, unknown>;
}

/** One PUT of a transaction (no retries). */
export async function putTransaction(baseUrl: string, txnId: string, body: unknown, token: string | null = HS_TOKEN): Promise<PutResult> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== null) headers['authorization'] = `Bearer ${token}`;
  const res = await fetch(`${baseUrl}/_matrix/app/v1/transactions/${encodeURIComponent(txnId)}`, {
    method: 'PUT',
    headers,
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/** Sends until 200, like a homeserver's appservice sender; counts what it saw on the way. */
export class RetryingSender {
  readonly statuses = new Map<number | 'connection', number>();

  constructor(private readonly baseUrl: () => string) {}

  async send(txnId: string, body: unknown): Promise<void> {
    for (;;) {
      try {
        const { status } = await putTransaction(this.baseUrl(), txnId, body);
        this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1);
        if (status === 200) return;
        if (status < 500) throw new Error(`transaction ${txnId} refused with ${status}`);
      } catch (err: unknown) {
        if (err instanceof Error && err.message.startsWith('transaction ')) throw err;
        this.statuses.set('connection', (this.statuses.get('connection') ?? 0) + 1);
      }
      await sleep(50);
    }
  }

  saw(status: number | 'connection'): number {
    return this.statuses.get(status) ?? 0;
  }
}

export interface DispatchCall {
  event: MatrixEvent;
  attempt: number;
}

/** Records what the pipeline hands over; `fail` decides which tries throw. */
export class RecordingDispatcher implements EventDispatcher {
  readonly calls: DispatchCall[] = [];
  readonly ephemeral: MatrixEphemeralEvent[] = [];
  readonly deadLetteredCalls: Array<{ event: MatrixEvent; error: Error }> = [];
  fail: (event: MatrixEvent, attempt: number) => boolean = () => false;

  async dispatch(event: MatrixEvent, attempt: number): Promise<void> {
    this.calls.push({ event, attempt });
    if (this.fail(event, attempt)) throw new Error(`handler refused ${event.event_id} (try ${attempt})`);
  }

  async dispatchEphemeral(event: MatrixEphemeralEvent): Promise<void> {
    this.ephemeral.push(event);
  }

  async deadLettered(event: MatrixEvent, error: Error): Promise<void> {
    this.deadLetteredCalls.push({ event, error });
  }

  /** Event ids handed over for a room, in the order of the calls. */
  idsIn(roomId: string): string[] {
    return this.calls.filter((c) => c.event.room_id === roomId).map((c) => c.event.event_id);
  }

  count(eventId: string): number {
    return this.calls.filter((c) => c.event.event_id === eventId).length;
  }
}
