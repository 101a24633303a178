// The email bridge on the real stack (Redis, the embedded homeserver, the event pipeline, the plugin
// host) for the email suites, with a static DNS for sender checks and helpers to find what a mail became.
import type { BridgeContext } from 'patchbay-matrix/plugin';
import { PluginLoader } from '../../../core/plugin/PluginLoader.js';
import { startBridgeStack, type BridgeStack } from '../../../testkit/bridgeStack.js';
import { enc, waitFor, type TestUser } from '../../../testkit/index.js';
import { registerUser, uniqueLocalpart } from '../../../testkit/testUsers.js';
import { EmailBridge, type EmailBridgeOptions } from '../EmailBridge.js';
import type { EmailConfig } from '../EmailConfig.js';
import type { DnsResolver } from '../SenderChecks.js';

export interface TimelineEvent {
  event_id: string;
  type: string;
  sender: string;
  content: Record<string, unknown>;
  origin_server_ts: number;
}

/** TXT records of the test domains: example.org passes SPF from 127.0.0.1; bank.test and spoof.test fail it. */
export const TEST_DNS: Record<string, string[][]> = {
  'example.org': [['v=spf1 ip4:127.0.0.1 -all']],
  '_dmarc.example.org': [['v=DMARC1; p=none']],
  'bank.test': [['v=spf1 ip4:10.9.9.9 -all']],
  '_dmarc.bank.test': [['v=DMARC1; p=reject']],
  'spoof.test': [['v=spf1 ip4:10.9.9.9 -all']],
  '_dmarc.spoof.test': [['v=DMARC1; p=quarantine']],
};

export function staticResolver(records: Record<string, string[][]>): DnsResolver {
  return async (name, rrtype) => {
    const found = rrtype === 'TXT' ? records[name.toLowerCase()] : undefined;
    if (found !== undefined) return found;
    throw Object.assign(new Error(`no ${rrtype} record for ${name}`), { code: 'ENOTFOUND' });
  };
}

export interface EmailTestStack {
  stack: BridgeStack;
  ctx: () => BridgeContext<EmailConfig>;
  registerUser(localpart?: string): Promise<TestUser>;
  metrics(): Promise<string>;
  bridge: () => EmailBridge;
  smtpPort: () => number;
  /** The DM portal of `receiver` with `correspondent`, once a mail made it. */
  dmOf(receiver: TestUser, correspondent: string): Promise<string>;
  /** Joins (once) and returns the room's timeline, oldest first. */
  timeline(user: TestUser, roomId: string): Promise<TimelineEvent[]>;
  /** Waits for an event in the room that matches. */
  find(user: TestUser, roomId: string, match: (e: TimelineEvent) => boolean, what: string): Promise<TimelineEvent>;
  stop(): Promise<void>;
}

export async function startEmailStack(config: Partial<EmailConfig> & { domains: string[] }, options: EmailBridgeOptions = {}): Promise<EmailTestStack> {
  let bridge: EmailBridge | null = null;
  const factory = () => (bridge = new EmailBridge({ dnsResolver: staticResolver(TEST_DNS), ...options }));
  const section = { enabled: true, smtp: { port: 0 }, ...config };
  const stack = await startBridgeStack({
    appserviceId: uniqueLocalpart('email'),
    bridges: () => new PluginLoader({ builtins: { email: async () => factory } }).load({ email: section }),
    // Room for the 20 MB attachment (the test homeserver's default is 10 MB).
    homeserver: { maxUploadBytes: 64 * 1024 * 1024 },
  });
  const ctx = () => stack.host.bridge('email')!.context as unknown as BridgeContext<EmailConfig>;
  const joined = new Set<string>();
  const timeline = async (user: TestUser, roomId: string): Promise<TimelineEvent[]> => {
    const key = `${user.userId} ${roomId}`;
    if (!joined.has(key)) {
      await user.http.ok('POST', `/join/${enc(roomId)}`, { body: {} });
      joined.add(key);
    }
    const res = await user.http.ok<{ chunk: TimelineEvent[] }>('GET', `/rooms/${enc(roomId)}/messages`, { query: { dir: 'b', limit: 200 } });
    return res.chunk.reverse();
  };
  return {
    stack,
    ctx,
    registerUser: (localpart) => registerUser(stack.hs.url, localpart ?? uniqueLocalpart('user')),
    metrics: () => stack.metrics.metrics(),
    bridge: () => bridge!,
    smtpPort: () => bridge!.smtpPort,
    dmOf: (receiver, correspondent) =>
      waitFor(() => ctx().portals.roomFor({ network: 'email', location: correspondent, receiver: receiver.userId }), 20_000, `the DM of ${receiver.userId} with ${correspondent}`),
    timeline,
    find: (user, roomId, match, what) => waitFor(async () => (await timeline(user, roomId)).find(match), 20_000, what),
    stop: () => stack.stop(),
  };
}
