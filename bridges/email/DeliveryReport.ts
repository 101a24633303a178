// Delivery status notifications (RFC 3464) that come back to a VERP return path. mailparser folds the
// `message/delivery-status` part into its text, so the fields are read from the raw message here: per
// recipient its Action (failed, delayed, delivered, relayed, expanded), Status (5.1.1) and the remote
// server's Diagnostic-Code.
import { open } from 'node:fs/promises';

export interface RecipientStatus {
  recipient: string;
  action: string;
  status: string;
  diagnostic: string | null;
}

/** Reads at most this much of a bounce: the report comes before the returned message. */
const HEAD_BYTES = 2 * 1024 * 1024;

export async function readDeliveryReport(path: string): Promise<RecipientStatus[] | null> {
  const fh = await open(path, 'r');
  let text: string;
  try {
    const buf = Buffer.alloc(HEAD_BYTES);
    const { bytesRead } = await fh.read(buf, 0, HEAD_BYTES, 0);
    text = buf.subarray(0, bytesRead).toString('latin1');
  } finally {
    await fh.close();
  }
  return parseDeliveryReport(text);
}

export function parseDeliveryReport(raw: string): RecipientStatus[] | null {
  const m = /content-type:\s*message\/(global-)?delivery-status[^\n]*\n(?:[ \t][^\n]*\n)*(?:[^\n]+\n)*?\r?\n([\s\S]*?)(?:\r?\n--|$)/i.exec(raw);
  if (m === null) return null;
  // Unfold, then split into field groups: the per-message group first, then one per recipient.
  const body = m[2]!.replace(/\r\n/g, '\n').replace(/\n[ \t]+/g, ' ');
  const groups = body.split(/\n\s*\n/).map((g) => {
    const fields = new Map<string, string>();
    for (const line of g.split('\n')) {
      const i = line.indexOf(':');
      if (i > 0) fields.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
    }
    return fields;
  });
  const out: RecipientStatus[] = [];
  for (const f of groups) {
    const recipient = f.get('final-recipient') ?? f.get('original-recipient');
    const action = f.get('action');
    if (recipient === undefined || action === undefined) continue;
    out.push({
      recipient: recipient.replace(/^[^;]*;\s*/, ''),
      action: action.toLowerCase(),
      status: f.get('status') ?? '',
      diagnostic: f.get('diagnostic-code')?.replace(/^[^;]*;\s*/, '') ?? null,
    });
  }
  return out;
}
