// Each running call is written to the bridge's store as it changes (ringing, answered), so that after a
// crash or restart the next start can end what the dead process left: the Matrix users' calls get a
// hangup and a notice, the far end a final response, a CANCEL or a BYE. Writes of one call are chained,
// so its deletion never lands before its last update.
import type { Logger, PluginStore } from 'patchbay-matrix/plugin';
import type { SipCleanup } from '../sip/CleanupMessages.js';
import type { CallLeg } from './CallSignalling.js';

export interface CallRecord {
  id: string;
  lineId: string;
  direction: 'inbound' | 'outbound';
  partyId: string;
  partyName: string;
  legs: Array<Pick<CallLeg, 'userId' | 'roomId' | 'callId' | 'partyId' | 'version'>>;
  sip: SipCleanup | null;
  startedAt: number;
}

const PREFIX = 'call/';

export class CallRecords {
  private readonly chains = new Map<string, Promise<void>>();

  constructor(
    private readonly store: PluginStore,
    private readonly ttlSeconds: number,
    private readonly logger: Logger,
  ) {}

  save(record: CallRecord): Promise<void> {
    return this.chain(record.id, () => this.store.set(PREFIX + record.id, JSON.stringify(record), this.ttlSeconds));
  }

  delete(id: string): Promise<void> {
    return this.chain(id, () => this.store.delete(PREFIX + id));
  }

  /** Every record left in the store (by a process that is gone, when called at start). */
  async all(): Promise<CallRecord[]> {
    const out: CallRecord[] = [];
    for (const key of await this.store.keys(PREFIX)) {
      const raw = await this.store.get(key);
      if (raw === null) continue;
      try {
        out.push(JSON.parse(raw) as CallRecord);
      } catch {
        await this.store.delete(key);
      }
    }
    return out;
  }

  /** Resolves once every pending write has landed. */
  async settled(): Promise<void> {
    await Promise.all([...this.chains.values()]);
  }

  private chain(id: string, op: () => Promise<void>): Promise<void> {
    const next = (this.chains.get(id) ?? Promise.resolve())
      .then(op)
      .catch((err: unknown) => this.logger.warn({ err, call: id }, 'could not record a call'));
    this.chains.set(id, next);
    void next.then(() => {
      if (this.chains.get(id) === next) this.chains.delete(id);
    });
    return next;
  }
}
