// How a Matrix user's IRC nick is chosen: from a template over their display name, reduced to what IRC
// allows, truncated to the server's NICKLEN keeping the template's suffix (`[m]`), and on collision
// replaced by numbered alternatives, so a puppet never takes over a nick that belongs to someone else.

/** RFC 2812 nick characters: letters, digits, `[]\`_^{|}` and `-` (the first may not be a digit or `-`). */
const NICK_CHAR = /[A-Za-z0-9[\]\\`_^{|}-]/;

export interface NickSource {
  displayName?: string | null;
  /** The Matrix user id; its localpart is the fallback when there is no usable display name. */
  userId: string;
}

export function localpartOf(userId: string): string {
  const colon = userId.indexOf(':');
  return userId.slice(userId.startsWith('@') ? 1 : 0, colon === -1 ? undefined : colon);
}

/** Reduces free text to nick characters: accents dropped (é -> e), spaces to `_`, the rest removed. */
export function toNickChars(text: string): string {
  const ascii = text.normalize('NFKD').replace(/[\u0300-\u036f]/g, '');
  let out = '';
  for (const ch of ascii) {
    if (/\s/.test(ch)) out += '_';
    else if (NICK_CHAR.test(ch)) out += ch;
  }
  return out.replace(/_+/g, '_').replace(/^_+|_+$/g, '');
}

export function isValidNick(nick: string, nickLen = 30): boolean {
  return nick.length > 0 && nick.length <= nickLen && /^[A-Za-z[\]\\`_^{|}][A-Za-z0-9[\]\\`_^{|}-]*$/.test(nick);
}

/**
 * Applies a template such as `$DISPLAY[m]` (`$DISPLAY`: display name, `$LOCALPART`: the user id's
 * localpart). Only the placeholder's part is truncated to fit `nickLen`.
 */
export function nickFromTemplate(template: string, source: NickSource, nickLen: number): string {
  const localpart = toNickChars(localpartOf(source.userId));
  const display = toNickChars(source.displayName ?? '');
  const usesDisplay = template.includes('$DISPLAY');
  let name = usesDisplay ? (display !== '' ? display : localpart) : localpart;
  if (name === '') name = 'matrix';
  const placeholder = usesDisplay ? '$DISPLAY' : '$LOCALPART';
  const at = template.indexOf(placeholder);
  const before = at === -1 ? '' : toNickChars(template.slice(0, at));
  const after = at === -1 ? toNickChars(template) : toNickChars(template.slice(at + placeholder.length)).replace(/\$\w+/g, '');
  const room = Math.max(1, nickLen - before.length - after.length);
  let nick = before + name.slice(0, room) + after;
  if (!/^[A-Za-z[\]\\`_^{|}]/.test(nick)) nick = `_${nick}`;
  return nick.slice(0, nickLen);
}

/** The n-th alternative (n >= 1) for a nick in use: `nick_`, then `nick2`, `nick3`... within nickLen. */
export function alternativeNick(nick: string, attempt: number, nickLen: number): string {
  const suffix = attempt === 1 ? '_' : String(attempt);
  return nick.slice(0, Math.max(1, nickLen - suffix.length)) + suffix;
}
