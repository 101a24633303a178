// Texts longer than a SIP MESSAGE should carry (a UDP hop past the SBC drops big datagrams; an SMS
// gateway has its own limits) leave as several, each at most `maxBytes` of UTF-8, cut between words
// where one fits, never inside a character.

export function splitText(text: string, maxBytes: number): string[] {
  if (Buffer.byteLength(text, 'utf8') <= maxBytes) return [text];
  const parts: string[] = [];
  let rest = text;
  while (Buffer.byteLength(rest, 'utf8') > maxBytes) {
    const chars = Array.from(rest);
    let bytes = 0;
    let cut = 0;
    let lastSpace = -1;
    for (let i = 0; i < chars.length; i++) {
      const size = Buffer.byteLength(chars[i]!, 'utf8');
      if (bytes + size > maxBytes) break;
      bytes += size;
      cut = i + 1;
      if (/\s/.test(chars[i]!)) lastSpace = i + 1;
    }
    // A word longer than a whole part is cut where the part is full.
    const at = lastSpace > cut / 2 ? lastSpace : cut;
    parts.push(chars.slice(0, at).join('').trimEnd());
    rest = chars.slice(at).join('').trimStart();
  }
  if (rest !== '') parts.push(rest);
  return parts;
}
