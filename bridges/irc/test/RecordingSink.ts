// An IrcNetworkSink that records what would go to Matrix, for network-level tests.
import type { IrcNetworkSink } from '../IrcNetwork.js';

export type SinkEvent = { type: keyof IrcNetworkSink } & Record<string, unknown>;

export class RecordingSink implements IrcNetworkSink {
  readonly events: SinkEvent[] = [];

  private record(type: keyof IrcNetworkSink, e: object): Promise<void> {
    this.events.push({ type, ...e });
    return Promise.resolve();
  }

  of(type: keyof IrcNetworkSink): SinkEvent[] {
    return this.events.filter((e) => e.type === type);
  }

  async waitFor(predicate: (e: SinkEvent) => boolean, timeoutMs = 15_000): Promise<SinkEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.find(predicate);
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error(`sink: timed out; last events: ${JSON.stringify(this.events.slice(-8))}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  message: IrcNetworkSink['message'] = (e) => this.record('message', e);
  joined: IrcNetworkSink['joined'] = (e) => this.record('joined', e);
  left: IrcNetworkSink['left'] = (e) => this.record('left', e);
  members: IrcNetworkSink['members'] = (e) => this.record('members', e);
  nickChanged: IrcNetworkSink['nickChanged'] = (e) => this.record('nickChanged', e);
  topic: IrcNetworkSink['topic'] = (e) => this.record('topic', e);
  puppetKicked: IrcNetworkSink['puppetKicked'] = (e) => this.record('puppetKicked', e);
  botLostChannel: IrcNetworkSink['botLostChannel'] = (e) => this.record('botLostChannel', e);
  puppetFailed: IrcNetworkSink['puppetFailed'] = (e) => this.record('puppetFailed', e);
  sent: IrcNetworkSink['sent'] = (e) => this.record('sent', e);
  redacted: IrcNetworkSink['redacted'] = (e) => this.record('redacted', e);
}
