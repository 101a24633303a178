// Who is in which IRC channel, as the bridge's bot sees it (NAMES, JOIN, PART, KICK, QUIT, NICK),
// folded per the server's case mapping. The source of the Matrix-side membership of ghosts.
import { type CaseMapping, foldCase } from './IrcCaseMapping.js';

export class ChannelRoster {
  /** folded channel -> (folded nick -> nick as last seen). */
  private readonly channels = new Map<string, Map<string, string>>();

  constructor(private caseMapping: CaseMapping) {}

  setCaseMapping(mapping: CaseMapping): void {
    this.caseMapping = mapping;
  }

  private fold(text: string): string {
    return foldCase(text, this.caseMapping);
  }

  /** Replaces a channel's member list (end of NAMES); returns who was added and who vanished. */
  setMembers(channel: string, nicks: string[]): { added: string[]; removed: string[] } {
    const key = this.fold(channel);
    const before = this.channels.get(key) ?? new Map<string, string>();
    const after = new Map(nicks.map((n) => [this.fold(n), n] as const));
    this.channels.set(key, after);
    return {
      added: [...after].filter(([k]) => !before.has(k)).map(([, n]) => n),
      removed: [...before].filter(([k]) => !after.has(k)).map(([, n]) => n),
    };
  }

  add(channel: string, nick: string): void {
    const key = this.fold(channel);
    const members = this.channels.get(key) ?? new Map<string, string>();
    members.set(this.fold(nick), nick);
    this.channels.set(key, members);
  }

  remove(channel: string, nick: string): boolean {
    return this.channels.get(this.fold(channel))?.delete(this.fold(nick)) ?? false;
  }

  /** QUIT: the nick leaves every channel; returns the channels it was in. */
  removeEverywhere(nick: string): string[] {
    const folded = this.fold(nick);
    const left: string[] = [];
    for (const [channel, members] of this.channels) if (members.delete(folded)) left.push(channel);
    return left;
  }

  /** NICK: returns the channels where the nick was seen. */
  rename(oldNick: string, newNick: string): string[] {
    const oldFolded = this.fold(oldNick);
    const seen: string[] = [];
    for (const [channel, members] of this.channels) {
      if (members.delete(oldFolded)) {
        members.set(this.fold(newNick), newNick);
        seen.push(channel);
      }
    }
    return seen;
  }

  channelsOf(nick: string): string[] {
    const folded = this.fold(nick);
    return [...this.channels].filter(([, m]) => m.has(folded)).map(([c]) => c);
  }

  has(channel: string, nick: string): boolean {
    return this.channels.get(this.fold(channel))?.has(this.fold(nick)) ?? false;
  }

  members(channel: string): string[] {
    return [...(this.channels.get(this.fold(channel))?.values() ?? [])];
  }

  /** The bot left the channel: forget its members; returns them. */
  dropChannel(channel: string): string[] {
    const key = this.fold(channel);
    const members = [...(this.channels.get(key)?.values() ?? [])];
    this.channels.delete(key);
    return members;
  }

  clear(): void {
    this.channels.clear();
  }
}
