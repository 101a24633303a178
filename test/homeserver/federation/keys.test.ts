// The server's own key file and key response, and the cache of other servers' keys (direct fetch,
// notaries, failures), with a fake network: each remote response here is really signed.
import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { LocalServerKeys } from '../../../homeserver/federation/keys/LocalServerKeys.js';
import { RemoteKeyStore, type KeyServerTransport } from '../../../homeserver/federation/keys/RemoteKeyStore.js';
import { MAX_KEY_VALIDITY_MS, readServerKeys } from '../../../homeserver/federation/keys/ServerKeysResponse.js';
import { StoredRemoteKeys } from '../../../homeserver/federation/keys/StoredRemoteKeys.js';
import { openDatabase } from '../../../homeserver/storage/Database.js';
import { loadOrCreateSigningKeys, oldKeysFileOf, rotateSigningKey, SigningKeyFileError } from '../../../homeserver/federation/keys/SigningKeyFile.js';
import { Ed25519SigningKey } from '../../../homeserver/federation/signing/Ed25519.js';
import { signJson, type ServerSigningKey } from '../../../homeserver/federation/signing/SignedJson.js';
import { encodeUnpaddedBase64 } from '../../../homeserver/federation/signing/UnpaddedBase64.js';

const DAY = 24 * 3600 * 1000;
const quiet = pino({ level: 'silent' });
const tempFile = (name: string): string => join(mkdtempSync(join(tmpdir(), 'pb-fedkeys-')), 'sub', name);
const newKey = (id: string): ServerSigningKey => ({ keyId: id, key: Ed25519SigningKey.generate() });

describe('the signing key file', () => {
  it('is made on first start, owner-only, and read back unchanged', () => {
    const file = tempFile('signing.key');
    const first = loadOrCreateSigningKeys(file);
    expect(first.created).toBe(true);
    expect(first.current.keyId).toMatch(/^ed25519:a_[A-Za-z0-9]{8}$/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).toMatch(/^ed25519 a_[A-Za-z0-9]{8} [A-Za-z0-9+/]{43}\n$/);
    const again = loadOrCreateSigningKeys(file);
    expect(again.created).toBe(false);
    expect(again.current.keyId).toBe(first.current.keyId);
    expect(Buffer.from(again.current.key.publicKey)).toEqual(Buffer.from(first.current.key.publicKey));
  });

  it('rotates: a new key id, the old public key kept with its expiry', () => {
    const file = tempFile('signing.key');
    const before = loadOrCreateSigningKeys(file).current;
    const after = rotateSigningKey(file, 1_700_000_000_000);
    expect(after.current.keyId).not.toBe(before.keyId);
    expect(after.old).toEqual({ [before.keyId]: { key: encodeUnpaddedBase64(before.key.publicKey), expired_ts: 1_700_000_000_000 } });
    expect(loadOrCreateSigningKeys(file).old).toEqual(after.old);
    expect(statSync(oldKeysFileOf(file)).mode & 0o777).toBe(0o600);
    const twice = rotateSigningKey(file, 1_800_000_000_000);
    expect(Object.keys(twice.old).sort()).toEqual([before.keyId, after.current.keyId].sort());
  });

  it('names the file and the fix when it is damaged', () => {
    const file = tempFile('signing.key');
    loadOrCreateSigningKeys(file);
    writeFileSync(file, 'ed25519 a_x notbase64!\n');
    expect(() => loadOrCreateSigningKeys(file)).toThrow(SigningKeyFileError);
    expect(() => loadOrCreateSigningKeys(file)).toThrow(/signing\.key: the seed is not 32 bytes.*Fix or remove the file/);
  });
});

describe('the key response', () => {
  it('is signed by the current key, lists the old ones, and reads back as the spec says', () => {
    const file = tempFile('signing.key');
    const first = loadOrCreateSigningKeys(file).current;
    const keys = new LocalServerKeys('a.test', rotateSigningKey(file, 1000), DAY);
    const body = keys.serverKeys(5000);
    expect(body.valid_until_ts).toBe(5000 + DAY);
    expect(Object.keys(body.verify_keys)).toEqual([keys.signing.keyId]);
    expect(body.old_verify_keys[first.keyId]).toEqual({ key: encodeUnpaddedBase64(first.key.publicKey), expired_ts: 1000 });
    const read = readServerKeys('a.test', body, 5000);
    expect(read.get(keys.signing.keyId)?.validUntilTs).toBe(5000 + DAY);
    expect(read.get(first.keyId)?.validUntilTs).toBe(1000);
  });

  it('is refused when it is for another server, unsigned, or its signature is wrong', () => {
    const key = newKey('ed25519:k');
    const body = new LocalServerKeys('a.test', { current: key, old: {} }, DAY).serverKeys(0);
    expect(() => readServerKeys('b.test', body, 0)).toThrow(/response is for "a.test"/);
    const { signatures: _s, ...unsigned } = body;
    expect(() => readServerKeys('a.test', unsigned, 0)).toThrow(/not signed by any of its verify keys/);
    expect(() => readServerKeys('a.test', { ...body, valid_until_ts: body.valid_until_ts + 1 }, 0)).toThrow(/does not verify/);
  });

  it('is trusted for at most 7 days, whatever valid_until_ts says', () => {
    const key = newKey('ed25519:k');
    const body = new LocalServerKeys('a.test', { current: key, old: {} }, 365 * DAY).serverKeys(0);
    expect(readServerKeys('a.test', body, 10).get('ed25519:k')?.validUntilTs).toBe(10 + MAX_KEY_VALIDITY_MS);
  });
});

/** A network of servers that answer key requests, counting them. */
function fakeNetwork(now: () => number) {
  const servers = new Map<string, { keys: LocalServerKeys; up: boolean }>();
  const calls: string[] = [];
  const add = (name: string, up = true): LocalServerKeys => {
    const keys = new LocalServerKeys(name, { current: newKey(`ed25519:${name}`), old: {} }, DAY);
    servers.set(name, { keys, up });
    return keys;
  };
  const transport: KeyServerTransport = {
    async getServerKeys(name) {
      calls.push(`direct ${name}`);
      const s = servers.get(name);
      if (!s?.up) throw new Error(`${name} unreachable`);
      return s.keys.serverKeys(now());
    },
    async queryNotary(notary, body) {
      calls.push(`notary ${notary}`);
      const n = servers.get(notary);
      if (!n?.up) throw new Error(`${notary} unreachable`);
      const wanted = Object.keys((body as { server_keys: Record<string, unknown> }).server_keys);
      // The notary can reach servers we cannot (it cached them): it signs their own responses.
      const server_keys = wanted.map((w) => signJson(servers.get(w)!.keys.serverKeys(now()), notary, n.keys.signing));
      return { server_keys };
    },
  };
  return { add, servers, calls, transport };
}

describe('RemoteKeyStore', () => {
  it('fetches a key once, caches it, and shares one fetch between concurrent lookups', async () => {
    let now = 1_000_000;
    const net = fakeNetwork(() => now);
    const a = net.add('a.test');
    const store = new RemoteKeyStore(net.transport, [], quiet, () => now);
    const [k1, k2] = await Promise.all([store.verifyKey('a.test', 'ed25519:a.test', now), store.verifyKey('a.test', 'ed25519:a.test', now)]);
    expect(Buffer.from(k1!)).toEqual(Buffer.from(a.signing.key.publicKey));
    expect(k2).toEqual(k1);
    expect(await store.verifyKey('a.test', 'ed25519:a.test', now)).toEqual(k1);
    expect(net.calls).toEqual(['direct a.test']);
    // Past valid_until_ts the key is fetched again.
    now += DAY + 1;
    await store.verifyKey('a.test', 'ed25519:a.test', now);
    expect(net.calls).toEqual(['direct a.test', 'direct a.test']);
  });

  it('asks a notary when the server is unreachable, and checks the notary signed the answer', async () => {
    const now = 1_000_000;
    const net = fakeNetwork(() => now);
    const a = net.add('a.test', false);
    const notary = net.add('notary.test');
    const pinned = { serverName: 'notary.test', verifyKeys: { 'ed25519:notary.test': encodeUnpaddedBase64(notary.signing.key.publicKey) } };
    const store = new RemoteKeyStore(net.transport, [pinned], quiet, () => now);
    expect(Buffer.from((await store.verifyKey('a.test', 'ed25519:a.test', now))!)).toEqual(Buffer.from(a.signing.key.publicKey));
    expect(net.calls).toEqual(['direct a.test', 'notary notary.test']);

    // A notary whose pinned key does not match what signed the answer is not believed.
    const net2 = fakeNetwork(() => now);
    net2.add('a.test', false);
    net2.add('notary.test');
    const wrongPin = { serverName: 'notary.test', verifyKeys: { 'ed25519:notary.test': encodeUnpaddedBase64(newKey('x').key.publicKey) } };
    const store2 = new RemoteKeyStore(net2.transport, [wrongPin], quiet, () => now);
    expect(await store2.verifyKey('a.test', 'ed25519:a.test', now)).toBeNull();
  });

  it('fetches an unpinned notary key from the notary itself', async () => {
    const now = 1_000_000;
    const net = fakeNetwork(() => now);
    net.add('a.test', false);
    net.add('notary.test');
    const store = new RemoteKeyStore(net.transport, [{ serverName: 'notary.test' }], quiet, () => now);
    expect(await store.verifyKey('a.test', 'ed25519:a.test', now)).not.toBeNull();
    expect(net.calls).toEqual(['direct a.test', 'notary notary.test', 'direct notary.test']);
  });

  it('does not ask an unreachable server again for a minute, and knows no key it was not given', async () => {
    let now = 1_000_000;
    const net = fakeNetwork(() => now);
    net.add('down.test', false);
    const store = new RemoteKeyStore(net.transport, [], quiet, () => now);
    expect(await store.verifyKey('down.test', 'ed25519:down.test', now)).toBeNull();
    expect(await store.verifyKey('down.test', 'ed25519:down.test', now)).toBeNull();
    expect(net.calls).toEqual(['direct down.test']);
    now += 60_001;
    net.servers.get('down.test')!.up = true;
    expect(await store.verifyKey('down.test', 'ed25519:down.test', now)).not.toBeNull();
    expect(await store.verifyKey('down.test', 'ed25519:other', now)).toBeNull();
  });

  it('accepts an old key only for what was signed before it expired', async () => {
    const now = 1_000_000;
    const old = newKey('ed25519:old');
    const keys = new LocalServerKeys('a.test', { current: newKey('ed25519:new'), old: { 'ed25519:old': { key: encodeUnpaddedBase64(old.key.publicKey), expired_ts: 500_000 } } }, DAY);
    const transport: KeyServerTransport = { getServerKeys: async () => keys.serverKeys(now), queryNotary: async () => ({}) };
    const store = new RemoteKeyStore(transport, [], quiet, () => now);
    expect(await store.verifyKey('a.test', 'ed25519:old', 400_000)).not.toBeNull();
    expect(await store.verifyKey('a.test', 'ed25519:old', now)).toBeNull();
  });

  it('keeps fetched keys in the database: a new store uses them until their valid_until_ts, then fetches again', async () => {
    let now = 1_000_000;
    const keys = new LocalServerKeys('a.test', { current: newKey('ed25519:k'), old: {} }, DAY);
    let fetches = 0;
    const transport: KeyServerTransport = {
      getServerKeys: async () => {
        fetches++;
        return keys.serverKeys(now);
      },
      queryNotary: async () => ({}),
    };
    const db = openDatabase({ kind: 'memory' });
    try {
      const first = new RemoteKeyStore(transport, [], quiet, () => now, new StoredRemoteKeys(db));
      expect(await first.verifyKey('a.test', 'ed25519:k', now)).not.toBeNull();
      expect(fetches).toBe(1);
      const restarted = new RemoteKeyStore(transport, [], quiet, () => now, new StoredRemoteKeys(db));
      expect(await restarted.verifyKey('a.test', 'ed25519:k', now)).not.toBeNull();
      expect(fetches).toBe(1);
      now += DAY + 1;
      const later = new RemoteKeyStore(transport, [], quiet, () => now, new StoredRemoteKeys(db));
      expect(await later.verifyKey('a.test', 'ed25519:k', now)).not.toBeNull();
      expect(fetches).toBe(2);
      expect(new StoredRemoteKeys(db).load('a.test').get('ed25519:k')!.validUntilTs).toBe(now + DAY);
    } finally {
      db.close();
    }
  });
});
