import { describe, expect, it } from '@jest/globals';
import { escapeForeignId, unescapeForeignId } from '../../../core/identity/ForeignIdEscaping.js';
import { GhostIdError, NamespacedGhostDirectory } from '../../../core/identity/GhostDirectory.js';

const noIntent = async (): Promise<never> => {
  throw new Error('not used');
};

/** A small deterministic generator (mulberry32), so the property run is the same every time. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALPHABET = [...'abcxyzAQZ019._-/+=@#: !~%', 'é', 'ß', 'Ω', '日本', '🙂', '\u0000', '\t', '_', '=2b', '=='];

function randomId(next: () => number): string {
  const len = 1 + Math.floor(next() * 12);
  let s = '';
  for (let i = 0; i < len; i++) s += ALPHABET[Math.floor(next() * ALPHABET.length)];
  return s;
}

describe('ghost ids (spec mapping of foreign identifiers)', () => {
  const irc = new NamespacedGhostDirectory('irc_', 'hs', noIntent);
  const sip = new NamespacedGhostDirectory('sip_', 'hs', noIntent);
  const email = new NamespacedGhostDirectory('email_', 'hs', noIntent);

  it('gives the DESIGN rule 5 examples', () => {
    expect(irc.userIdFor('libera_alice')).toBe('@irc_libera_alice:hs');
    expect(sip.userIdFor('+14155550100')).toBe('@sip_=2b14155550100:hs');
    expect(email.userIdFor('alice@example.com')).toBe('@email_alice=40example.com:hs');
  });

  it('maps those back exactly', () => {
    expect(irc.remoteIdOf('@irc_libera_alice:hs')).toBe('libera_alice');
    expect(sip.remoteIdOf('@sip_=2b14155550100:hs')).toBe('+14155550100');
    expect(email.remoteIdOf('@email_alice=40example.com:hs')).toBe('alice@example.com');
  });

  it('escapes = itself and multi-byte UTF-8 byte by byte, in lower-case hex', () => {
    expect(escapeForeignId('a=b')).toBe('a=3db');
    expect(escapeForeignId('á')).toBe('=c3=a1');
    expect(escapeForeignId('#chan')).toBe('=23chan');
  });

  it('folds upper case: the MXID is lower case, and the reverse gives the folded id', () => {
    expect(irc.userIdFor('libera_Alice')).toBe('@irc_libera_alice:hs');
    expect(irc.remoteIdOf(irc.userIdFor('libera_Alice'))).toBe('libera_alice');
  });

  it('round-trips 5,000 generated ids (unicode, =, control bytes) and yields only valid localparts', () => {
    const next = random(42);
    for (let i = 0; i < 5000; i++) {
      const id = randomId(next);
      const userId = irc.userIdFor(id);
      expect(userId).toMatch(/^@[a-z0-9._=\-/]+:hs$/);
      expect(irc.remoteIdOf(userId)).toBe(id.replace(/[A-Z]/g, (c) => c.toLowerCase()));
    }
  });

  it('maps distinct (case-folded) ids to distinct users', () => {
    const next = random(7);
    const seen = new Map<string, string>();
    for (let i = 0; i < 5000; i++) {
      const id = randomId(next).toLowerCase();
      const userId = irc.userIdFor(id);
      const before = seen.get(userId);
      if (before !== undefined) expect(before).toBe(id);
      seen.set(userId, id);
    }
  });

  it('refuses non-canonical or foreign localparts instead of guessing', () => {
    expect(irc.remoteIdOf('@irc_=41:hs')).toBeNull(); // 'A' would be folded, never escaped
    expect(irc.remoteIdOf('@irc_=61:hs')).toBeNull(); // 'a' needs no escape
    expect(irc.remoteIdOf('@irc_=2B:hs')).toBeNull(); // upper-case hex
    expect(irc.remoteIdOf('@irc_=c3:hs')).toBeNull(); // truncated UTF-8
    expect(irc.remoteIdOf('@irc_=z1:hs')).toBeNull();
    expect(irc.remoteIdOf('@irc_:hs')).toBeNull();
    expect(irc.remoteIdOf('@sip_alice:hs')).toBeNull();
    expect(irc.remoteIdOf('@irc_alice:other')).toBeNull();
    expect(unescapeForeignId('a+b')).toBeNull();
  });

  it('rejects empty ids and ids whose user id would exceed 255 bytes', () => {
    expect(() => irc.userIdFor('')).toThrow(GhostIdError);
    expect(() => irc.userIdFor('日'.repeat(40))).toThrow(/at most 255/);
  });
});
