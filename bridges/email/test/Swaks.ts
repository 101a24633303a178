// swaks (Debian), the real SMTP client of the email suites: one transaction per call, its transcript kept.
import { spawn } from 'node:child_process';

export interface SwaksResult {
  code: number | null;
  /** The whole transcript (what swaks printed). */
  out: string;
  /** The server's last reply to DATA (or the first refusal): `250 ...`, `550 ...`. */
  lastReply: string;
}

export interface SwaksOptions {
  server: string;
  port: number;
  from: string;
  to: string | string[];
  /** Raw message text (headers and body); `--data`. */
  data?: string;
  header?: Record<string, string>;
  body?: string;
  attach?: { path: string; type: string };
  tls?: boolean;
  pipeline?: boolean;
  extra?: string[];
}

export function swaks(o: SwaksOptions): Promise<SwaksResult> {
  const args = ['--server', `${o.server}:${o.port}`, '--from', o.from, '--to', ([] as string[]).concat(o.to).join(','), '--helo', 'client.test', '--timeout', '60'];
  if (o.data !== undefined) args.push('--data', '-');
  for (const [k, v] of Object.entries(o.header ?? {})) args.push('--header', `${k}: ${v}`);
  if (o.body !== undefined) args.push('--body', o.body);
  if (o.attach) args.push('--attach-type', o.attach.type, '--attach', `@${o.attach.path}`);
  if (o.tls) args.push('--tls');
  if (o.pipeline) args.push('--pipeline');
  args.push(...(o.extra ?? []));
  return new Promise((resolve, reject) => {
    const child = spawn('swaks', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.on('error', reject);
    child.stdin.end(o.data ?? '');
    child.on('close', (code) => {
      const replies = out.split('\n').filter((l) => /^<\S*\s+\d{3}[ -]/.test(l.trim()));
      const refusal = replies.find((l) => /\s[45]\d\d[ -]/.test(l));
      const last = refusal ?? replies.filter((l) => !/ 221 /.test(l)).pop() ?? '';
      resolve({ code, out, lastReply: last.replace(/^\S+\s+/, '').trim() });
    });
  });
}
