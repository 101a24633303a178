import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { ConfigError, defaultsFile, didYouMean, loadConfig, type PatchbayConfig } from '../../config/index.js';
import { showValue } from '../../config/describeSchemaErrors.js';

let dir: string;
let fileNo = 0;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'patchbay-config-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Writes a user file and loads it with an empty environment (plus `env`), relative to `dir`. */
function load(userYaml: string, env: NodeJS.ProcessEnv = {}): PatchbayConfig {
  const file = join(dir, `user-${++fileNo}.yaml`);
  writeFileSync(file, userYaml);
  return loadConfig({ file, env, cwd: dir });
}

/** The problems of a config that must fail. */
function problemsOf(userYaml: string, env: NodeJS.ProcessEnv = {}): readonly string[] {
  try {
    load(userYaml, env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('defaults', () => {
  test('the shipped defaults load alone and every key of defaults.yaml is in the result', () => {
    const config = loadConfig({ env: {}, cwd: dir });
    const defaults = yaml.load(readFileSync(defaultsFile(), 'utf8')) as Record<string, unknown>;
    const keysOf = (o: unknown, prefix = ''): string[] =>
      o !== null && typeof o === 'object' && !Array.isArray(o)
        ? Object.entries(o).flatMap(([k, v]) => [`${prefix}${k}`, ...keysOf(v, `${prefix}${k}.`)])
        : [];
    expect(keysOf(config)).toEqual(expect.arrayContaining(keysOf(defaults)));
    expect(config.homeserver.port).toBe(8008);
    expect(config.homeserver.server_name).toBe('localhost');
    expect(config.bridges.example).toEqual({ enabled: true });
  });

  test('relative paths resolve against the working directory, files under data_dir against data_dir', () => {
    const config = loadConfig({ env: {}, cwd: dir });
    expect(config.data_dir).toBe(join(dir, 'data'));
    expect(config.homeserver.database).toBe(join(dir, 'data', 'homeserver.sqlite'));
    expect(config.homeserver.media_dir).toBe(join(dir, 'data', 'media'));
    expect(config.host.registration).toBe(join(dir, 'data', 'registration.yaml'));

    const custom = load(
      [
        'data_dir: state',
        'homeserver:',
        '  database: /var/lib/hs.sqlite',
        '  app_service_config_files: [ regs/irc.yaml, /etc/x.yaml ]',
        'bridges:',
        '  mine: { enabled: true, module: ./plugins/mine.js }',
        '  pkg: { enabled: false, module: patchbay-bridge-xmpp }',
      ].join('\n'),
    );
    expect(custom.data_dir).toBe(join(dir, 'state'));
    expect(custom.homeserver.database).toBe('/var/lib/hs.sqlite');
    expect(custom.homeserver.media_dir).toBe(join(dir, 'state', 'media'));
    expect(custom.homeserver.app_service_config_files).toEqual([join(dir, 'regs', 'irc.yaml'), '/etc/x.yaml']);
    expect(custom.bridges.mine?.module).toBe(join(dir, 'plugins', 'mine.js'));
    expect(custom.bridges.pkg?.module).toBe('patchbay-bridge-xmpp');
  });

  test("a bridge's module path resolves against the config file's folder, wherever Patchbay runs", () => {
    mkdirSync(join(dir, 'conf'), { recursive: true });
    writeFileSync(join(dir, 'conf', 'patchbay.yaml'), 'bridges:\n  mine: { enabled: true, module: ./plugins/mine.js }\n  up: { enabled: true, module: ../shared/up.js }\n');
    const config = loadConfig({ file: 'conf/patchbay.yaml', env: {}, cwd: dir });
    expect(config.bridges.mine?.module).toBe(join(dir, 'conf', 'plugins', 'mine.js'));
    expect(config.bridges.up?.module).toBe(join(dir, 'shared', 'up.js'));
    expect(config.data_dir).toBe(join(dir, 'data'));
  });
});

describe('merging the user file over the defaults', () => {
  test('maps merge key by key, lists replace', () => {
    const config = load(
      ['homeserver:', '  port: 8448', '  turn:', '    uris: [ "turn:a.example:3478" ]', 'logging: { level: debug }'].join('\n'),
    );
    expect(config.homeserver.port).toBe(8448);
    expect(config.homeserver.bind).toBe('127.0.0.1');
    expect(config.homeserver.turn.uris).toEqual(['turn:a.example:3478']);
    expect(config.homeserver.turn.ttl_seconds).toBe(86400);
    expect(config.logging.level).toBe('debug');

    const replaced = load('homeserver:\n  turn:\n    uris: [ "stun:b.example" ]\n');
    expect(replaced.homeserver.turn.uris).toEqual(['stun:b.example']);
  });

  test('an empty section keeps the defaults; an empty file is the defaults', () => {
    const config = load('homeserver:\nhost:\n  # port: 1\n');
    expect(config.homeserver.port).toBe(8008);
    expect(config.host.port).toBe(9000);
    expect(load('').homeserver.server_name).toBe('localhost');
  });

  test("bridges keep their plugin's own keys, unvalidated", () => {
    const config = load(
      ['bridges:', '  irc:', '    enabled: true', '    networks:', '      libera: { host: irc.libera.chat, port: 6697, tls: true }'].join('\n'),
    );
    expect(config.bridges.irc).toEqual({ enabled: true, networks: { libera: { host: 'irc.libera.chat', port: 6697, tls: true } } });
    expect(config.bridges.example).toEqual({ enabled: true });
  });

  test('PATCHBAY_CONFIG names the file when no file is given; an explicit file wins', () => {
    const a = join(dir, 'a.yaml');
    const b = join(dir, 'b.yaml');
    writeFileSync(a, 'homeserver: { server_name: a.example }\n');
    writeFileSync(b, 'homeserver: { server_name: b.example }\n');
    expect(loadConfig({ env: { PATCHBAY_CONFIG: a }, cwd: dir }).homeserver.server_name).toBe('a.example');
    expect(loadConfig({ file: b, env: { PATCHBAY_CONFIG: a }, cwd: dir }).homeserver.server_name).toBe('b.example');
    expect(loadConfig({ env: { PATCHBAY_CONFIG: 'a.yaml' }, cwd: dir }).homeserver.server_name).toBe('a.example');
  });
});

describe('environment references', () => {
  test('${VAR}, ${VAR:-fallback} and $${ escapes, anywhere in a string', () => {
    const config = load(
      [
        'homeserver:',
        '  server_name: ${SERVER}',
        '  public_base_url: "https://${SERVER}:${HTTPS_PORT:-443}/"',
        '  turn:',
        '    username: ${TURN_USER:-patchbay}',
        '    password: ${TURN_PASSWORD}',
        '    shared_secret: "$${NOT_A_REFERENCE}"',
        'bridges:',
        '  irc: { enabled: true, sasl_password: "${IRC_PASSWORD}" }',
      ].join('\n'),
      { SERVER: 'example.org', TURN_PASSWORD: 's3cret', TURN_USER: '', IRC_PASSWORD: 'hunter2' },
    );
    expect(config.homeserver.server_name).toBe('example.org');
    expect(config.homeserver.public_base_url).toBe('https://example.org:443/');
    expect(config.homeserver.turn.username).toBe('patchbay'); // empty counts as unset with :-
    expect(config.homeserver.turn.password).toBe('s3cret');
    expect(config.homeserver.turn.shared_secret).toBe('${NOT_A_REFERENCE}');
    expect(config.bridges.irc?.sasl_password).toBe('hunter2');
  });

  test('a whole-value reference takes the type its key wants', () => {
    const config = load(
      ['homeserver:', '  port: ${PORT}', '  registration_enabled: ${OPEN}', 'redis:', '  url: "${REDIS_URL:-}"'].join('\n'),
      { PORT: '8448', OPEN: 'false' },
    );
    expect(config.homeserver.port).toBe(8448);
    expect(config.homeserver.registration_enabled).toBe(false);
    expect(config.redis.url).toBeNull();
  });

  test('a missing variable is an error naming the key and the variable, reported once', () => {
    const problems = problemsOf('homeserver:\n  port: ${HS_PORT}\nredis:\n  url: ${REDIS_URL}\n');
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/^homeserver\.port: environment variable HS_PORT is not set.*Fix: set HS_PORT/);
    expect(problems[1]).toMatch(/^redis\.url: environment variable REDIS_URL is not set/);
  });

  test('a malformed reference is an error naming the key', () => {
    const problems = problemsOf('homeserver:\n  server_name: "${1BAD}"\n  bind: "${OPEN"\n');
    expect(problems).toEqual([
      expect.stringMatching(/^homeserver\.server_name: "\$\{1BAD\}" is not an environment reference\. Fix: /),
      expect.stringMatching(/^homeserver\.bind: .*unclosed.*Fix: /),
    ]);
  });

  test('a variable whose value is wrong for its key is reported as that value', () => {
    expect(problemsOf('homeserver:\n  port: ${PORT}\n', { PORT: 'eighty' })).toEqual([
      expect.stringMatching(/^homeserver\.port: "eighty" is not a port number\. Fix: set homeserver\.port to an integer 1-65535/),
    ]);
  });
});

describe('error messages name the key, the bad value and the fix', () => {
  test('a wrong type', () => {
    expect(problemsOf('homeserver:\n  port: abc\n')).toEqual([
      'homeserver.port: "abc" is not a port number. Fix: set homeserver.port to an integer 1-65535 (or 0 for any free port), e.g. 8008',
    ]);
  });

  test('out of range', () => {
    expect(problemsOf('host:\n  port: 70000\n')).toEqual([expect.stringMatching(/^host\.port: 70000 is not a port number\. Fix: .* e\.g\. 9000$/)]);
  });

  test('not one of the allowed values', () => {
    expect(problemsOf('logging:\n  level: loud\n')).toEqual([
      'logging.level: "loud" is not a log level. Fix: set logging.level to one of trace, debug, info, warn, error, fatal, silent, e.g. info',
    ]);
  });

  test('a malformed string, and a bad list item with its index', () => {
    const problems = problemsOf('homeserver:\n  server_name: "bad name!"\n  turn:\n    uris: [ "turn:ok", "http://no" ]\n');
    expect(problems).toEqual([
      expect.stringMatching(/^homeserver\.server_name: "bad name!" is not a server name\. Fix: .*e\.g\. example\.org$/),
      expect.stringMatching(/^homeserver\.turn\.uris\[1\]: "http:\/\/no" is not a TURN URI\. Fix: set homeserver\.turn\.uris\[1\] to /),
    ]);
  });

  test('rate limits, connection limits and trusted proxies', () => {
    const config = load('homeserver:\n  rate_limits: { sends_per_user: { burst: 5 } }\n  trusted_proxies: [ 127.0.0.1, "10.0.0.0/8", "::1", loopback ]\n');
    expect(config.homeserver.rate_limits.sends_per_user).toEqual({ per_second: 10, burst: 5 });
    expect(config.homeserver.rate_limits.enabled).toBe(true);
    expect(load('homeserver: { rate_limits: { enabled: false } }\n').homeserver.rate_limits.enabled).toBe(false);
    expect(
      problemsOf(
        'homeserver:\n  rate_limits: { login_per_ip: { per_second: 0, burst: 0.5 } }\n  connections: { max_per_ip: 0 }\n  trusted_proxies: [ "999.1.1.1", nginx ]\n',
      ),
    ).toEqual([
      expect.stringMatching(/^homeserver\.trusted_proxies\[1\]: "nginx" is not an IP address, a CIDR range or loopback\. Fix: /),
      expect.stringMatching(/^homeserver\.connections\.max_per_ip: 0 is not a number of connections\. Fix: .*an integer 1-1000000/),
      expect.stringMatching(/^homeserver\.rate_limits\.login_per_ip\.per_second: 0 is not a rate per second\. Fix: .*a number above 0/),
      expect.stringMatching(/^homeserver\.rate_limits\.login_per_ip\.burst: 0\.5 is not a number of actions\. Fix: /),
    ]);
    expect(problemsOf('homeserver:\n  trusted_proxies: [ "999.1.1.1" ]\n')).toEqual([
      'homeserver.trusted_proxies[0]: "999.1.1.1" is not an IP address or CIDR range. Fix: write an address such as 127.0.0.1 or ::1, a range such as 10.0.0.0/8, or loopback',
    ]);
  });

  test('federation: off by default, the key file under data_dir, peers and notaries checked', () => {
    const shipped = load('');
    expect(shipped.homeserver.federation).toEqual({
      enabled: false,
      signing_key: join(dir, 'data', 'federation_signing.key'),
      key_validity_ms: 86400000,
      well_known_server: null,
      peers: {},
      trusted_key_servers: [],
      allow_private_addresses: [],
      servers: { allow: ['*'], deny: [] },
      max_body_bytes: 4194304,
      remote_media_max_bytes: 10485760,
      query_timeout_ms: 10000,
      sending: { retry: { initial_ms: 2000, max_ms: 600000 }, max_queued_pdus: 10000, max_queued_edus: 1000 },
      listener: { port: null, bind: null },
    });
    const config = load(
      'homeserver:\n  federation:\n    enabled: true\n    peers: { b.test: "http://127.0.0.1:8009", "c.test:8448": "[::1]:8448" }\n' +
        '    trusted_key_servers: [ { server_name: matrix.org, verify_keys: { "ed25519:auto": Noi6WqcDj0QmPxCNQqgezwTlBKrfqehY1u2FyWP9uYw } } ]\n',
    );
    expect(config.homeserver.federation.peers).toEqual({ 'b.test': 'http://127.0.0.1:8009', 'c.test:8448': '[::1]:8448' });
    expect(problemsOf('homeserver:\n  federation:\n    peers: { b.test: "https://b.test", "bad name": "x:1" }\n    key_validity_ms: 5\n')).toEqual([
      expect.stringMatching(/^homeserver\.federation\.key_validity_ms: 5 is not a time in milliseconds\. Fix: .*an integer 3600000-604800000/),
      expect.stringMatching(/^homeserver\.federation\.peers\.bad name: "bad name" is not a server name\. Fix: rename it/),
      expect.stringMatching(/^homeserver\.federation\.peers\.b\.test: "https:\/\/b\.test" is not a peer address\. Fix: set .* to host:port for TLS, or http:\/\/host:port for plain HTTP/),
    ]);
    expect(problemsOf('homeserver:\n  federation:\n    trusted_key_servers: [ { verify_keys: { auto: "Noi6WqcDj0QmPxCNQqgezwTlBKrfqehY1u2FyWP9uYw", "ed25519:a": "short" } } ]\n')).toEqual([
      expect.stringMatching(/^homeserver\.federation\.trusted_key_servers\[0\]\.server_name: missing\. Fix: /),
      expect.stringMatching(/verify_keys\.auto: "auto" is not an ed25519 key id\. Fix: rename it using ed25519: followed by/),
      expect.stringMatching(/verify_keys\.ed25519:a: "short" is not an ed25519 public key\. Fix: .*43 characters of unpadded Base64/),
    ]);
  });

  test('federation.sending: the queue caps and the retry, checked with the key and the fix', () => {
    const config = load('homeserver:\n  federation:\n    sending: { max_queued_pdus: 500, retry: { initial_ms: 1000, max_ms: 60000 } }\n');
    expect(config.homeserver.federation.sending).toEqual({ retry: { initial_ms: 1000, max_ms: 60000 }, max_queued_pdus: 500, max_queued_edus: 1000 });
    expect(problemsOf('homeserver:\n  federation:\n    sending: { max_queued_pdus: 10, max_queued_edu: 5 }\n')).toEqual([
      'homeserver.federation.sending.max_queued_edu: unknown key. Did you mean homeserver.federation.sending.max_queued_edus? Fix: rename it to max_queued_edus',
      expect.stringMatching(/^homeserver\.federation\.sending\.max_queued_pdus: 10 is not a number of PDUs per destination\. Fix: .*an integer 100-10000000/),
    ]);
    expect(problemsOf('homeserver:\n  federation:\n    sending: { retry: { initial_ms: 5000, max_ms: 1000 } }\n')).toEqual([
      'homeserver.federation.sending.retry.max_ms: 1000 is less than initial_ms (5000). Fix: set max_ms to at least 5000',
    ]);
  });

  test('federation.listener: on the client port by default, a port of its own checked with the key and the fix', () => {
    expect(load('homeserver:\n  federation:\n    listener: { port: 8448, bind: 0.0.0.0 }\n').homeserver.federation.listener).toEqual({ port: 8448, bind: '0.0.0.0' });
    expect(load('homeserver:\n  port: 0\n  federation:\n    listener: { port: 0 }\n').homeserver.federation.listener).toEqual({ port: 0, bind: null });
    expect(problemsOf('homeserver:\n  port: 8008\n  federation:\n    listener: { port: 8008 }\n')).toEqual([
      'homeserver.federation.listener.port: 8008 is homeserver.port, where the Client-Server API listens. Fix: set it to a port of its own (e.g. 8448), or to null to serve federation on homeserver.port',
    ]);
    expect(problemsOf('homeserver:\n  federation:\n    listener: { port: 70000, bind: "", host: x }\n')).toEqual([
      expect.stringMatching(/^homeserver\.federation\.listener\.host: unknown key\. /),
      expect.stringMatching(/^homeserver\.federation\.listener\.port: 70000 is not a port number or null\. Fix: .*an integer 1-65535 \(or 0 for any free port\) for a listener of its own, or null to serve federation on homeserver\.port/),
      expect.stringMatching(/^homeserver\.federation\.listener\.bind: "" is not an IP address or host name to listen on or null\. Fix: /),
    ]);
  });

  test('federation safety keys: private-address exceptions, the server list, limits', () => {
    const config = load(
      'homeserver:\n  federation:\n    allow_private_addresses: [ matrix.lan, "10.0.0.5:8448" ]\n    servers: { allow: [ "*.example.org" ], deny: [ evil.example.org ] }\n',
    );
    expect(config.homeserver.federation.allow_private_addresses).toEqual(['matrix.lan', '10.0.0.5:8448']);
    expect(config.homeserver.federation.servers).toEqual({ allow: ['*.example.org'], deny: ['evil.example.org'] });
    expect(
      problemsOf(
        'homeserver:\n  federation:\n    allow_private_addresses: [ "http://x" ]\n    servers: { allow: "*", deny: [ "" ] }\n    query_timeout_ms: 0\n' +
          '  rate_limits:\n    federation_per_origin: { per_second: 0, burst: 1 }\n',
      ),
    ).toEqual([
      expect.stringMatching(/^homeserver\.rate_limits\.federation_per_origin\.per_second: 0 is not a rate per second\. Fix: /),
      expect.stringMatching(/^homeserver\.federation\.allow_private_addresses\[0\]: "http:\/\/x" is not a server name\. Fix: /),
      expect.stringMatching(/^homeserver\.federation\.servers\.allow: "\*" is not a list of server name patterns\. Fix: set .* to a list of server names, where \* matches any characters and \? one, e\.g\. \["\*"\]$/),
      expect.stringMatching(/^homeserver\.federation\.servers\.deny\[0\]: "" is not a server name pattern\. Fix: /),
      expect.stringMatching(/^homeserver\.federation\.query_timeout_ms: 0 is not a time in milliseconds\. Fix: .*an integer 100-120000/),
    ]);
  });

  test('a section that is not a map', () => {
    expect(problemsOf('host: 9000\n')).toEqual([expect.stringMatching(/^host: 9000 is not a map of host settings\. Fix: /)]);
  });

  test('an unknown top-level key suggests the closest known key', () => {
    expect(problemsOf('homeservr:\n  port: 8008\n')).toEqual([
      'homeservr: unknown key. Did you mean homeserver? Fix: rename it to homeserver',
    ]);
    expect(problemsOf('bridge:\n  irc: { enabled: true }\n')).toEqual([
      'bridge: unknown key. Did you mean bridges? Fix: rename it to bridges',
    ]);
  });

  test('an unknown nested key suggests too; with nothing close it lists the known keys', () => {
    expect(problemsOf('homeserver:\n  prot: 8080\n')).toEqual([
      'homeserver.prot: unknown key. Did you mean homeserver.port? Fix: rename it to port',
    ]);
    expect(problemsOf('zebra: 1\n')).toEqual([
      expect.stringMatching(/^zebra: unknown key\. Fix: remove it \(the keys at the top level are: data_dir, logging, homeserver, redis, host, bridges\)$/),
    ]);
  });

  test("a bridge without enabled, a bridge's bad enabled and module, a bad bridge name", () => {
    const problems = problemsOf('bridges:\n  sip: { port: 5060 }\n  email: { enabled: "yes", module: 5 }\n  Irc: { enabled: true }\n');
    expect(problems).toEqual(
      expect.arrayContaining([
        'bridges.sip.enabled: missing. Fix: set bridges.sip.enabled to true or false, e.g. true',
        'bridges.email.enabled: "yes" is not true or false. Fix: set bridges.email.enabled to true or false, e.g. true',
        expect.stringMatching(/^bridges\.email\.module: 5 is not a package name or a path\. Fix: /),
        expect.stringMatching(/^bridges\.Irc: "Irc" is not a bridge name\. Fix: rename it using lowercase letters/),
      ]),
    );
    expect(problems).toHaveLength(4);
  });

  test('rules across keys', () => {
    expect(problemsOf('homeserver:\n  appservice_retry: { initial_ms: 5000, max_ms: 1000 }\n')).toEqual([
      expect.stringMatching(/^homeserver\.appservice_retry\.max_ms: 1000 is less than initial_ms \(5000\)\. Fix: set max_ms to at least 5000$/),
    ]);
    expect(problemsOf('homeserver:\n  enabled: false\n')).toEqual([
      expect.stringMatching(/^host\.homeserver_url: null, but homeserver\.enabled is false.*Fix: set host\.homeserver_url/),
    ]);
    expect(load('homeserver: { enabled: false }\nhost: { homeserver_url: "https://matrix.example.org" }\n').homeserver.enabled).toBe(false);
  });

  test('every problem is reported at once, one line each, in the message too', () => {
    let error: ConfigError | null = null;
    try {
      load('homeserver:\n  port: abc\nlogging:\n  level: loud\nhostt: {}\n');
    } catch (err) {
      error = err as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(error?.problems).toHaveLength(3);
    const lines = error?.message.split('\n') ?? [];
    expect(lines[0]).toMatch(/^Invalid configuration \(defaults \+ .*user-\d+\.yaml\):$/);
    expect(lines.slice(1).map((l) => l.trim())).toEqual(error?.problems);
  });

  test('a file that is missing, not YAML, or not a map', () => {
    expect(() => loadConfig({ file: join(dir, 'nope.yaml'), env: {}, cwd: dir })).toThrow(/nope\.yaml: cannot read it \(no such file\)\. Fix: /);
    expect(problemsOf('homeserver:\n  port: 1\n  port: 2\n')).toEqual([expect.stringMatching(/user-\d+\.yaml:3:3: duplicated mapping key\. Fix: correct the YAML there/)]);
    expect(problemsOf('homeserver: [\n')).toEqual([expect.stringMatching(/user-\d+\.yaml:\d+:\d+: .*Fix: correct the YAML there/)]);
    expect(problemsOf('- a\n- b\n')).toEqual([expect.stringMatching(/user-\d+\.yaml: holds a list, not a map of settings\. Fix: /)]);
  });

  test('values under secret-looking keys are not echoed', () => {
    expect(showValue(['homeserver', 'turn', 'password'], 'hunter2')).not.toContain('hunter2');
    expect(showValue(['homeserver', 'bind'], 'hunter2')).toBe('"hunter2"');
  });

  test('a secret of the wrong type is not echoed either: numbers, lists, maps, and secrets inside a shown map', () => {
    const problems = problemsOf(
      ['homeserver:', '  turn:', '    shared_secret: 12345', '    password: 98765', '    username: [ "visible-user" ]'].join('\n'),
    );
    expect(problems).toHaveLength(3);
    const text = problems.join('\n');
    for (const secret of ['12345', '98765']) expect(text).not.toContain(secret);
    expect(text).toMatch(/homeserver\.turn\.shared_secret: \(a hidden secret\) is not /);
    expect(text).toMatch(/homeserver\.turn\.password: \(a hidden secret\) is not /);
    expect(text).toContain('visible-user');
    expect(showValue(['a', 'sasl', 'password'], ['hunter2'])).toBe('(a hidden secret)');
    expect(showValue(['a', 'sasl', 'password', 0], 'hunter2')).toBe('(a hidden secret)');
    expect(showValue(['a', 'tls'], { cert: 'PEM', key: 'PRIVATE', token: 'T0K' })).toBe('{"cert":"PEM","key":"(hidden)","token":"(hidden)"}');
    expect(showValue(['homeserver', 'turn', 'password'], '')).toBe('""');
  });
});

test('host.status_token: 16 or more printable characters or null, never echoed when wrong', () => {
  expect(load('host: { status_token: a-status-token-of-length }').host.status_token).toBe('a-status-token-of-length');
  expect(load('').host.status_token).toBeNull();
  for (const bad of ['short-token', '"has a space inside of it"', '1234567890123456789']) {
    const problems = problemsOf(`host: { status_token: ${bad} }`);
    expect(problems).toEqual([expect.stringMatching(/^host\.status_token: \(a hidden secret\) is not a token of 16 or more printable characters \(no spaces\), or null/)]);
    expect(problems.join('\n')).not.toContain(bad.replace(/"/g, ''));
  }
});

test('didYouMean finds typos, swaps and case slips, and nothing for unrelated words', () => {
  const keys = ['data_dir', 'logging', 'homeserver', 'redis', 'host', 'bridges'];
  expect(didYouMean('homeservr', keys)).toBe('homeserver');
  expect(didYouMean('hsot', keys)).toBe('host');
  expect(didYouMean('Redis', keys)).toBe('redis');
  expect(didYouMean('zebra', keys)).toBeNull();
});
