// Lines we sent that the server should echo back with a msgid (IRCv3 echo-message): each echo is matched
// to the oldest awaited line with the same target, kind and text, which carries the caller's `ref`.
import type { MessageKind } from './IrcConnection.js';

/** Beyond this many the oldest are forgotten (a server that never echoes). */
const MAX_AWAITED = 512;

export class AwaitedEchoes {
  private awaited: Array<{ target: string; kind: MessageKind; text: string; ref: string }> = [];

  /** `target` folded to the server's case mapping; one entry per line the text was split into. */
  expect(target: string, kind: MessageKind, lines: string[], ref: string): void {
    for (const text of lines) this.awaited.push({ target, kind, text, ref });
    if (this.awaited.length > MAX_AWAITED) this.awaited = this.awaited.slice(-MAX_AWAITED);
  }

  /** The ref of the line this echo answers, or undefined when it answers none. */
  match(target: string, kind: MessageKind, text: string): string | undefined {
    const i = this.awaited.findIndex((a) => a.target === target && a.kind === kind && a.text === text);
    if (i === -1) return undefined;
    return this.awaited.splice(i, 1)[0]?.ref;
  }
}
