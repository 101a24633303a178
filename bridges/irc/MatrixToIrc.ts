// Matrix message content -> the text one IRC message carries: formatted HTML or plain body (reply
// fallbacks removed), replies as a one-line quote that highlights the original author, and edits as a
// short correction (`* new words`) instead of a second copy of the whole message.
import { htmlToMirc } from './HtmlToMirc.js';
import type { MessageKind } from './IrcConnection.js';
import { sanitizeOutgoingText } from './IrcTextSanitizer.js';

export interface OutgoingText {
  kind: MessageKind;
  text: string;
}

export interface ComposeOptions {
  mentionNick?: (userId: string) => string | null;
  /** The message replied to: who wrote it (IRC nick) and what it said. */
  replyTo?: { nick: string; text: string } | null;
  /** For an edit: the text the original message had on IRC (null if unknown). */
  editOf?: { text: string } | null;
}

const SEGMENTER = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/** Shortens to `max` graphemes, ending with an ellipsis when cut. */
export function shorten(text: string, max: number): string {
  const graphemes = [...SEGMENTER.segment(text)].map((s) => s.segment);
  return graphemes.length <= max ? text : `${graphemes.slice(0, max - 1).join('').trimEnd()}…`;
}

/** Removes the `> <@user> quoted` lines clients used to prepend to replies (reply fallback). */
export function stripReplyFallback(body: string): string {
  const lines = body.split('\n');
  let i = 0;
  while (i < lines.length && (lines[i] as string).startsWith('> ')) i++;
  if (i > 0 && i < lines.length && lines[i] === '') i++;
  return i > 0 && i < lines.length ? lines.slice(i).join('\n') : body;
}

function kindOf(msgtype: unknown): MessageKind | null {
  if (msgtype === 'm.text') return 'privmsg';
  if (msgtype === 'm.emote') return 'action';
  if (msgtype === 'm.notice') return 'notice';
  return null;
}

/** The IRC text of a text-like message content (m.text/m.emote/m.notice), or null for other msgtypes. */
export function contentToIrc(content: Record<string, unknown>, options: ComposeOptions = {}): OutgoingText | null {
  const kind = kindOf(content.msgtype);
  if (kind === null) return null;
  const body = typeof content.body === 'string' ? content.body : '';
  const html = content.format === 'org.matrix.custom.html' && typeof content.formatted_body === 'string' ? content.formatted_body : null;
  let text = html !== null ? sanitizeOutgoingText(htmlToMirc(html, { mentionNick: options.mentionNick }), true) : sanitizeOutgoingText(stripReplyFallback(body));
  if (text.trim() === '' && body.trim() !== '') text = sanitizeOutgoingText(stripReplyFallback(body));
  if (options.replyTo) {
    const quoted = shorten(options.replyTo.text.replace(/\s+/g, ' ').replace(/\x03\d{0,2}(,\d{1,2})?|\x04[0-9a-fA-F]{0,6}|[\x02\x0f\x11\x16\x1d\x1e\x1f]/g, '').trim(), 40);
    text = `${options.replyTo.nick}: "${quoted}" <- ${text}`;
  }
  return { kind, text };
}

/**
 * The correction line for an edit: only the words that changed (`* dogs` for "I like cats" -> "I like
 * dogs"), or the new text when most of it changed or the old text is unknown. Null when nothing changed.
 */
export function editCorrection(oldText: string | null, newText: string): string | null {
  const next = newText.trim();
  if (oldText === null) return `* ${next}`;
  const prev = oldText.trim();
  if (prev === next) return null;
  const a = prev.split(/\s+/);
  const b = next.split(/\s+/);
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  const changed = b.slice(start, endB);
  if (changed.length === 0) {
    // Words were only removed: show the new text around the gap.
    return `* ${next}`;
  }
  const changedText = changed.join(' ');
  return changed.length * 2 <= b.length || changedText.length * 2 <= next.length ? `* ${changedText}` : `* ${next}`;
}
