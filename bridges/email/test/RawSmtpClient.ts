// A bare SMTP client for what swaks cannot say (BODY=8BITMIME, SMTPUTF8): one line out, one reply in.
import { connect, type Socket } from 'node:net';

export class RawSmtpClient {
  private socket!: Socket;
  private buffer = '';
  private waiting: ((reply: string) => void) | null = null;

  async connect(port: number): Promise<string> {
    this.socket = connect(port, '127.0.0.1');
    this.socket.setEncoding('utf8');
    this.socket.on('data', (d: string) => {
      this.buffer += d;
      this.deliver();
    });
    return this.reply();
  }

  /** Sends one command line (or a DATA body ending in CRLF.CRLF) and waits for the complete reply. */
  async send(line: string): Promise<string> {
    const r = this.reply();
    this.socket.write(line.endsWith('\r\n') ? line : `${line}\r\n`);
    return r;
  }

  close(): void {
    this.socket.destroy();
  }

  private reply(): Promise<string> {
    return new Promise((resolve) => {
      this.waiting = resolve;
      this.deliver();
    });
  }

  private deliver(): void {
    // A complete reply ends with a line "NNN text" (no dash after the code).
    const m = /^((?:\d{3}-[^\n]*\n)*\d{3}(?: [^\n]*)?\r?\n)/.exec(this.buffer);
    if (m === null || this.waiting === null) return;
    this.buffer = this.buffer.slice(m[1]!.length);
    const w = this.waiting;
    this.waiting = null;
    w(m[1]!.trim());
  }
}
