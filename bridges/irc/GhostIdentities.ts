// Which ghost (Matrix user) stands for which IRC nick on one network. A ghost is named after the nick it
// was first seen with and follows that person through nick changes, so history, avatar and power levels
// stay with one Matrix user (Heisenbridge #289). A new person who later takes a nick whose ghost is still
// in use by the renamed one gets a distinct ghost (`alice.2`), never the other person's.
import { type CaseMapping, foldCase } from './IrcCaseMapping.js';

export class GhostIdentities {
  /** folded live nick -> ghost key (the part after `<network>_`). */
  private readonly byNick = new Map<string, string>();
  /** ghost key -> folded live nick holding it. */
  private readonly holder = new Map<string, string>();

  constructor(private caseMapping: CaseMapping) {}

  setCaseMapping(mapping: CaseMapping): void {
    this.caseMapping = mapping;
  }

  private fold(nick: string): string {
    return foldCase(nick, this.caseMapping);
  }

  /** The ghost key for a nick, assigning one when the nick is new. */
  keyFor(nick: string): string {
    const folded = this.fold(nick);
    const known = this.byNick.get(folded);
    if (known !== undefined) return known;
    let key = folded;
    for (let n = 2; this.holder.has(key); n++) key = `${folded}.${n}`;
    this.byNick.set(folded, key);
    this.holder.set(key, folded);
    return key;
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
    this.byNick.delete(oldFolded);
    // Whoever was tracked under the new nick is gone (the server allowed the change).
    const displaced = this.byNick.get(newFolded);
    if (displaced !== undefined) this.holder.delete(displaced);
    this.byNick.set(newFolded, key);
    this.holder.set(key, newFolded);
    return key;
  }

  /** The person left the network (or every channel we share): their ghost key is free again. */
  forget(nick: string): void {
    const folded = this.fold(nick);
    const key = this.byNick.get(folded);
    if (key === undefined) return;
    this.byNick.delete(folded);
    if (this.holder.get(key) === folded) this.holder.delete(key);
  }

  /** The live nick (folded) that currently holds a ghost key, if any. */
  nickHolding(key: string): string | undefined {
    return this.holder.get(key);
  }

  clear(): void {
    this.byNick.clear();
    this.holder.clear();
  }
}
