import { describe, expect, test } from '@jest/globals';
import { GhostIdentities } from '../GhostIdentities.js';
import { foldCase, parseCaseMapping } from '../IrcCaseMapping.js';
import { alternativeNick, isValidNick, nickFromTemplate, toNickChars } from '../PuppetNickPolicy.js';

describe('case mapping', () => {
  test('rfc1459 folds []\\^, strict-rfc1459 not ^, ascii only letters', () => {
    expect(foldCase('Nick[A]\\^', 'rfc1459')).toBe('nick{a}|~');
    expect(foldCase('Nick[A]\\^', 'strict-rfc1459')).toBe('nick{a}|^');
    expect(foldCase('Nick[A]\\^', 'ascii')).toBe('nick[a]\\^');
    expect(parseCaseMapping(undefined)).toBe('rfc1459');
    expect(parseCaseMapping('ascii')).toBe('ascii');
  });
});

describe('puppet nicks', () => {
  test('display names become valid nicks with the template suffix kept within NICKLEN', () => {
    expect(nickFromTemplate('$DISPLAY[m]', { displayName: 'Alice Smith', userId: '@alice:hs' }, 30)).toBe('Alice_Smith[m]');
    expect(nickFromTemplate('$DISPLAY[m]', { displayName: 'José Ñúñez', userId: '@j:hs' }, 30)).toBe('Jose_Nunez[m]');
    expect(nickFromTemplate('$DISPLAY[m]', { displayName: 'A very long display name indeed', userId: '@a:hs' }, 9)).toBe('A_very[m]');
    expect(nickFromTemplate('$DISPLAY[m]', { displayName: '42 is the answer', userId: '@a:hs' }, 30)).toBe('_42_is_the_answer[m]');
    // Nothing usable in the display name: the localpart.
    expect(nickFromTemplate('$DISPLAY[m]', { displayName: '日本語', userId: '@tanaka:hs' }, 30)).toBe('tanaka[m]');
    expect(nickFromTemplate('M-$LOCALPART', { displayName: 'x', userId: '@bob.smith:hs' }, 30)).toBe('M-bobsmith');
    // Injection attempts cannot survive.
    const evil = nickFromTemplate('$DISPLAY', { displayName: 'x\r\nQUIT :bye', userId: '@e:hs' }, 30);
    expect(isValidNick(evil)).toBe(true);
    expect(evil).toBe('x_QUIT_bye');
  });

  test('alternatives for a nick in use stay within NICKLEN and differ', () => {
    const seen = new Set<string>();
    for (let i = 1; i <= 20; i++) {
      const alt = alternativeNick('abcdefghi', i, 9);
      expect(alt.length).toBeLessThanOrEqual(9);
      expect(isValidNick(alt, 9)).toBe(true);
      seen.add(alt);
    }
    expect(seen.size).toBe(20);
  });

  test('toNickChars and isValidNick', () => {
    expect(toNickChars('  a  b ')).toBe('a_b');
    expect(isValidNick('1abc')).toBe(false);
    expect(isValidNick('a b')).toBe(false);
    expect(isValidNick('[m]alice')).toBe(true);
  });
});

describe('ghost identities', () => {
  test('a ghost follows its person across nick changes', () => {
    const g = new GhostIdentities('rfc1459');
    expect(g.keyFor('Alice')).toBe('alice');
    expect(g.rename('Alice', 'Alice_away')).toBe('alice');
    expect(g.keyFor('alice_AWAY')).toBe('alice');
    expect(g.peek('Alice')).toBeUndefined();
  });

  test('a newcomer taking a renamed person\'s old nick gets a ghost of their own', () => {
    const g = new GhostIdentities('rfc1459');
    g.keyFor('alice');
    g.rename('alice', 'bob');
    expect(g.keyFor('alice')).toBe('alice.2');
    expect(g.keyFor('bob')).toBe('alice');
    // Once the renamed person leaves, the nick's own ghost is free again.
    g.forget('bob');
    g.forget('alice');
    expect(g.keyFor('alice')).toBe('alice');
  });

  test('case mapping decides sameness', () => {
    const g = new GhostIdentities('rfc1459');
    expect(g.keyFor('Nick[1]')).toBe(g.keyFor('nick{1}'));
  });
});
