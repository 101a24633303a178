// The little the bridge needs to know about a session description it passes along: that it is one (and
// not too large), where trickled ICE candidates go, and which way the media flows (hold is sendonly or
// inactive). Everything else passes through untouched.
import type { CallCandidate } from 'patchbay-matrix/plugin';

export type MediaDirection = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

const LINE = /^[a-z]=[^\r\n\0]*$/;

/** Null when `sdp` is a usable session description, else why not (for the log and the SIP reason). */
export function sdpProblem(sdp: string, maxBytes: number): string | null {
  if (Buffer.byteLength(sdp, 'utf8') > maxBytes) return `the session description is larger than ${maxBytes} bytes`;
  const lines = sdpLines(sdp);
  if (lines[0] !== 'v=0') return 'the session description does not start with v=0';
  if (!lines.some((l) => l.startsWith('m='))) return 'the session description has no media';
  const bad = lines.find((l) => !LINE.test(l));
  if (bad !== undefined) return `the session description has a malformed line (${JSON.stringify(bad.slice(0, 40))})`;
  return null;
}

export function sdpLines(sdp: string): string[] {
  return sdp.split(/\r?\n/).filter((l) => l !== '');
}

export function hasCandidates(sdp: string): boolean {
  return /^a=candidate:/m.test(sdp);
}

export function hasEndOfCandidates(sdp: string): boolean {
  return /^a=end-of-candidates/m.test(sdp);
}

/**
 * The SDP with trickled candidates written into their media sections (by sdpMLineIndex, else by mid,
 * else the first), each once, and `a=end-of-candidates` where the end was signalled.
 */
export function withCandidates(sdp: string, candidates: readonly CallCandidate[]): string {
  if (candidates.length === 0) return sdp;
  const lines = sdpLines(sdp);
  const sections: string[][] = [[]];
  for (const line of lines) {
    if (line.startsWith('m=')) sections.push([]);
    sections[sections.length - 1]!.push(line);
  }
  const media = sections.slice(1);
  if (media.length === 0) return sdp;
  const indexOf = (c: CallCandidate): number => {
    if (c.sdpMLineIndex !== undefined && c.sdpMLineIndex < media.length) return c.sdpMLineIndex;
    if (c.sdpMid !== undefined) {
      const i = media.findIndex((m) => m.includes(`a=mid:${c.sdpMid}`));
      if (i >= 0) return i;
    }
    return 0;
  };
  const ended = new Set<number>();
  for (const c of candidates) {
    const i = indexOf(c);
    const section = media[i]!;
    if (c.candidate === '') {
      ended.add(i);
      continue;
    }
    const line = `a=${c.candidate.replace(/^a=/, '')}`;
    if (LINE.test(line) && !section.includes(line)) section.push(line);
  }
  for (const i of ended) if (!media[i]!.includes('a=end-of-candidates')) media[i]!.push('a=end-of-candidates');
  return `${sections.flat().join('\r\n')}\r\n`;
}

/** The direction of the first audio section (`a=sendonly` etc., or a 0.0.0.0 connection: old-style hold). */
export function audioDirection(sdp: string): MediaDirection {
  const lines = sdpLines(sdp);
  const start = lines.findIndex((l) => l.startsWith('m=audio'));
  if (start < 0) return 'sendrecv';
  const end = lines.findIndex((l, i) => i > start && l.startsWith('m='));
  const section = lines.slice(start, end < 0 ? undefined : end);
  for (const d of ['sendonly', 'recvonly', 'inactive', 'sendrecv'] as const) if (section.includes(`a=${d}`)) return d;
  const connection = section.find((l) => l.startsWith('c=')) ?? lines.find((l) => l.startsWith('c='));
  return connection?.endsWith(' 0.0.0.0') ? 'inactive' : 'sendrecv';
}
