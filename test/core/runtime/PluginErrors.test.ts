// What a plugin's errors make the host do, through the real pipeline and the embedded homeserver:
// PermanentError dead-letters at once with its reason in the room, IgnoredEventError is acknowledged and
// counted, RetryLaterError waits without spending handler attempts until its budget is used up.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  IgnoredEventError,
  PermanentError,
  RetryLaterError,
  type BridgeContext,
  type BridgePlugin,
  type EventContext,
  type MatrixEvent,
} from '../../../core/plugin-api/index.js';
import { enc, registerUser, startBridgeStack, waitFor, type BridgeStack, type TestUser } from '../../harness/index.js';
import { loadedPlugin } from './RecordingPlugin.js';

interface TimelineEvent {
  event_id: string;
  type: string;
  sender: string;
  content: Record<string, unknown>;
}

/** Fails as each message's body says: `permanent <reason>`, `quiet <reason>`, `ignore`, `later <n>`, `always-later`. */
class FaultyPlugin implements BridgePlugin {
  readonly descriptor = { protocol: 'faulty', ghostPrefix: 'faulty_', aliasPrefix: 'faulty_' };
  ctx: BridgeContext | null = null;
  readonly calls = new Map<string, number>();
  readonly handled: string[] = [];

  async start(ctx: BridgeContext): Promise<void> {
    this.ctx = ctx;
  }
  async stop(): Promise<void> {}

  async onMatrixEvent(event: MatrixEvent, ectx: EventContext): Promise<void> {
    if (event.type !== 'm.room.message' || ectx.fromBridge) return;
    const calls = (this.calls.get(event.event_id) ?? 0) + 1;
    this.calls.set(event.event_id, calls);
    const [word = '', ...rest] = String(event.content.body).split(' ');
    const argument = rest.join(' ');
    if (word === 'permanent') throw new PermanentError(argument);
    if (word === 'quiet') throw new PermanentError(argument, { notice: false });
    if (word === 'ignore') throw new IgnoredEventError('not carried by this network');
    if (word === 'later' && calls <= Number(argument)) throw new RetryLaterError('the carrier is busy', { delayMs: 50 });
    if (word === 'always-later') throw new RetryLaterError('the carrier is busy', { delayMs: 100 });
    this.handled.push(event.event_id);
  }
}

describe('plugin errors: permanent, ignored, retry later (pipeline, embedded homeserver, Redis)', () => {
  const plugin = new FaultyPlugin();
  let stack: BridgeStack;
  let alice: TestUser;
  let roomId = '';

  const timeline = async (): Promise<TimelineEvent[]> =>
    (await alice.http.ok<{ chunk: TimelineEvent[] }>('GET', `/rooms/${enc(roomId)}/messages`, { query: { dir: 'b', limit: 100 } })).chunk.reverse();
  let txn = 0;
  const say = async (body: string): Promise<string> =>
    (await alice.http.ok<{ event_id: string }>('PUT', `/rooms/${enc(roomId)}/send/m.room.message/t${txn++}`, { body: { msgtype: 'm.text', body } })).event_id;
  /** A plain message after the one under test: once it is handled, the one before it is settled. */
  const settled = async (): Promise<void> => {
    const marker = await say('marker');
    await waitFor(() => plugin.handled.includes(marker), 20_000, 'the marker message');
  };
  const metric = async (name: string, labels: Record<string, string>): Promise<number> => {
    const values = (await stack.metrics.getSingleMetric(name)?.get())?.values ?? [];
    return values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value ?? 0;
  };

  beforeAll(async () => {
    stack = await startBridgeStack({
      appserviceId: 'plugin-errors',
      bridges: async () => [loadedPlugin('faulty', plugin)],
      // handler_attempts 3 (the stack's); RetryLaterError waits may add up to 400 ms per event.
      settings: { retry_later_budget_ms: 400 },
    });
    alice = await registerUser(stack.hs.url, 'alice');
    roomId = (await alice.http.ok<{ room_id: string }>('POST', '/createRoom', { body: { preset: 'public_chat' } })).room_id;
    await plugin.ctx!.bot.join(roomId);
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('dead-letters a PermanentError at once, after one try, and says its reason in the room', async () => {
    const failing = await say('permanent number not allowed: +19005550100');
    await settled();
    expect(plugin.calls.get(failing)).toBe(1);
    const letter = await stack.pipeline!.deadLetters.get(failing);
    expect(letter).toMatchObject({ attempts: 1, error: 'number not allowed: +19005550100' });
    const notice = await waitFor(async () => (await timeline()).find((e) => e.content.msgtype === 'm.notice'), 20_000, 'the notice');
    expect(notice.sender).toBe(plugin.ctx!.bot.userId);
    expect(notice.content.body).toBe(`⚠️ Could not bridge a message from ${alice.userId} (${failing}): number not allowed: +19005550100`);
    expect(await metric('patchbay_plugin_events_total', { bridge: 'faulty', outcome: 'permanent' })).toBe(1);
  });

  it('dead-letters a PermanentError with notice: false without telling the room', async () => {
    const failing = await say('quiet spam filtered');
    await settled();
    expect(await stack.pipeline!.deadLetters.get(failing)).toMatchObject({ attempts: 1, error: 'spam filtered' });
    expect((await timeline()).filter((e) => e.content.msgtype === 'm.notice').map((e) => String(e.content.body))).not.toContainEqual(
      expect.stringContaining('spam filtered'),
    );
  });

  it('acknowledges an IgnoredEventError once, without a retry, a dead letter or a notice, and counts it', async () => {
    const notices = (await timeline()).filter((e) => e.content.msgtype === 'm.notice').length;
    const ignored = await say('ignore');
    await settled();
    expect(plugin.calls.get(ignored)).toBe(1);
    expect(await stack.pipeline!.deadLetters.get(ignored)).toBeNull();
    expect(await metric('patchbay_plugin_events_total', { bridge: 'faulty', outcome: 'ignored' })).toBe(1);
    expect((await timeline()).filter((e) => e.content.msgtype === 'm.notice')).toHaveLength(notices);
  });

  it('retries a RetryLaterError after its delay without spending attempts, more often than handler_attempts', async () => {
    const waits = await metric('patchbay_handler_retry_later_waits_total', {});
    const later = await say('later 5');
    await waitFor(() => plugin.handled.includes(later), 20_000, 'the retried message');
    expect(plugin.calls.get(later)).toBe(6);
    expect(await stack.pipeline!.deadLetters.get(later)).toBeNull();
    expect((await metric('patchbay_handler_retry_later_waits_total', {})) - waits).toBe(5);
  });

  it('counts RetryLaterErrors as failed tries once the budget is spent, then dead-letters with the reason', async () => {
    const later = await say('always-later');
    await settled();
    // 4 waits of 100 ms use the 400 ms budget; then the 3 handler attempts.
    expect(plugin.calls.get(later)).toBe(4 + 3);
    expect(await stack.pipeline!.deadLetters.get(later)).toMatchObject({ attempts: 3, error: 'the carrier is busy' });
  });
});
