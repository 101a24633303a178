// Runs the built CLI as a user would: `node dist/bin/patchbay.js ...` in a temporary working directory.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readRegistrationFile, RegistrationNamespaces } from '../../registration/index.js';
import { waitFor } from '../../testkit/waitFor.js';

const distRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = join(distRoot, 'bin', 'patchbay.js');

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

let cwd: string;
beforeAll(() => {
  cwd = mkdtempSync(join(tmpdir(), 'patchbay-cli-'));
});
afterAll(() => {
  rmSync(cwd, { recursive: true, force: true });
});

/** Runs the CLI to completion with only PATH from our environment (no PATCHBAY_CONFIG leaking in). */
function patchbay(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd, env: { PATH: process.env.PATH, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('help and usage errors', () => {
  test('--help lists the commands and exits 0', async () => {
    const r = await patchbay(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: patchbay <command>/);
    expect(r.stdout).toMatch(/\n {2}register {2,}/);
    expect(r.stdout).toMatch(/\n {2}homeserver {2,}/);
  });

  test('no command prints the usage to stderr and exits 2', async () => {
    const r = await patchbay([]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^Usage: patchbay/);
  });

  test('each command has its own --help', async () => {
    const r = await patchbay(['register', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: patchbay register /);
    expect(r.stdout).toMatch(/--bridge SPEC/);
    expect(r.stdout).toMatch(/-c, --config FILE/);
  });

  test('an unknown command exits 2 with a suggestion', async () => {
    const r = await patchbay(['regster']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("patchbay: unknown command 'regster'. Did you mean 'register'? Run 'patchbay --help' for the list.\n");
  });

  test('an unknown flag, a missing value and a stray word exit 2 naming the problem', async () => {
    const unknown = await patchbay(['register', '--brdge', 'irc']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("patchbay register: unknown option '--brdge'. Did you mean '--bridge'?");
    expect(unknown.stderr).toContain("Run 'patchbay register --help' for usage.");

    const noValue = await patchbay(['register', '--bridge', 'irc', '--out']);
    expect(noValue.code).toBe(2);
    expect(noValue.stderr).toContain('option --out needs a value: --out FILE.');

    const stray = await patchbay(['register', 'irc']);
    expect(stray.code).toBe(2);
    expect(stray.stderr).toContain("unexpected argument 'irc'");
  });
});

describe('patchbay register', () => {
  test('writes a private registration under data_dir covering every --bridge', async () => {
    const r = await patchbay(['register', '--id', 'pb', '--url', 'http://127.0.0.1:9999', '--bridge', 'irc', '--bridge', 'sip:sip_:tel_']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const file = join(cwd, 'data', 'registration.yaml');
    expect(r.stdout).toContain(`Wrote ${file}`);
    expect(statSync(file).mode & 0o777).toBe(0o600);

    const reg = await readRegistrationFile(file);
    expect(reg).toMatchObject({ id: 'pb', url: 'http://127.0.0.1:9999', sender_localpart: 'patchbay', protocols: ['irc', 'sip'] });
    const ns = new RegistrationNamespaces(reg, 'localhost');
    expect(ns.matchUser('@irc_alice:localhost')?.exclusive).toBe(true);
    expect(ns.matchUser('@sip_=2b1555:localhost')?.exclusive).toBe(true);
    expect(ns.matchAlias('#tel_1555:localhost')?.exclusive).toBe(true);
    expect(ns.matchUser('@patchbay:localhost')?.exclusive).toBe(true);
  });

  test('keeps an existing file unless --force', async () => {
    const file = join(cwd, 'data', 'registration.yaml');
    const before = readFileSync(file, 'utf8');
    const kept = await patchbay(['register', '--bridge', 'irc']);
    expect(kept.code).toBe(1);
    expect(kept.stderr).toContain(`${file} exists; keeping it. Use --force`);
    expect(readFileSync(file, 'utf8')).toBe(before);

    const forced = await patchbay(['register', '--bridge', 'irc', '--force']);
    expect(forced.code).toBe(0);
    expect(readFileSync(file, 'utf8')).not.toBe(before);
  });

  test('takes the server name and URL from --config, and writes to --out', async () => {
    writeFileSync(join(cwd, 'custom.yaml'), 'homeserver:\n  server_name: example.org\nhost:\n  port: 9100\n');
    const r = await patchbay(['register', '--config', 'custom.yaml', '--bridge', 'email', '--sender', 'mailbot', '--out', 'out/email.yaml']);
    expect(r.code).toBe(0);
    const reg = await readRegistrationFile(join(cwd, 'out', 'email.yaml'));
    expect(reg.url).toBe('http://127.0.0.1:9100');
    expect(reg.namespaces.users).toEqual([{ regex: '@email_.*:example\\.org', exclusive: true }]);
    expect(new RegistrationNamespaces(reg, 'example.org').isSender('@mailbot:example.org')).toBe(true);
  });

  test('needs at least one well-formed --bridge', async () => {
    const none = await patchbay(['register', '--out', 'x.yaml']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('name at least one bridge');
    const bad = await patchbay(['register', '--out', 'x.yaml', '--bridge', 'irc:irc_']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--bridge "irc:irc_": write PROTOCOL:GHOSTPREFIX:ALIASPREFIX');
    const badPrefix = await patchbay(['register', '--out', 'x.yaml', '--bridge', 'irc:IRC_:irc_']);
    expect(badPrefix.code).toBe(2);
    expect(badPrefix.stderr).toContain('ghost prefix "IRC_"');
    expect(existsSync(join(cwd, 'x.yaml'))).toBe(false);
  });

  test('--check says a good file is valid and lists what is wrong with a bad one', async () => {
    const good = await patchbay(['register', '--check', 'data/registration.yaml']);
    expect(good.code).toBe(0);
    expect(good.stdout).toMatch(/^data\/registration\.yaml: valid\. id patchbay, /);

    writeFileSync(join(cwd, 'bad.yaml'), 'id: "a|b"\nurl: localhost\nas_token: x\nhs_token: y\nsender_localpart: bot\nnamespaces:\n  users: [ { regex: "(" , exclusive: true } ]\n');
    const bad = await patchbay(['register', '--check', 'bad.yaml']);
    expect(bad.code).toBe(1);
    expect(bad.stderr.split('\n')).toEqual([
      'bad.yaml:',
      expect.stringMatching(/^ {2}id: "a\|b" is not an appservice ID\. Fix: /),
      expect.stringMatching(/^ {2}url: "localhost" is not an http\(s\) URL or null\. Fix: /),
      expect.stringMatching(/^ {2}namespaces\.users\[0\]\.regex: "\(" does not compile \(.*\)\. Fix: /),
      '',
    ]);

    const missing = await patchbay(['register', '--check', 'nope.yaml']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('nope.yaml: cannot read it (no such file)');

    const mixed = await patchbay(['register', '--check', 'bad.yaml', '--bridge', 'irc']);
    expect(mixed.code).toBe(2);
  });
});

describe('configuration errors', () => {
  test('print every problem, one per line, and exit 78 without a stack trace', async () => {
    writeFileSync(join(cwd, 'broken.yaml'), 'homeserver:\n  port: abc\nhomeservr: {}\n');
    for (const r of [
      await patchbay(['register', '--bridge', 'irc', '--config', 'broken.yaml']),
      await patchbay(['register', '--bridge', 'irc'], { PATCHBAY_CONFIG: 'broken.yaml' }),
    ]) {
      expect(r.code).toBe(78);
      expect(r.stderr.split('\n')).toEqual([
        'patchbay register: Invalid configuration (defaults + broken.yaml):',
        '  homeservr: unknown key. Did you mean homeserver? Fix: rename it to homeserver',
        '  homeserver.port: "abc" is not a port number. Fix: set homeserver.port to an integer 1-65535 (or 0 for any free port), e.g. 8008',
        '',
      ]);
      expect(r.stdout).toBe('');
    }
  });

  test('host.partitions beyond what the partitioner takes is refused at startup, naming the key, before anything starts', async () => {
    writeFileSync(join(cwd, 'partitions.yaml'), 'data_dir: ./partitions-data\nhomeserver:\n  storage: memory\n  port: 0\nhost:\n  port: 0\n  partitions: 2000\n');
    const r = await patchbay(['start', '--config', 'partitions.yaml']);
    expect(r.code).toBe(78);
    expect(r.stderr).toContain('host.partitions: 2000 is');
    expect(r.stderr).toMatch(/Fix: set host\.partitions to an integer 1-1024/);
    // Refused before Redis or anything else was started under data_dir.
    expect(existsSync(join(cwd, 'partitions-data'))).toBe(false);
  });

  test('a missing environment variable names the key and the variable', async () => {
    writeFileSync(join(cwd, 'secret.yaml'), 'homeserver:\n  turn:\n    uris: [ "turn:t.example" ]\n    shared_secret: ${TURN_SECRET}\n');
    const missing = await patchbay(['register', '--bridge', 'irc', '--config', 'secret.yaml', '--out', 'y.yaml']);
    expect(missing.code).toBe(78);
    expect(missing.stderr).toContain('homeserver.turn.shared_secret: environment variable TURN_SECRET is not set');
    const given = await patchbay(['register', '--bridge', 'irc', '--config', 'secret.yaml', '--out', 'y.yaml'], { TURN_SECRET: 's' });
    expect(given.code).toBe(0);
  });
});

// The homeserver is another part; these run once homeserver/index.ts (startHomeserver) is built.
const homeserverBuilt = existsSync(join(distRoot, 'homeserver', 'index.js'));
if (!homeserverBuilt) console.warn('skipped: patchbay homeserver (dist/homeserver/index.js is not built yet)');
describe('patchbay homeserver', () => {
  (homeserverBuilt ? test : test.skip)('loads a registration from patchbay register, reloads on SIGHUP, stops on SIGTERM with exit 0', async () => {
    const reg = await patchbay(['register', '--bridge', 'irc', '--out', 'hs-reg.yaml']);
    expect(reg.code).toBe(0);
    writeFileSync(
      join(cwd, 'hs.yaml'),
      'data_dir: hsdata\nhomeserver:\n  port: 0\n  storage: memory\n  app_service_config_files: [ hs-reg.yaml ]\nlogging:\n  level: info\n',
    );
    const child = spawn(process.execPath, [cli, 'homeserver', '--config', 'hs.yaml'], { cwd, env: { PATH: process.env.PATH } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      const url = await waitFor(() => /serving (http:\/\/\S+)/.exec(stdout)?.[1], 30_000, `the URL line (stderr: ${stderr})`);
      const versions = await fetch(`${url}/_matrix/client/versions`);
      expect(versions.status).toBe(200);
      // The generated registration's as_token is accepted: the sender acts without registering.
      const { as_token } = await readRegistrationFile(join(cwd, 'hs-reg.yaml'));
      const whoami = await fetch(`${url}/_matrix/client/v3/account/whoami`, { headers: { Authorization: `Bearer ${as_token}` } });
      expect(await whoami.json()).toMatchObject({ user_id: '@patchbay:localhost' });

      child.kill('SIGHUP');
      await waitFor(() => /"msg":"reloaded"/.test(stdout), 30_000, 'the reload log line');
      expect((await fetch(`${url}/_matrix/client/versions`)).status).toBe(200);

      // A registration added to app_service_config_files in the config is loaded by the next SIGHUP.
      expect((await patchbay(['register', '--bridge', 'irc:second_:second_', '--id', 'second', '--sender', 'secondbot', '--out', 'hs-reg2.yaml'])).code).toBe(0);
      const second = await readRegistrationFile(join(cwd, 'hs-reg2.yaml'));
      const secondWhoami = async (): Promise<number> =>
        (await fetch(`${url}/_matrix/client/v3/account/whoami`, { headers: { Authorization: `Bearer ${second.as_token}` } })).status;
      expect(await secondWhoami()).toBe(401);
      writeFileSync(
        join(cwd, 'hs.yaml'),
        'data_dir: hsdata\nhomeserver:\n  port: 0\n  storage: memory\n  app_service_config_files: [ hs-reg.yaml, hs-reg2.yaml ]\nlogging:\n  level: info\n',
      );
      child.kill('SIGHUP');
      await waitFor(() => (stdout.match(/"msg":"reloaded"/g) ?? []).length === 2, 30_000, 'the second reload');
      expect(await secondWhoami()).toBe(200);

      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(stderr).toBe('');
    } finally {
      child.kill('SIGKILL');
    }
  });

  (homeserverBuilt ? test : test.skip)('an invalid registration file stops the start with exit 78, naming the file and the key', async () => {
    writeFileSync(join(cwd, 'bad-reg.yaml'), 'id: x\nurl: null\nas_token: a\nhs_token: b\nsender_localpart: bot\nnamespaces: { users: 5 }\n');
    writeFileSync(
      join(cwd, 'hs-bad.yaml'),
      'data_dir: hsdata\nhomeserver:\n  port: 0\n  storage: memory\n  app_service_config_files: [ bad-reg.yaml ]\n',
    );
    const r = await patchbay(['homeserver', '--config', 'hs-bad.yaml']);
    expect(r.code).toBe(78);
    expect(r.stderr).toContain(join(cwd, 'bad-reg.yaml'));
    expect(r.stderr).toMatch(/namespaces\.users: 5 is not a list of user namespaces\. Fix: /);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('patchbay homeserver with a federation listener', () => {
  (homeserverBuilt ? test : test.skip)('serves federation on homeserver.federation.listener and only the Client-Server API on homeserver.port', async () => {
    writeFileSync(
      join(cwd, 'hs-fed.yaml'),
      'data_dir: hsfeddata\nhomeserver:\n  server_name: fed.test\n  port: 0\n  storage: memory\n  metrics: { enabled: false }\n' +
        '  federation:\n    enabled: true\n    listener: { port: 0, bind: 127.0.0.1 }\n',
    );
    const child = spawn(process.execPath, [cli, 'homeserver', '--config', 'hs-fed.yaml'], { cwd, env: { PATH: process.env.PATH } });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      const [, client, federation] = await waitFor(() => /serving (http:\/\/\S+) \(server name fed\.test\), federation (http:\/\/\S+)$/m.exec(stdout), 30_000, 'the URL line');
      expect(new URL(federation!).port).not.toBe(new URL(client!).port);
      const keys = await fetch(`${federation}/_matrix/key/v2/server`);
      expect(keys.status).toBe(200);
      expect(((await keys.json()) as { server_name: string }).server_name).toBe('fed.test');
      expect((await fetch(`${client}/_matrix/key/v2/server`)).status).toBe(404);
      expect((await fetch(`${client}/_matrix/client/versions`)).status).toBe(200);
      expect((await fetch(`${federation}/_matrix/client/versions`)).status).toBe(404);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  });
});

describe('patchbay federation-key', () => {
  test('makes the key on first use, owner-only, and --rotate keeps the old one', async () => {
    const file = join(cwd, 'data', 'federation_signing.key');
    const first = await patchbay(['federation-key']);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toContain(`Made a new signing key in ${file}.`);
    const line = new RegExp(`${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: (ed25519:a_\\w{8}) ([A-Za-z0-9+/]{43})`);
    const [, keyId, publicKey] = line.exec(first.stdout) ?? [];
    expect(keyId).toBeDefined();
    expect(statSync(file).mode & 0o777).toBe(0o600);

    const shown = await patchbay(['federation-key']);
    expect(line.exec(shown.stdout)?.[1]).toBe(keyId);

    const rotated = await patchbay(['federation-key', '--rotate']);
    expect(rotated.code).toBe(0);
    expect(rotated.stdout).toContain(`Retired ${keyId}`);
    expect(line.exec(rotated.stdout)?.[1]).not.toBe(keyId);
    expect(rotated.stdout).toMatch(new RegExp(`old: ${keyId} ${publicKey!.replace(/[+/]/g, '\\$&')} expired_ts \\d{13}`));
  });
});
