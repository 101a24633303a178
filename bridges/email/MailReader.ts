// Reads one spooled mail (mailparser's streaming parser): headers, the text and HTML bodies, and each
// attachment streamed to a file of its own, so a 20 MB attachment never sits in memory while parsing.
// Charsets and transfer encodings (quoted-printable, base64, ISO-8859-x, ISO-2022-JP, encoded words) are
// mailparser's; what it gets wrong or hides is dealt with here: a multipart whose parts it could not find
// is reported instead of passing for an empty mail, and a calendar invite's method is read from its
// Content-Type.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { normalizeAddress } from './MailAddress.js';

export interface MailPerson {
  address: string;
  name: string;
}

export interface MailAttachment {
  path: string;
  filename: string;
  contentType: string;
  size: number;
  /** The Content-ID without brackets, for `cid:` references from the HTML. */
  cid: string | null;
  /** Part of a multipart/related (an inline image of the HTML). */
  related: boolean;
  /** A calendar invite's METHOD (REQUEST, CANCEL, REPLY), from its Content-Type. */
  calendarMethod: string | null;
}

export interface ReadMail {
  /** Without the angle brackets; made from the content's hash when the mail has none. */
  messageId: string;
  inReplyTo: string | null;
  /** Oldest first, as the header lists them. */
  references: string[];
  subject: string;
  from: MailPerson | null;
  replyTo: MailPerson | null;
  to: MailPerson[];
  cc: MailPerson[];
  date: number | null;
  text: string | null;
  html: string | null;
  attachments: MailAttachment[];
  /** Header values of interest, lower-case names. */
  autoSubmitted: string | null;
  listId: string | null;
  contentType: string;
  /** What could not be read, for people: "the body could not be read: ...". */
  problems: string[];
}

interface AddressValue {
  value?: Array<{ address?: string; name?: string; group?: AddressValue['value'] }>;
}
interface ParserAttachment {
  type: 'attachment';
  content: Readable;
  contentType: string;
  filename?: string;
  cid?: string;
  related?: boolean;
  headers: Map<string, unknown>;
  release: (() => void) | null;
}
interface ParserText {
  type: 'text';
  text?: string;
  html?: string | false;
}
interface MailParserStream extends NodeJS.WritableStream {
  on(event: 'headers', fn: (headers: Map<string, unknown>) => void): this;
  on(event: 'data', fn: (data: ParserAttachment | ParserText) => void): this;
  on(event: 'end' | 'close', fn: () => void): this;
  on(event: 'error', fn: (err: Error) => void): this;
}
const { MailParser } = createRequire(import.meta.url)('mailparser') as { MailParser: new (options?: Record<string, unknown>) => MailParserStream };

/** At most this many addresses of To/Cc are kept (a 1,000-recipient header is read, not carried). */
const MAX_PEOPLE = 50;

function people(value: unknown): MailPerson[] {
  const out: MailPerson[] = [];
  const walk = (list: AddressValue['value']): void => {
    for (const v of list ?? []) {
      if (out.length >= MAX_PEOPLE) return;
      if (v.group) walk(v.group);
      const address = v.address ? normalizeAddress(v.address) : null;
      if (address !== null) out.push({ address, name: (v.name ?? '').trim() });
    }
  };
  for (const item of ([] as AddressValue[]).concat((value as AddressValue | AddressValue[] | undefined) ?? [])) walk(item.value);
  return out;
}

function ids(value: unknown): string[] {
  const text = ([] as unknown[]).concat(value ?? []).filter((v): v is string => typeof v === 'string').join(' ');
  return [...text.matchAll(/<([^<>\s]+)>/g)].map((m) => m[1]!).concat(text.includes('<') ? [] : text.split(/\s+/).filter((t) => t.includes('@')));
}

function safeName(name: string, n: number): string {
  const cleaned = name.replace(/[/\\\x00-\x1f]/g, '_').slice(0, 200);
  return cleaned.length > 0 && cleaned !== '.' && cleaned !== '..' ? cleaned : `attachment-${n}`;
}

/** Parses a message stream; attachments are written under `workDir`. */
export async function readMail(message: Readable, workDir: string): Promise<ReadMail> {
  await mkdir(workDir, { recursive: true });
  const parser = new MailParser({ skipTextToHtml: true, skipImageLinks: true, maxHtmlLengthToParse: 2_000_000 });
  const hash = createHash('sha256');
  let headers = new Map<string, unknown>();
  let text: string | null = null;
  let html: string | null = null;
  const attachments: MailAttachment[] = [];
  const writes: Promise<void>[] = [];
  parser.on('headers', (h) => (headers = h));
  parser.on('data', (data) => {
    if (data.type === 'text') {
      text = data.text ?? null;
      html = typeof data.html === 'string' ? data.html : null;
      return;
    }
    const n = attachments.length + 1;
    const filename = safeName(data.filename ?? '', n);
    const path = join(workDir, `${n}-${filename}`);
    const ctype = data.headers.get('content-type') as { value?: string; params?: Record<string, string> } | undefined;
    const att: MailAttachment = {
      path,
      filename: data.filename ?? (data.contentType === 'text/calendar' ? 'invite.ics' : filename),
      contentType: data.contentType,
      size: 0,
      cid: data.cid ?? null,
      related: data.related === true,
      calendarMethod: data.contentType === 'text/calendar' ? (ctype?.params?.method?.toUpperCase() ?? null) : null,
    };
    attachments.push(att);
    data.content.on('data', (chunk: Buffer) => (att.size += chunk.length));
    writes.push(
      pipeline(data.content, createWriteStream(path)).finally(() => {
        data.release?.();
      }),
    );
  });
  const ended = new Promise<void>((resolve, reject) => {
    parser.on('end', resolve);
    parser.on('error', reject);
  });
  message.on('data', (chunk: Buffer) => hash.update(chunk));
  await pipeline(message, parser as unknown as NodeJS.WritableStream);
  await ended;
  await Promise.all(writes);

  const contentType = String((headers.get('content-type') as { value?: string } | undefined)?.value ?? 'text/plain');
  const problems: string[] = [];
  const rawId = ids(headers.get('message-id'))[0];
  const from = people(headers.get('from'))[0] ?? null;
  const date = headers.get('date');
  if (contentType.startsWith('multipart/') && text === null && html === null && attachments.length === 0) {
    problems.push('its MIME structure is broken (no part matched the declared boundary), so its body could not be read');
  }
  return {
    messageId: rawId ?? `sha256-${hash.digest('hex').slice(0, 40)}@patchbay.invalid`,
    inReplyTo: ids(headers.get('in-reply-to'))[0] ?? null,
    references: ids(headers.get('references')),
    subject: typeof headers.get('subject') === 'string' ? (headers.get('subject') as string).trim() : '',
    from,
    replyTo: people(headers.get('reply-to'))[0] ?? null,
    to: people(headers.get('to')),
    cc: people(headers.get('cc')),
    date: date instanceof Date && !Number.isNaN(date.getTime()) ? date.getTime() : null,
    text,
    html,
    attachments,
    autoSubmitted: typeof headers.get('auto-submitted') === 'string' ? (headers.get('auto-submitted') as string) : null,
    listId: (headers.get('list-id') as { text?: string } | undefined)?.text ?? (typeof headers.get('list-id') === 'string' ? (headers.get('list-id') as string) : null),
    contentType,
    problems,
  };
}
