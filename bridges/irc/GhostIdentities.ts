// Which ghost (Matrix user) stands for which IRC nick on one network. A ghost is named after the nick it
// was first seen with and follows that person through nick changes, so history, avatar and power levels
// stay with one Matrix user (Heisenbridge #289). A new person who later takes a nick whose ghost is still
// in use by the renamed one gets a distinct ghost (`alice.2`), never the other person's.
//
// Across restarts: nicks whose ghost is not simply their own name (renamed people, `.2` ghosts) are
// persisted, so a person who changed nick before a restart is the same ghost when seen again under that
// nick. Where the server tells accounts (IRCv3 extended-join, account-tag, account-notify), an account
// keeps its ghost for good: whatever nick its owner comes back with, and a person seen *without* that
// account is never given it. Without account information, identity is the nick, as on IRC itself.
import { type CaseMapping, foldCase } from './IrcCaseMapping.js';

/** Where the mapping is persisted (write-behind; the maps in memory are the truth while running). */
export interface GhostIdentityStore {
  /** A folded nick's ghost key, or null to forget it. Only nicks whose key differs from the nick are kept. */
  nick(foldedNick: string, key: string | null): void;
  /** A folded services account's ghost key. */
  account(foldedAccount: string, key: string): void;
}

/** What identify() found: the ghost key, and the key the nick had until now when account facts moved it. */
export interface GhostIdentity {
  key: string;
  previous?: string;
}

/**
 * An account as the server reported it: a name (logged in), null (the server says: not logged in), or
 * undefined (the server did not say, e.g. a NAMES reply).
 */
export type AccountFact = string | null | undefined;

export class GhostIdentities {
  /** folded live nick -> ghost key. */
  private readonly byNick = new Map<string, string>();
  /** ghost key -> folded live nick holding it. */
  private readonly holder = new Map<string, string>();
  /** From before a restart, not seen again yet: folded nick -> key, and the reverse (the keys stay reserved). */
  private readonly restored = new Map<string, string>();
  private readonly reserved = new Map<string, string>();
  /** folded account -> key, and key -> folded account. */
  private readonly accounts = new Map<string, string>();
  private readonly accountOfKey = new Map<string, string>();
  /** Folded nicks with an entry in the store. */
  private readonly persisted = new Set<string>();
  /** Accounts written in this process (each is written once, refreshing its expiry). */
  private readonly accountsWritten = new Set<string>();

  constructor(
    private caseMapping: CaseMapping,
    private readonly store: GhostIdentityStore | null = null,
  ) {}

  setCaseMapping(mapping: CaseMapping): void {
    this.caseMapping = mapping;
  }

  private fold(nick: string): string {
    return foldCase(nick, this.caseMapping);
  }

  /** What the store held at start: nick entries are tentative until seen, accounts are binding. */
  restore(nicks: Iterable<readonly [string, string]>, accounts: Iterable<readonly [string, string]>): void {
    for (const [acct, key] of accounts) {
      this.accounts.set(acct, key);
      this.accountOfKey.set(key, acct);
    }
    for (const [nick, key] of nicks) {
      if (this.byNick.has(nick) || this.reserved.has(key)) continue;
      this.restored.set(nick, key);
      this.reserved.set(key, nick);
      this.persisted.add(nick);
    }
  }

  /**
   * Restored nicks nobody came back with (after the bot saw every channel's members): forgotten, so they
   * stop reserving their ghosts.
   */
  settle(): void {
    for (const nick of this.restored.keys()) this.unpersist(nick);
    this.restored.clear();
    this.reserved.clear();
  }

  /** The ghost key for a nick, assigning one when the nick is new. */
  keyFor(nick: string): string {
    return this.identify(nick, undefined).key;
  }

  /** The ghost key for a nick given what the server says of its account (see AccountFact). */
  identify(nick: string, account: AccountFact): GhostIdentity {
    const folded = this.fold(nick);
    const acct = typeof account === 'string' ? this.fold(account) : account;
    const live = this.byNick.get(folded);
    if (live !== undefined) {
      if (acct === undefined) return { key: live };
      const wanted = this.keyForKnownAccount(folded, live, acct);
      if (wanted === live) return { key: live };
      this.release(folded, live);
      this.assign(folded, wanted);
      return { key: wanted, previous: live };
    }
    let key: string | undefined;
    if (typeof acct === 'string') {
      const bound = this.accounts.get(acct);
      if (bound !== undefined && !this.holder.has(bound)) key = bound;
    }
    const restored = this.restored.get(folded);
    if (restored !== undefined) {
      this.restored.delete(folded);
      this.reserved.delete(restored);
      const owner = this.accountOfKey.get(restored);
      if (key === undefined && !this.holder.has(restored) && (acct === undefined || owner === undefined || owner === acct)) key = restored;
    }
    key ??= this.fresh(folded, acct);
    this.assign(folded, key);
    if (typeof acct === 'string') this.bind(acct, key);
    return { key };
  }

  /** The key a live nick should have now that its account is known. */
  private keyForKnownAccount(folded: string, live: string, acct: string | null): string {
    const owner = this.accountOfKey.get(live);
    if (acct === null) return owner === undefined ? live : this.fresh(folded, null);
    const bound = this.accounts.get(acct);
    if (bound === live) {
      this.bind(acct, live);
      return live;
    }
    if (bound !== undefined && !this.holder.has(bound)) return bound;
    if (bound !== undefined) return live; // the account's ghost is in use by another of its connections
    if (owner !== undefined && owner !== acct) return this.fresh(folded, acct);
    this.bind(acct, live);
    return live;
  }

  /** A key of the nick's own name, suffixed where that one is taken, reserved, or another account's. */
  private fresh(folded: string, acct: AccountFact): string {
    const blocked = (key: string): boolean => {
      if (this.holder.has(key)) return true;
      const reservedBy = this.reserved.get(key);
      if (reservedBy !== undefined && reservedBy !== folded) return true;
      const owner = this.accountOfKey.get(key);
      return acct !== undefined && owner !== undefined && owner !== acct;
    };
    let key = folded;
    for (let n = 2; blocked(key); n++) key = `${folded}.${n}`;
    return key;
  }

  private bind(acct: string, key: string): void {
    if (this.accountOfKey.has(key) && this.accountOfKey.get(key) !== acct) return;
    if (this.accounts.has(acct) && this.accounts.get(acct) !== key) return;
    this.accounts.set(acct, key);
    this.accountOfKey.set(key, acct);
    if (!this.accountsWritten.has(acct)) {
      this.accountsWritten.add(acct);
      this.store?.account(acct, key);
    }
  }

  private assign(folded: string, key: string): void {
    this.byNick.set(folded, key);
    this.holder.set(key, folded);
    if (key !== folded) {
      this.persisted.add(folded);
      this.store?.nick(folded, key);
    } else this.unpersist(folded);
  }

  private release(folded: string, key: string): void {
    this.byNick.delete(folded);
    if (this.holder.get(key) === folded) this.holder.delete(key);
    this.unpersist(folded);
  }

  private unpersist(folded: string): void {
    if (!this.persisted.delete(folded)) return;
    this.store?.nick(folded, null);
  }

  /** The key only if this nick is already tracked. */
  peek(nick: string): string | undefined {
    return this.byNick.get(this.fold(nick));
  }

  /** NICK old -> new: the ghost moves with the person. */
  rename(oldNick: string, newNick: string): string {
    const key = this.keyFor(oldNick);
    const oldFolded = this.fold(oldNick);
    const newFolded = this.fold(newNick);
    if (oldFolded === newFolded) return key;
    this.release(oldFolded, key);
    // Whoever was tracked (or restored) under the new nick is gone: the server allowed the change.
    const displaced = this.byNick.get(newFolded);
    if (displaced !== undefined && this.holder.get(displaced) === newFolded) this.holder.delete(displaced);
    const restored = this.restored.get(newFolded);
    if (restored !== undefined) {
      this.restored.delete(newFolded);
      this.reserved.delete(restored);
    }
    this.assign(newFolded, key);
    return key;
  }

  /** The person left the network (or every channel we share): their nick's ghost is free again. */
  forget(nick: string): void {
    const folded = this.fold(nick);
    const key = this.byNick.get(folded);
    if (key !== undefined) this.release(folded, key);
  }

  /** The live nick (folded) that currently holds a ghost key, if any. */
  nickHolding(key: string): string | undefined {
    return this.holder.get(key);
  }
}
