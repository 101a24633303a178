// One mail as the text of a Matrix message: a sender-check warning if any, the subject where it says
// something new, the reply without its quoted tail and signature, and the whole mail one click away
// (`<details>` in formatted_body). A Matrix event must stay under 64 KiB: a longer mail is cut here and the
// caller attaches it whole as a file.
import type { TextContent } from 'patchbay-matrix/plugin';
import { escapeHtml, sanitizeMailHtml, textToHtml } from './MailHtml.js';
import type { ReadMail } from './MailReader.js';
import { stripQuotedText } from './QuoteStripper.js';

export interface RenderOptions {
  stripQuotes: boolean;
  inlineImages: ReadonlyMap<string, string>;
  showSubject: boolean;
  warning: string | null;
  /** Lines added at the end (an attachment that could not be carried). */
  notes?: string[];
}

/** Room left for body + formatted_body in one event (the rest of the event and its JSON escaping need the remainder). */
const BUDGET_BYTES = 40_000;
const CUT_CHARS = 12_000;

export function subjectIsNew(subject: string, threadSubject: string | null): boolean {
  const bare = (s: string) => s.replace(/^\s*((re|aw|fwd?|sv|wg)\s*(\[\d+\])?\s*:\s*)+/i, '').trim().toLowerCase();
  return subject.trim() !== '' && (threadSubject === null || bare(subject) !== bare(threadSubject));
}

export function renderMail(mail: ReadMail, o: RenderOptions): { content: TextContent; cut: boolean } {
  const text = mail.text ?? '';
  const shortText = o.stripQuotes ? stripQuotedText(text) : text.trimEnd();
  const fullHtml = mail.html !== null ? sanitizeMailHtml(mail.html, { inlineImages: o.inlineImages, stripQuotes: false }) : textToHtml(text.trimEnd());
  const shortHtml = !o.stripQuotes ? fullHtml : mail.html !== null ? sanitizeMailHtml(mail.html, { inlineImages: o.inlineImages, stripQuotes: true }) : textToHtml(shortText);
  const headText: string[] = [];
  const headHtml: string[] = [];
  if (o.warning !== null) {
    headText.push(o.warning);
    headHtml.push(`<p><strong>${escapeHtml(o.warning)}</strong></p>`);
  }
  if (o.showSubject && mail.subject !== '') {
    headText.push(mail.subject);
    headHtml.push(`<p><strong>${escapeHtml(mail.subject)}</strong></p>`);
  }
  for (const p of mail.problems) {
    headText.push(`(This mail could not be shown completely: ${p}; the original is attached.)`);
    headHtml.push(`<p><em>(This mail could not be shown completely: ${escapeHtml(p)}; the original is attached.)</em></p>`);
  }
  const join = (head: string[], rest: string, sep: string) => [...head, rest, ...(o.notes ?? []).map((n) => (sep === '' ? `<p><em>${escapeHtml(n)}</em></p>` : n))].filter((s) => s !== '').join(sep);
  const more = shortHtml !== fullHtml && fullHtml !== '' ? `<details><summary>Show the whole mail</summary>${fullHtml}</details>` : '';
  let body = join(headText, shortText, '\n\n');
  let html = join(headHtml, shortHtml + more, '');
  let cut = false;
  if (Buffer.byteLength(body) + Buffer.byteLength(html) > BUDGET_BYTES) {
    cut = true;
    const note = '… (cut here: the whole mail is attached)';
    body = join(headText, `${shortText.slice(0, CUT_CHARS)}${note}`, '\n\n');
    html = join(headHtml, `${textToHtml(shortText.slice(0, CUT_CHARS))}<p><em>${escapeHtml(note)}</em></p>`, '');
  }
  if (body.trim() === '') body = mail.attachments.length > 0 ? '(attachments only)' : '(empty mail)';
  return { content: { msgtype: 'm.text', body, format: 'org.matrix.custom.html', formatted_body: html === '' ? escapeHtml(body) : html }, cut };
}
