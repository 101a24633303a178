// What may travel in an IRC line. IRC commands are delimited by CR/LF and NUL ends a C string on many
// servers; \x01 starts a CTCP. Text from Matrix must never carry any of them, or a message could smuggle
// its own IRC command ("hi\r\nPRIVMSG NickServ :DROP") or a CTCP request.

/** mIRC formatting codes that are allowed to pass: bold, colour, hex colour, reset, mono, reverse, italic, strike, underline. */
export const MIRC_FORMAT_CODES = '\x02\x03\x04\x0f\x11\x16\x1d\x1e\x1f';

const C0_EXCEPT_FORMATTING_AND_NEWLINE = /[\x00\x01\x05-\x08\x0a-\x0e\x10\x12-\x15\x17-\x1c\x7f]/g;

/**
 * Matrix text -> text safe to cut into IRC lines: CRLF/CR become LF (the splitter turns each LF into its
 * own line), tabs become spaces, other control characters (NUL, \x01 CTCP, bell, DEL...) are removed.
 * mIRC formatting codes are kept only when `keepFormatting` (our own HTML->mIRC output).
 */
export function sanitizeOutgoingText(text: string, keepFormatting = false): string {
  let out = text.replace(/\r\n?/g, '\n').replace(/\t/g, '    ');
  out = out.replace(/[\u2028\u2029]/g, '\n');
  out = out.replace(C0_EXCEPT_FORMATTING_AND_NEWLINE, (ch) => (ch === '\n' ? '\n' : ''));
  if (!keepFormatting) out = out.replace(/[\x02\x03\x04\x0f\x11\x16\x1d\x1e\x1f]/g, '');
  return out;
}

/** One IRC parameter that must be a single token (a nick, a channel, a key): no spaces, no controls, no leading ':'. */
export function isSafeIrcToken(token: string): boolean {
  return token.length > 0 && token.length <= 200 && !token.startsWith(':') && !/[\x00-\x20\x7f,]/.test(token);
}

/** IRC -> Matrix: drop control characters that are neither formatting nor printable (formatting is parsed later). */
export function sanitizeIncomingText(text: string): string {
  return text.replace(/[\x00\x01\x05-\x08\x0a-\x0e\x10\x12-\x15\x17-\x1c\x7f]/g, '');
}

/** A valid channel name per RFC 2812 plus the server's CHANTYPES: no space, comma, BEL or control chars. */
export function isValidChannelName(name: string, chanTypes = '#&'): boolean {
  return name.length >= 2 && name.length <= 200 && chanTypes.includes(name[0] ?? '') && !/[\x00-\x20\x07,:\x7f]/.test(name);
}
