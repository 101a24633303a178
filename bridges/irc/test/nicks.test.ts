import { describe, expect, test } from '@jest/globals';
import { GhostIdentities, type GhostIdentityStore } from '../GhostIdentities.js';
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

/** A store like the bridge's: what a restarted process would read back. */
class MemoryIdentityStore implements GhostIdentityStore {
  readonly nicks = new Map<string, string>();
  readonly accounts = new Map<string, string>();
  writes = 0;
  nick(nick: string, key: string | null): void {
    this.writes++;
    if (key === null) this.nicks.delete(nick);
    else this.nicks.set(nick, key);
  }
  account(account: string, key: string): void {
    this.writes++;
    this.accounts.set(account, key);
  }
  restart(): GhostIdentities {
    const g = new GhostIdentities('rfc1459', this);
    g.restore([...this.nicks], [...this.accounts]);
    return g;
  }
}

describe('ghost identities across restarts', () => {
  test('by nick: a person who renamed before the restart is the same ghost under the new nick', () => {
    const store = new MemoryIdentityStore();
    const before = new GhostIdentities('rfc1459', store);
    before.keyFor('alice');
    before.keyFor('bob');
    before.rename('alice', 'alice_away');
    before.keyFor('alice'); // a newcomer: alice.2
    // Only nicks whose ghost is not their own name are stored.
    expect([...store.nicks]).toEqual([['alice_away', 'alice'], ['alice', 'alice.2']]);
    const after = store.restart();
    // The newcomer is seen first this time: the renamed person's ghost stays reserved for them.
    expect(after.keyFor('Alice')).toBe('alice.2');
    expect(after.keyFor('alice_away')).toBe('alice');
    expect(after.keyFor('bob')).toBe('bob');
    // A stranger with a new nick takes no one's ghost.
    expect(after.keyFor('carol')).toBe('carol');
  });

  test('restored nicks nobody came back with are dropped when the network settles; leaving forgets', () => {
    const store = new MemoryIdentityStore();
    const before = new GhostIdentities('rfc1459', store);
    before.keyFor('dave');
    before.rename('dave', 'dave_afk');
    const after = store.restart();
    expect(after.keyFor('dave')).toBe('dave.2'); // reserved while dave_afk may come back
    after.forget('dave');
    after.settle();
    expect(store.nicks.has('dave_afk')).toBe(false);
    expect(after.keyFor('dave')).toBe('dave');
    expect(after.keyFor('dave_afk')).toBe('dave_afk');
    expect([...store.nicks]).toEqual([]);
  });

  test('by account: the account keeps its ghost whatever the nick, and nobody without it gets that ghost', () => {
    const store = new MemoryIdentityStore();
    const before = new GhostIdentities('rfc1459', store);
    expect(before.identify('Carol', 'CarolAcct').key).toBe('carol');
    before.rename('Carol', 'carol_phone');
    expect([...store.accounts]).toEqual([['carolacct', 'carol']]);
    const after = store.restart();
    // Back with a nick never seen before: the account decides.
    expect(after.identify('cazza', 'carolacct')).toEqual({ key: 'carol' });
    // Someone else with her old nick: without the account they get a ghost of their own.
    expect(after.identify('carol', null).key).toBe('carol.2');
    expect(after.identify('carol_phone', 'someoneelse').key).toBe('carol_phone');
  });

  test("an account learned after the nick was placed moves it to the account's ghost; an anonymous nick leaves an account's ghost", () => {
    const store = new MemoryIdentityStore();
    const g = new GhostIdentities('rfc1459', store);
    g.identify('erin', 'erinacct');
    g.forget('erin');
    // Seen in NAMES (no account information) under another nick, then speaking with the account tag.
    expect(g.identify('erin_m', undefined)).toEqual({ key: 'erin_m' });
    expect(g.identify('erin_m', 'erinacct')).toEqual({ key: 'erin', previous: 'erin_m' });
    expect(g.identify('erin_m', 'erinacct')).toEqual({ key: 'erin' });
    // Unknown account first took the account's ghost by its nick; the server then says "not logged in".
    g.forget('erin_m');
    expect(g.identify('erin', undefined)).toEqual({ key: 'erin' });
    expect(g.identify('erin', null)).toEqual({ key: 'erin.2', previous: 'erin' });
  });

  test('two connections of one account: the second keeps a ghost of its own instead of taking the first one\'s', () => {
    const g = new GhostIdentities('rfc1459', new MemoryIdentityStore());
    expect(g.identify('frank', 'frankacct').key).toBe('frank');
    expect(g.identify('frank_laptop', 'frankacct').key).toBe('frank_laptop');
    expect(g.identify('frank_laptop', 'frankacct').key).toBe('frank_laptop');
  });
});
