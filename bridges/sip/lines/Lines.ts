// The bridge's SIP lines: the trunks and accounts of the config, and the accounts users add for
// themselves with `!sip login` (kept in the bridge's store, password included, never shown again). Each
// line is its own SipLine; a user's calls and texts leave on their own account when they have one, else
// on the default line.
import type { Logger, PluginStore } from 'patchbay-matrix/plugin';
import type { LineSettings, SipLine } from './SipLine.js';

/** What `!sip login` stores. */
export interface UserAccount {
  aor: string;
  password: string;
  authUsername: string | null;
}

const ACCOUNT = 'account/';

/** The line id of a user's own account (config line ids cannot contain ':'). */
export function accountLineId(userId: string): string {
  return `user:${userId}`;
}

export class Lines {
  private readonly lines = new Map<string, SipLine>();

  constructor(
    private readonly configured: LineSettings[],
    private readonly defaultLineId: string | null,
    private readonly makeLine: (settings: LineSettings) => SipLine,
    private readonly store: PluginStore,
    private readonly logger: Logger,
  ) {}

  /** Creates and starts every line: the configured ones, then the users' accounts. */
  async start(): Promise<void> {
    for (const settings of this.configured) this.open(settings);
    for (const key of await this.store.keys(ACCOUNT)) {
      const userId = key.slice(ACCOUNT.length);
      const account = await this.account(userId);
      if (account) this.open(accountSettings(userId, account));
    }
  }

  async stop(): Promise<void> {
    await Promise.all([...this.lines.values()].map((l) => l.stop()));
    this.lines.clear();
  }

  get(id: string): SipLine | undefined {
    return this.lines.get(id);
  }

  all(): SipLine[] {
    return [...this.lines.values()];
  }

  /** Where a user's calls and texts leave: their own account, else the default line. */
  forUser(userId: string): SipLine | undefined {
    return this.lines.get(accountLineId(userId)) ?? this.defaultLine();
  }

  defaultLine(): SipLine | undefined {
    if (this.defaultLineId !== null) return this.lines.get(this.defaultLineId);
    const first = this.configured[0];
    return first ? this.lines.get(first.id) : undefined;
  }

  async account(userId: string): Promise<UserAccount | null> {
    const raw = await this.store.get(ACCOUNT + userId);
    if (raw === null) return null;
    try {
      return JSON.parse(raw) as UserAccount;
    } catch {
      this.logger.warn({ user: userId }, 'a stored SIP account is unreadable; ignoring it');
      return null;
    }
  }

  /** Stores a user's account and (re)starts its line. */
  async addAccount(userId: string, account: UserAccount): Promise<SipLine> {
    await this.removeLine(accountLineId(userId));
    await this.store.set(ACCOUNT + userId, JSON.stringify(account));
    return this.open(accountSettings(userId, account));
  }

  async removeAccount(userId: string): Promise<boolean> {
    const had = (await this.store.get(ACCOUNT + userId)) !== null;
    await this.store.delete(ACCOUNT + userId);
    await this.removeLine(accountLineId(userId));
    return had;
  }

  private open(settings: LineSettings): SipLine {
    const line = this.makeLine(settings);
    this.lines.set(settings.id, line);
    line.start();
    return line;
  }

  private async removeLine(id: string): Promise<void> {
    const line = this.lines.get(id);
    if (!line) return;
    this.lines.delete(id);
    await line.stop();
  }
}

function accountSettings(userId: string, account: UserAccount): LineSettings {
  return {
    id: accountLineId(userId),
    aor: account.aor,
    registrar: null,
    register: true,
    registerExpiresS: 600,
    authUsername: account.authUsername,
    password: account.password,
    outboundProxy: null,
    displayName: null,
    numberFormat: 'e164',
    routes: {},
    owner: userId,
  };
}
