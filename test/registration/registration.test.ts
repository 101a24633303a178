import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  generateRegistration,
  readRegistrationFile,
  RegistrationError,
  RegistrationNamespaces,
  validateRegistration,
  writeRegistrationFile,
  type AppserviceRegistration,
} from '../../registration/index.js';
import { SpecValidator } from '../harness/SpecValidator.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'patchbay-registration-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function registration(extra: Partial<AppserviceRegistration> = {}): AppserviceRegistration {
  return {
    id: 'irc',
    url: 'http://127.0.0.1:9000',
    as_token: 'as-secret',
    hs_token: 'hs-secret',
    sender_localpart: 'ircbot',
    namespaces: {
      users: [{ regex: '@irc_.*', exclusive: true }],
      aliases: [{ regex: '#irc_.*:hs', exclusive: true }],
      rooms: [{ regex: '!bridged.*:hs', exclusive: false }],
    },
    ...extra,
  };
}

/** The problems of a value that must be rejected. */
function problemsOf(value: unknown, source = 'reg.yaml'): readonly string[] {
  try {
    validateRegistration(value, source);
  } catch (err) {
    if (err instanceof RegistrationError) {
      expect(err.message).toContain(source);
      return err.problems;
    }
    throw err;
  }
  throw new Error('expected a RegistrationError');
}

describe('RegistrationNamespaces', () => {
  test('regexes are anchored at the start only, as Python re.match', () => {
    const ns = new RegistrationNamespaces(registration(), 'hs');
    expect(ns.matchUser('@irc_x:hs')).toEqual({ regex: '@irc_.*', exclusive: true });
    expect(ns.matchUser('@xirc_x:hs')).toBeNull();
    expect(ns.matchUser('@ir:hs')).toBeNull();
    const prefixOnly = new RegistrationNamespaces(registration({ namespaces: { users: [{ regex: '@irc_a', exclusive: false }] } }), 'hs');
    expect(prefixOnly.matchUser('@irc_abc:hs')).toEqual({ regex: '@irc_a', exclusive: false });
  });

  test('aliases and rooms match the same way', () => {
    const ns = new RegistrationNamespaces(registration(), 'hs');
    expect(ns.matchAlias('#irc_libera_#chan:hs')?.exclusive).toBe(true);
    expect(ns.matchAlias('#other:hs')).toBeNull();
    expect(ns.matchRoom('!bridged123:hs')).toEqual({ regex: '!bridged.*:hs', exclusive: false });
    expect(ns.matchRoom('!abc:hs')).toBeNull();
  });

  test('the sender user is an exclusive match on its own server only', () => {
    const ns = new RegistrationNamespaces(registration(), 'hs');
    expect(ns.isSender('@ircbot:hs')).toBe(true);
    expect(ns.matchUser('@ircbot:hs')?.exclusive).toBe(true);
    expect(ns.isSender('@ircbot:other')).toBe(false);
    expect(ns.matchUser('@ircbot:other')).toBeNull();
    expect(ns.senderUserId).toBe('@ircbot:hs');
  });

  test('an exclusive namespace wins over an earlier non-exclusive one', () => {
    const reg = registration({
      namespaces: { users: [{ regex: '@.*', exclusive: false }, { regex: '@irc_.*', exclusive: true }] },
    });
    const ns = new RegistrationNamespaces(reg, 'hs');
    expect(ns.matchUser('@irc_bob:hs')).toEqual({ regex: '@irc_.*', exclusive: true });
    expect(ns.matchUser('@alice:hs')).toEqual({ regex: '@.*', exclusive: false });
  });
});

describe('validateRegistration', () => {
  test('accepts a full registration, a minimal one and url null, and returns it', () => {
    const full = registration({ rate_limited: false, protocols: ['irc'], receive_ephemeral: true });
    expect(validateRegistration(full)).toBe(full);
    expect(validateRegistration(registration({ url: null, namespaces: {} })).url).toBeNull();
  });

  test('each missing required key is named, with its fix', () => {
    const problems = problemsOf({ id: 'x' });
    expect(problems.map((p) => p.split(':')[0])).toEqual(['url', 'as_token', 'hs_token', 'sender_localpart', 'namespaces']);
    for (const p of problems) expect(p).toMatch(/: missing\. Fix: set \S+ to /);
  });

  test('wrong values are named with the key and the fix', () => {
    const problems = problemsOf({
      ...registration(),
      id: 'a|b',
      url: 'localhost:9000',
      as_token: '',
      hs_token: 5,
      sender_localpart: '@bot:hs',
      rate_limited: 'no',
      protocols: 'irc',
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^id: "a\|b" is not an appservice ID\. Fix: .*without "\|"/),
        expect.stringMatching(/^url: "localhost:9000" is not an http\(s\) URL or null\. Fix: /),
        expect.stringMatching(/^as_token: "" is not a non-empty secret token\. Fix: /),
        // A secret is never repeated, whatever its type (config errors hide it the same way).
        expect.stringMatching(/^hs_token: \(a hidden secret\) is not a non-empty secret token\. Fix: /),
        expect.stringMatching(/^sender_localpart: "@bot:hs" is not a user localpart\. Fix: .*without "@" or ":server"/),
        expect.stringMatching(/^rate_limited: "no" is not true or false\. Fix: /),
        expect.stringMatching(/^protocols: "irc" is not a list of protocol names\. Fix: /),
      ]),
    );
    expect(problems).toHaveLength(7);
  });

  test('namespaces must be lists of { regex, exclusive }', () => {
    const problems = problemsOf(
      registration({
        namespaces: {
          users: [{ regex: '@a_.*' } as never, { regex: 5, exclusive: true } as never],
          rooms: null as never,
          aliases: { regex: '#a' } as never,
        },
      }),
    );
    expect(problems).toEqual([
      expect.stringMatching(/^namespaces\.users\[0\]\.exclusive: missing\. Fix: /),
      expect.stringMatching(/^namespaces\.users\[1\]\.regex: 5 is not a regular expression\. Fix: /),
      expect.stringMatching(/^namespaces\.aliases: \{"regex":"#a"\} is not a list of alias namespaces\. Fix: /),
      expect.stringMatching(/^namespaces\.rooms: null is not a list of room namespaces\. Fix: /),
    ]);
  });

  test('a regex that does not compile is named', () => {
    expect(problemsOf(registration({ namespaces: { users: [{ regex: '@irc_(', exclusive: true }] } }))).toEqual([
      expect.stringMatching(/^namespaces\.users\[0\]\.regex: "@irc_\(" does not compile \(.*\)\. Fix: /),
    ]);
  });

  test('a value that is not a map', () => {
    expect(problemsOf(['id'])).toEqual([expect.stringMatching(/^\(top level\): \["id"\] is not a registration map/)]);
    expect(problemsOf(null)).toEqual([expect.stringMatching(/^\(top level\): null is not a registration map/)]);
  });
});

describe('registration files', () => {
  test('a round trip keeps unknown keys, and the file is private', async () => {
    const file = join(dir, 'roundtrip.yaml');
    const reg = registration({
      'de.sorunome.msc2409.push_ephemeral': true,
      'org.matrix.msc3202': true,
      'io.element.msc4190': true,
      vendor: { nested: [1, 'two', { three: null }] },
    });
    await writeRegistrationFile(file, reg);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(await readRegistrationFile(file)).toEqual(reg);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  test('rewriting a readable file leaves it private', async () => {
    const file = join(dir, 'loose.yaml');
    writeFileSync(file, 'old');
    chmodSync(file, 0o644);
    await writeRegistrationFile(file, registration());
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect((await readRegistrationFile(file)).id).toBe('irc');
  });

  test('reads a hand-written registration as Synapse documents them', async () => {
    const file = join(dir, 'synapse-style.yaml');
    writeFileSync(
      file,
      [
        'id: "IRC Bridge"',
        'url: null',
        'as_token: 30c05ae90a248a4188e620216fa72e349803310ec83e2a77b34fe90be6081f46',
        'hs_token: 312df522183efd404ec1cd22d2ffa4bbc76a8c1ccf541dd692eef281356bb74e',
        'sender_localpart: _irc_bot',
        'namespaces:',
        '  users:',
        '    - exclusive: true',
        '      regex: "@_irc_bridge_.*"',
        '  aliases:',
        '    - exclusive: false',
        "      regex: '#_irc_bridge_.*'",
        '  rooms: []',
        'push_ephemeral: true',
      ].join('\n'),
    );
    const reg = await readRegistrationFile(file);
    expect(reg.url).toBeNull();
    expect(reg.push_ephemeral).toBe(true);
    expect(new RegistrationNamespaces(reg, 'example.org').matchUser('@_irc_bridge_bob:example.org')?.exclusive).toBe(true);
  });

  test('invalid files give errors naming the file and the key', async () => {
    const file = join(dir, 'invalid.yaml');
    writeFileSync(file, 'id: irc\nurl: 9000\nas_token: a\nhs_token: b\nsender_localpart: bot\nnamespaces: {}\n');
    await expect(readRegistrationFile(file)).rejects.toThrow(new RegExp(`^${file}: url: 9000 is not an http\\(s\\) URL or null\\. Fix: `));

    const broken = join(dir, 'broken.yaml');
    writeFileSync(broken, 'id: irc\nnamespaces: [\n');
    await expect(readRegistrationFile(broken)).rejects.toThrow(new RegExp(`^${broken}:\\d+:\\d+: .*Fix: correct the YAML there`));

    const missing = join(dir, 'missing.yaml');
    await expect(readRegistrationFile(missing)).rejects.toThrow(new RegExp(`^${missing}: cannot read it \\(no such file\\)`));
    await expect(readRegistrationFile(missing)).rejects.toBeInstanceOf(RegistrationError);
  });

  test('an invalid registration is not written', async () => {
    const file = join(dir, 'never.yaml');
    await expect(writeRegistrationFile(file, registration({ as_token: '' }))).rejects.toThrow(/as_token/);
    expect(existsSync(file)).toBe(false);
  });
});

describe('generateRegistration', () => {
  const options = {
    id: 'patchbay',
    url: 'http://127.0.0.1:9000',
    serverName: 'example.org',
    senderLocalpart: 'patchbay',
    bridges: [
      { protocol: 'irc', ghostPrefix: 'irc_', aliasPrefix: 'irc_' },
      { protocol: 'sip', ghostPrefix: 'sip_', aliasPrefix: 'sip_' },
    ],
  };

  test('produces a valid registration with fresh, distinct 64-hex tokens', () => {
    const reg = generateRegistration(options);
    expect(validateRegistration(structuredClone(reg))).toEqual(reg);
    expect(reg.as_token).toMatch(/^[0-9a-f]{64}$/);
    expect(reg.hs_token).toMatch(/^[0-9a-f]{64}$/);
    expect(reg.as_token).not.toBe(reg.hs_token);
    expect(generateRegistration(options).as_token).not.toBe(reg.as_token);
    expect(reg).toMatchObject({ id: 'patchbay', url: 'http://127.0.0.1:9000', sender_localpart: 'patchbay', rate_limited: false, protocols: ['irc', 'sip'] });
  });

  test('every namespace is exclusive and covers exactly its bridge on this server', () => {
    const reg = generateRegistration(options);
    expect(reg.namespaces.users).toEqual([
      { regex: '@irc_.*:example\\.org', exclusive: true },
      { regex: '@sip_.*:example\\.org', exclusive: true },
    ]);
    expect(reg.namespaces.aliases).toEqual([
      { regex: '#irc_.*:example\\.org', exclusive: true },
      { regex: '#sip_.*:example\\.org', exclusive: true },
    ]);
    const ns = new RegistrationNamespaces(reg, 'example.org');
    expect(ns.matchUser('@irc_libera_alice:example.org')?.exclusive).toBe(true);
    expect(ns.matchUser('@sip_=2b14155550100:example.org')?.exclusive).toBe(true);
    expect(ns.matchUser('@patchbay:example.org')?.exclusive).toBe(true);
    expect(ns.matchUser('@alice:example.org')).toBeNull();
    expect(ns.matchUser('@irc_bob:exampleXorg')).toBeNull(); // the dot is escaped
    expect(ns.matchAlias('#irc_libera_#chan:example.org')?.exclusive).toBe(true);
    expect(ns.matchAlias('#general:example.org')).toBeNull();
  });

  test('regex characters in prefixes are escaped', () => {
    const reg = generateRegistration({ ...options, bridges: [{ protocol: 'tel', ghostPrefix: 'tel+', aliasPrefix: 'tel.' }] });
    const ns = new RegistrationNamespaces(reg, 'example.org');
    expect(ns.matchUser('@tel+1:example.org')).not.toBeNull();
    expect(ns.matchUser('@tellll1:example.org')).toBeNull();
    expect(ns.matchAlias('#telx1:example.org')).toBeNull();
  });

  test('receiveEphemeral sets the stable and the MSC2409 key', () => {
    const reg = generateRegistration({ ...options, receiveEphemeral: true });
    expect(reg.receive_ephemeral).toBe(true);
    expect(reg['de.sorunome.msc2409.push_ephemeral']).toBe(true);
    expect(generateRegistration(options).receive_ephemeral).toBe(false);
  });

  test('unusable prefixes and overlapping bridges are refused', () => {
    expect(() => generateRegistration({ ...options, bridges: [{ protocol: 'irc', ghostPrefix: '', aliasPrefix: 'irc_' }] })).toThrow(/ghost prefix ""/);
    expect(() => generateRegistration({ ...options, bridges: [{ protocol: 'irc', ghostPrefix: 'IRC_', aliasPrefix: 'irc_' }] })).toThrow(RegistrationError);
    expect(() => generateRegistration({ ...options, bridges: [{ protocol: 'irc', ghostPrefix: 'irc_', aliasPrefix: 'a:b' }] })).toThrow(/alias prefix "a:b"/);
    expect(() =>
      generateRegistration({
        ...options,
        bridges: [
          { protocol: 'irc', ghostPrefix: 'irc_', aliasPrefix: 'irc_' },
          { protocol: 'ircs', ghostPrefix: 'irc_s', aliasPrefix: 'ircs_' },
        ],
      }),
    ).toThrow(/ghost prefixes "irc_" and "irc_s" overlap/);
    expect(() => generateRegistration({ ...options, id: 'a|b' })).toThrow(/id: "a\|b"/);
  });

  test("a generated registration also satisfies the spec's registration schema", async () => {
    const spec = SpecValidator.load();
    if (!spec) {
      console.warn('skipped: Matrix spec data not found (set PATCHBAY_MATRIX_SPEC)');
      return;
    }
    const reg = generateRegistration({ ...options, receiveEphemeral: true });
    expect(await spec.validateDefinition('application-service/definitions/registration.yaml', reg)).toEqual([]);
    // and the schema itself is strict enough for this check to mean something
    const { namespaces: _dropped, ...withoutNamespaces } = reg;
    expect(await spec.validateDefinition('application-service/definitions/registration.yaml', withoutNamespaces)).not.toEqual([]);
  });

  test('the written file holds what was generated', async () => {
    const file = join(dir, 'generated', 'registration.yaml');
    const reg = generateRegistration(options);
    await writeRegistrationFile(file, reg);
    expect(await readRegistrationFile(file)).toEqual(reg);
    expect(readFileSync(file, 'utf8')).toContain("- regex: '@irc_.*:example\\.org'");
  });
});
