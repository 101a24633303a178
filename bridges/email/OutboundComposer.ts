// A Matrix message as a mail: multipart/alternative (the text, and HTML from formatted_body or from the
// body's Markdown), threading headers (In-Reply-To, References), a Message-ID made from the event id (so a
// retried send is recognisably the same mail), attachments; built by nodemailer's MailComposer.
import { createHash } from 'node:crypto';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import sanitizeHtml from 'sanitize-html';
import { escapeHtml } from './MailHtml.js';

export interface OutgoingMail {
  from: { name: string; address: string };
  to: string[];
  subject: string;
  text: string;
  /** HTML from the event's formatted_body; null: made from the text (Markdown). */
  html: string | null;
  messageId: string;
  inReplyTo: string | null;
  references: string[];
  attachments?: Array<{ filename: string; content: Buffer; contentType: string }>;
  /** Extra headers (List-Id, List-Unsubscribe, Reply-To, Auto-Submitted). */
  headers?: Record<string, string>;
  replyTo?: string;
  date?: Date;
}

/** `<hash-of-event-id>@<domain>`, without brackets: the same event always gives the same Message-ID. */
export function messageIdFor(eventId: string, domain: string): string {
  return `${createHash('sha256').update(eventId).digest('base64url').slice(0, 32).replace(/[-_]/g, 'x')}@${domain}`;
}

/** The HTML a Matrix client sent, tidied for mail: mxc:// images cannot be fetched by a mail reader. */
export function matrixHtmlForMail(html: string): string {
  // Matrix replies carry a quote of the original as a fallback; mail has its own threading.
  return sanitizeHtml(html.replace(/<mx-reply>[\s\S]*?<\/mx-reply>/g, ''), {
    allowedTags: sanitizeHtml.defaults.allowedTags.concat(['img', 'del', 'font', 'details', 'summary', 'h1', 'h2']),
    allowedAttributes: { a: ['href'], img: ['src', 'alt'], font: ['color'], code: ['class'] },
    allowedSchemes: ['http', 'https', 'mailto'],
    transformTags: {
      img: (_tag, attribs) => ({ tagName: 'span', attribs: {}, text: attribs.alt ? `[${attribs.alt}]` : '[image]' }),
    },
  });
}

/** A small Markdown subset (what people type in Matrix clients without formatting): emphasis, code, links. */
export function markdownToHtml(text: string): string {
  const blocks = text.replace(/\r\n/g, '\n').split(/\n{2,}/);
  return blocks
    .map((block) => {
      if (/^```/.test(block)) return `<pre><code>${escapeHtml(block.replace(/^```[^\n]*\n?|```$/g, ''))}</code></pre>`;
      let html = escapeHtml(block)
        .replace(/`([^`\n]+)`/g, '<code>$1</code>')
        .replace(/\*\*([^*\n]+)\*\*/g, '<strong>$1</strong>')
        .replace(/(^|[\s(])[*_]([^*_\n]+)[*_](?=$|[\s).,!?])/g, '$1<em>$2</em>')
        .replace(/\[([^\]\n]+)\]\((https?:\/\/[^\s)]+)\)/g, '<a href="$2">$1</a>')
        .replace(/(^|[\s(])(https?:\/\/[^\s<]+[^\s<.,;:!?)])/g, '$1<a href="$2">$2</a>');
      html = html.replace(/\n/g, '<br>\n');
      return /^&gt; /.test(block) ? `<blockquote>${html.replace(/(^|<br>\n)&gt; /g, '$1')}</blockquote>` : `<p>${html}</p>`;
    })
    .join('\n');
}

/** Drops Matrix's reply fallback (`> <@alice:hs> ...` lines and the blank line after them) from a body. */
export function withoutReplyFallback(body: string): string {
  const lines = body.split('\n');
  let i = 0;
  while (i < lines.length && lines[i]!.startsWith('> ')) i++;
  if (i > 0 && lines[0]!.startsWith('> <') && lines[i] === '') return lines.slice(i + 1).join('\n');
  return body;
}

export async function composeMail(m: OutgoingMail): Promise<Buffer> {
  const html = m.html !== null ? matrixHtmlForMail(m.html) : markdownToHtml(m.text);
  const composer = new MailComposer({
    from: m.from,
    to: m.to,
    subject: m.subject,
    text: m.text,
    html,
    messageId: `<${m.messageId}>`,
    ...(m.inReplyTo !== null && { inReplyTo: `<${m.inReplyTo}>` }),
    ...(m.references.length > 0 && { references: m.references.map((r) => `<${r}>`) }),
    ...(m.replyTo !== undefined && { replyTo: m.replyTo }),
    date: m.date ?? new Date(),
    headers: m.headers ?? {},
    attachments: m.attachments ?? [],
  });
  return composer.compile().build();
}
