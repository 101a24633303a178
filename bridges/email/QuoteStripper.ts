// Quoted replies and signatures at the end of a plain-text mail: what a reader of the conversation has
// already seen. Interleaved quotes (a quote, an answer, a quote, an answer) are kept: only the tail goes.

const ATTRIBUTION = [
  /^On .{4,200}wrote:\s*$/i,
  /^Am .{4,200}schrieb.{0,40}:\s*$/i,
  /^Le .{4,200}a écrit\s*:\s*$/i,
  /^El .{4,200}escribió:\s*$/i,
  /^.{1,200}<[^<>@\s]+@[^<>\s]+> (wrote|schrieb|a écrit|escribió)\s*:\s*$/i,
];
const FORWARD_SEPARATOR = /^\s*(-{2,}\s*(Original Message|Ursprüngliche Nachricht|Message d'origine)\s*-{2,}|_{20,})\s*$/i;
/** Outlook's header block: "From: ... Sent: ..." starting the quoted original. */
const OUTLOOK_FROM = /^\s*(From|Von|De):\s.+$/;
const OUTLOOK_SENT = /^\s*(Sent|Gesendet|Envoyé|Date):\s.+$/;
const MAX_SIGNATURE_LINES = 12;

export function stripQuotedText(text: string): string {
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  let end = lines.length;
  // A forwarded-original separator or an Outlook header block: everything from it on is the old mail.
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (FORWARD_SEPARATOR.test(line) || (OUTLOOK_FROM.test(line) && OUTLOOK_SENT.test(lines[i + 1] ?? ''))) {
      end = i;
      break;
    }
  }
  // Trailing quoted lines, and the attribution line above them.
  let i = end;
  while (i > 0 && (lines[i - 1]!.trim() === '' || lines[i - 1]!.startsWith('>'))) i--;
  if (i < end && lines.slice(i, end).some((l) => l.startsWith('>'))) {
    end = i;
    // The attribution may wrap onto two lines ("On Mon, ... Alice <a@b>\nwrote:").
    const one = lines[end - 1]?.trim() ?? '';
    const two = `${lines[end - 2]?.trim() ?? ''} ${one}`;
    if (ATTRIBUTION.some((r) => r.test(one))) end -= 1;
    else if (ATTRIBUTION.some((r) => r.test(two))) end -= 2;
  }
  // A signature: after the "-- " delimiter, if it is short.
  for (let j = end - 1; j >= 0 && end - j <= MAX_SIGNATURE_LINES + 1; j--) {
    if (lines[j] === '-- ' || lines[j] === '--') {
      end = j;
      break;
    }
  }
  const kept = lines.slice(0, end).join('\n').trimEnd();
  // Never strip a mail down to nothing: a mail that is all quote is shown whole.
  return kept.trim().length > 0 ? kept : text.trimEnd();
}
