// Canonical JSON, JSON signing and event hashing/signing against the spec's own test vectors
// (appendices: "Canonical JSON" examples and "Cryptographic Test Vectors"), plus a real event from the
// public federation, so the tests prove the bytes match other servers, not only themselves.
import { describe, expect, it } from '@jest/globals';
import { CanonicalJsonError, canonicalJson } from '../../../homeserver/federation/json/CanonicalJson.js';
import { Ed25519SigningKey } from '../../../homeserver/federation/signing/Ed25519.js';
import { signJson, verifyJsonSignature, type ServerSigningKey } from '../../../homeserver/federation/signing/SignedJson.js';
import { decodeBase64, encodeUnpaddedBase64 } from '../../../homeserver/federation/signing/UnpaddedBase64.js';
import { contentHash, eventIdOf, hasValidContentHash } from '../../../homeserver/federation/pdu/EventHashes.js';
import { redactEvent } from '../../../homeserver/federation/pdu/EventRedaction.js';
import { checkEventSignatures, hashAndSignEvent } from '../../../homeserver/federation/pdu/EventSigning.js';

// appendices, "Signing Key": the seed, server name and key id all the vectors use.
const SPEC_KEY: ServerSigningKey = {
  keyId: 'ed25519:1',
  key: Ed25519SigningKey.fromSeed(decodeBase64('YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1')!),
};

describe('canonical JSON (the spec appendix examples)', () => {
  it.each([
    [{}, '{}'],
    [{ one: 1, two: 'Two' }, '{"one":1,"two":"Two"}'],
    [{ b: '2', a: '1' }, '{"a":"1","b":"2"}'],
    [
      JSON.parse(
        '{"auth":{"success":true,"mxid":"@john.doe:example.com","profile":{"display_name":"John Doe","three_pids":[{"medium":"email","address":"john.doe@example.org"},{"medium":"msisdn","address":"123456789"}]}}}',
      ),
      '{"auth":{"mxid":"@john.doe:example.com","profile":{"display_name":"John Doe","three_pids":[{"address":"john.doe@example.org","medium":"email"},{"address":"123456789","medium":"msisdn"}]},"success":true}}',
    ],
    [{ a: '日本語' }, '{"a":"日本語"}'],
    [{ 本: 2, 日: 1 }, '{"日":1,"本":2}'],
    [JSON.parse('{"a":"\\u65E5"}'), '{"a":"日"}'],
    [{ a: null }, '{"a":null}'],
    [JSON.parse('{"a":-0,"b":1e10}'), '{"a":0,"b":10000000000}'],
  ])('%j -> %s', (input, expected) => {
    expect(canonicalJson(input)).toBe(expected);
  });

  it('escapes controls as the grammar says and leaves everything else as UTF-8', () => {
    expect(canonicalJson({ s: '\u0000\u0008\t\n\u000b\f\r\u001f"\\/\u007f\u2028' })).toBe('{"s":"\\u0000\\b\\t\\n\\u000b\\f\\r\\u001f\\"\\\\/\u007f\u2028"}');
  });

  it('takes plain objects from another realm (JSON parsed by fetch, for one)', async () => {
    const { runInNewContext } = await import('node:vm');
    expect(canonicalJson(runInNewContext('({ b: [1], a: { c: null } })'))).toBe('{"a":{"c":null},"b":[1]}');
    expect(canonicalJson(Object.assign(Object.create(null) as object, { x: 1 }))).toBe('{"x":1}');
  });

  it('sorts keys by code point, not by UTF-16 unit (U+1F600 after U+FB01)', () => {
    expect(canonicalJson({ '\u{1F600}': 1, '\uFB01': 2 })).toBe('{"\uFB01":2,"\u{1F600}":1}');
  });

  it.each([[{ f: 0.5 }], [{ n: 2 ** 53 }], [{ n: -(2 ** 53) }], [{ s: '\ud800' }], [{ n: Infinity }], [{ d: new Date(0) }], [{ m: new Map() }]])('refuses %j', (input) => {
    expect(() => canonicalJson(input)).toThrow(CanonicalJsonError);
  });
});

describe('JSON signing (the spec appendix vectors)', () => {
  it('signs {} as the spec shows', () => {
    expect(signJson({}, 'domain', SPEC_KEY)).toEqual({
      signatures: { domain: { 'ed25519:1': 'K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ' } },
    });
  });

  it('signs {"one":1,"two":"Two"} as the spec shows, and the signature verifies', () => {
    const signed = signJson({ one: 1, two: 'Two' }, 'domain', SPEC_KEY);
    expect(signed.signatures).toEqual({
      domain: { 'ed25519:1': 'KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw' },
    });
    expect(verifyJsonSignature(signed, 'domain', 'ed25519:1', SPEC_KEY.key.publicKey)).toBe(true);
    expect(verifyJsonSignature({ ...signed, unsigned: { age: 5 } }, 'domain', 'ed25519:1', SPEC_KEY.key.publicKey)).toBe(true);
    expect(verifyJsonSignature({ ...signed, one: 2 }, 'domain', 'ed25519:1', SPEC_KEY.key.publicKey)).toBe(false);
    expect(verifyJsonSignature(signed, 'other', 'ed25519:1', SPEC_KEY.key.publicKey)).toBe(false);
  });

  it('keeps a generated key across its seed, and a foreign key does not verify', () => {
    const key = Ed25519SigningKey.generate();
    expect(Buffer.from(Ed25519SigningKey.fromSeed(key.seed()).publicKey)).toEqual(Buffer.from(key.publicKey));
    const signed = signJson({ a: 1 }, 'domain', SPEC_KEY);
    expect(verifyJsonSignature(signed, 'domain', 'ed25519:1', key.publicKey)).toBe(false);
  });

  it('refuses a signature with characters Base64 does not have', () => {
    const signed = signJson({ a: 1 }, 'domain', SPEC_KEY);
    const sig = signed.signatures['domain']!['ed25519:1']!;
    const mangled = { ...signed, signatures: { domain: { 'ed25519:1': sig.slice(0, 10) + '!' + sig.slice(10) } } };
    expect(verifyJsonSignature(mangled, 'domain', 'ed25519:1', SPEC_KEY.key.publicKey)).toBe(false);
  });
});

describe('event hashing and signing (the spec appendix vectors)', () => {
  const minimal = {
    room_id: '!x:domain',
    sender: '@a:domain',
    origin: 'domain',
    origin_server_ts: 1000000,
    signatures: {},
    hashes: {},
    type: 'X',
    content: {},
    prev_events: [],
    auth_events: [],
    depth: 3,
    unsigned: { age_ts: 1000000 },
  };
  const message = {
    content: { body: 'Here is the message content' },
    event_id: '$0:domain',
    origin: 'domain',
    origin_server_ts: 1000000,
    type: 'm.room.message',
    room_id: '!r:domain',
    sender: '@u:domain',
    signatures: {},
    unsigned: { age_ts: 1000000 },
  };

  // The vectors were made with a redaction that keeps `origin` at the top level: version 10's.
  it('hashes and signs the minimal event as the spec shows', () => {
    const signed = hashAndSignEvent('10', minimal, 'domain', SPEC_KEY);
    expect(signed.hashes).toEqual({ sha256: '5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos' });
    expect(signed.signatures).toEqual({
      domain: { 'ed25519:1': 'KxwGjPSDEtvnFgU00fwFz+l6d2pJM6XBIaMEn81SXPTRl16AqLAYqfIReFGZlHi5KLjAWbOoMszkwsQma+lYAg' },
    });
    expect(signed.unsigned).toEqual({ age_ts: 1000000 });
  });

  it('hashes and signs the event with redactable content as the spec shows', () => {
    const signed = hashAndSignEvent('10', message, 'domain', SPEC_KEY);
    expect(signed.hashes).toEqual({ sha256: 'onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g' });
    expect(signed.signatures).toEqual({
      domain: { 'ed25519:1': 'Wm+VzmOUOz08Ds+0NTWb1d4CZrVsJSikkeRxh6aCcUwu6pNC78FunoD7KNWzqFn241eYHYMGCA5McEiVPdhzBA' },
    });
  });

  it('checks received events: valid, redacted copy when the content was changed, dropped when forged', async () => {
    const lookup = async (server: string, keyId: string): Promise<Uint8Array | null> =>
      server === 'domain' && keyId === 'ed25519:1' ? SPEC_KEY.key.publicKey : null;
    const signed = hashAndSignEvent('11', message, 'domain', SPEC_KEY);
    expect(await checkEventSignatures('11', signed, lookup)).toEqual({ outcome: 'valid' });

    const tampered = { ...signed, content: { body: 'Something else' } };
    const checked = await checkEventSignatures('11', tampered, lookup);
    expect(checked.outcome).toBe('redacted');
    expect(checked.outcome === 'redacted' && checked.event['content']).toEqual({});

    // A redacted copy of a good event still has a good signature (the hash then says "redacted").
    expect((await checkEventSignatures('11', redactEvent('11', signed), lookup)).outcome).toBe('redacted');

    const forged = { ...signed, sender: '@mallory:domain', content: signed.content };
    expect((await checkEventSignatures('11', forged, lookup)).outcome).toBe('bad_signature');
    const unknownKey = async (): Promise<Uint8Array | null> => null;
    expect((await checkEventSignatures('11', signed, unknownKey)).outcome).toBe('bad_signature');
  });
});

describe('reference hashes and v4 event ids', () => {
  // A room's create event from the public federation (server jki.re, 2019); its event id in the v4
  // format is known from the network. Its create content keeps only `creator` under version 10's
  // redaction, as it did in the room's own version (5).
  const create = {
    auth_events: [],
    prev_events: [],
    type: 'm.room.create',
    room_id: '!uXDCzlYgCTHtiWCkEx:jki.re',
    sender: '@erikj:jki.re',
    content: {
      room_version: '5',
      predecessor: { room_id: '!gdRMqOrTFdOCYHNwOo:half-shot.uk', event_id: '$LP7ROBc4b+cMc1UE9haIz8q5AK2AIW4eJ90FfKLvyZI' },
      creator: '@erikj:jki.re',
    },
    depth: 1,
    prev_state: [],
    state_key: '',
    origin: 'jki.re',
    origin_server_ts: 1560284621137,
    hashes: { sha256: 'IX6zuNiJpJPNf70BLleL3HSCpjKeq9Uhu7uUpyDjBmc' },
    signatures: { 'jki.re': { 'ed25519:auto': 'O4IyFfF2PPtGp5uaDm8t57dZbdh8vc8Q64LgCwvzYRVItAMI0uisfiAFaxkVT7MRpzh6N2QNN5NMRXZKmgPYDA' } },
    unsigned: { age: 1321650 },
  };

  it('gives the real event its known id and finds its content hash valid', () => {
    expect(eventIdOf('10', create)).toBe('$RrGxF28UrHLmoASHndYb9Jb_1SFww2ptmtur9INS438');
    expect(hasValidContentHash(create)).toBe(true);
    expect(encodeUnpaddedBase64(contentHash({ ...create, unsigned: { age: 1 } }))).toBe('IX6zuNiJpJPNf70BLleL3HSCpjKeq9Uhu7uUpyDjBmc');
  });

  it('is the same for the event and its redaction, and differs between v10 and v11', () => {
    expect(eventIdOf('10', redactEvent('10', create))).toBe(eventIdOf('10', create));
    // v11 keeps all of the create content and drops `origin`/`prev_state`: another id.
    expect(eventIdOf('11', create)).not.toBe(eventIdOf('10', create));
    expect(eventIdOf('11', create)).toMatch(/^\$[A-Za-z0-9_-]{43}$/);
  });
});

describe('redaction v10 and v11', () => {
  it('keeps what each version keeps', () => {
    const member = {
      type: 'm.room.member', state_key: '@a:x', sender: '@a:x', room_id: '!r:x', origin: 'x', membership: 'join', prev_state: [],
      content: { membership: 'invite', displayname: 'A', third_party_invite: { display_name: 'a', signed: { token: 't' } } },
    };
    expect(redactEvent('10', member)).toEqual({
      type: 'm.room.member', state_key: '@a:x', sender: '@a:x', room_id: '!r:x', origin: 'x', membership: 'join', prev_state: [],
      content: { membership: 'invite' },
    });
    expect(redactEvent('11', member)).toEqual({
      type: 'm.room.member', state_key: '@a:x', sender: '@a:x', room_id: '!r:x',
      content: { membership: 'invite', third_party_invite: { signed: { token: 't' } } },
    });
    const redaction = { type: 'm.room.redaction', redacts: '$e', content: { redacts: '$e', reason: 'spam' } };
    expect(redactEvent('10', redaction)).toEqual({ type: 'm.room.redaction', content: {} });
    expect(redactEvent('11', redaction)).toEqual({ type: 'm.room.redaction', content: { redacts: '$e' } });
    const pl = { type: 'm.room.power_levels', content: { invite: 0, ban: 50, notifications: { room: 50 } } };
    expect(redactEvent('10', pl).content).toEqual({ ban: 50 });
    expect(redactEvent('11', pl).content).toEqual({ invite: 0, ban: 50 });
  });
});
