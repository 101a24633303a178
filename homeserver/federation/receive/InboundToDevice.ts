// m.direct_to_device EDUs: send-to-device messages (olm-encrypted room keys, verification requests) from
// users of the sending server to this server's users' devices, queued in the same to-device inbox local
// sendToDevice fills ('*': every device of the user). A message_id taken once from a server is not taken
// again, even in another transaction; a sender of another server, or a recipient not of this one, is
// ignored, as is a device that does not exist (nothing would ever fetch its messages).
import type { HomeserverContext } from '../../HomeserverContext.js';
import { domainOf } from '../eventauth/RoomState.js';
import { isJsonObject } from '../../http/RequestReader.js';


/** Message ids are remembered this long: a server retries for minutes, not for a week. */
const REMEMBER_MS = 7 * 86_400_000;
const PRUNE_EVERY_MS = 3_600_000;
/** The spec allows 32 code points; a little slack for servers that count otherwise. */
const MAX_MESSAGE_ID_LENGTH = 128;
const MAX_TYPE_LENGTH = 255;

export class InboundToDevice {
  private readonly s;
  private lastPrune = 0;

  constructor(
    private readonly hs: HomeserverContext,
    private readonly now: () => number = Date.now,
  ) {
    this.s = {
      remember: hs.db.prepare('INSERT OR IGNORE INTO federation_received_to_device (origin, message_id, received_ts) VALUES (?, ?, ?)'),
      prune: hs.db.prepare('DELETE FROM federation_received_to_device WHERE received_ts < ?'),
    };
  }

  receive(origin: string, c: Record<string, unknown>): void {
    const { sender, type, message_id: messageId, messages } = c;
    if (typeof sender !== 'string' || domainOf(sender) !== origin || !sender.startsWith('@')) return;
    if (typeof type !== 'string' || type.length === 0 || type.length > MAX_TYPE_LENGTH) return;
    if (typeof messageId !== 'string' || messageId.length === 0 || messageId.length > MAX_MESSAGE_ID_LENGTH || !isJsonObject(messages)) return;
    const targets = this.targets(messages);
    const now = this.now();
    const taken = this.hs.db.transaction(() => {
      if (now - this.lastPrune > PRUNE_EVERY_MS) {
        this.s.prune.run(now - REMEMBER_MS);
        this.lastPrune = now;
      }
      if (this.s.remember.run(origin, messageId, now).changes === 0) return false;
      this.hs.toDevice.send(sender, type, targets);
      return true;
    })();
    if (taken && targets.length > 0) this.hs.notifier.notify({ users: [...new Set(targets.map((t) => t.userId))] });
  }

  /** The devices of this server's users the messages are for. */
  private targets(messages: Record<string, unknown>): Array<{ userId: string; deviceId: string; content: Record<string, unknown> }> {
    const { accounts, serverName } = this.hs;
    const out: Array<{ userId: string; deviceId: string; content: Record<string, unknown> }> = [];
    for (const [userId, byDevice] of Object.entries(messages)) {
      if (domainOf(userId) !== serverName || !isJsonObject(byDevice)) continue;
      for (const [deviceId, content] of Object.entries(byDevice)) {
        if (!isJsonObject(content)) continue;
        const devices = deviceId === '*' ? accounts.devices(userId).map((d) => d.device_id) : accounts.hasDevice(userId, deviceId) ? [deviceId] : [];
        for (const d of devices) out.push({ userId, deviceId: d, content });
      }
    }
    return out;
  }
}
