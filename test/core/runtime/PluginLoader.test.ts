import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../../config/index.js';
import { PluginLoader } from '../../../core/plugin/PluginLoader.js';
import { registrationInputsFor } from '../../../core/plugin/RegistrationInputs.js';
import { builtinBridges } from '../../../bridges/registry.js';
import { generateRegistration } from '../../../registration/index.js';

// A third-party plugin as a package author would ship it: plain ESM, default export is the factory.
const THIRD_PARTY = `
export default function () {
  return {
    descriptor: { protocol: 'thirdparty', ghostPrefix: 'tp_', aliasPrefix: 'tp_',
      configSchema: { type: 'object', required: ['server'], properties: { server: { type: 'string', title: 'a host name', description: 'the server to connect to', examples: ['irc.example.org'] }, port: { type: 'integer', default: 6667 } } } },
    async start() {}, async stop() {}, async onMatrixEvent() {},
    async onUserQuery() { return true; },
    thirdPartyProtocol() { return { user_fields: [], location_fields: [], icon: '', field_types: {}, instances: [] }; },
    async lookupThirdPartyUser() { return []; }, async lookupThirdPartyLocation() { return []; },
  };
}`;
const NAMED_EXPORT = `
export function createPlugin() {
  return { descriptor: { protocol: 'named', ghostPrefix: 'named_', aliasPrefix: 'named_' }, async start() {}, async stop() {}, async onMatrixEvent() {}, async onCallEvent() {} };
}`;
const NOT_A_PLUGIN = `export const something = 1;`;
const withPrefixes = (protocol: string, prefixes: string[]): string =>
  `export default () => ({ descriptor: { protocol: '${protocol}', ghostPrefix: '${protocol}_', aliasPrefix: '${protocol}_', httpPrefixes: ${JSON.stringify(prefixes)} }, async start() {}, async stop() {}, async onMatrixEvent() {} });`;
const withProtocols = (protocol: string, extra: unknown): string =>
  `export default () => ({ descriptor: { protocol: '${protocol}', ghostPrefix: '${protocol}_', aliasPrefix: '${protocol}_', thirdPartyProtocols: ${JSON.stringify(extra)} }, async start() {}, async stop() {}, async onMatrixEvent() {} });`;
const CLASHING = `
export default () => ({ descriptor: { protocol: 'clash', ghostPrefix: 'example_x', aliasPrefix: 'clash_' }, async start() {}, async stop() {}, async onMatrixEvent() {} });`;

async function problemsOf(promise: Promise<unknown>): Promise<readonly string[]> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConfigError);
  return (err as ConfigError).problems;
}

describe('PluginLoader', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-plugins-'));
  writeFileSync(join(dir, 'thirdparty.mjs'), THIRD_PARTY);
  writeFileSync(join(dir, 'named.mjs'), NAMED_EXPORT);
  writeFileSync(join(dir, 'nothing.mjs'), NOT_A_PLUGIN);
  writeFileSync(join(dir, 'clashing.mjs'), CLASHING);
  writeFileSync(join(dir, 'provision-a.mjs'), withPrefixes('pa', ['/_matrix/provision/v1']));
  writeFileSync(join(dir, 'provision-b.mjs'), withPrefixes('pb', ['/_matrix/provision']));
  writeFileSync(join(dir, 'bad-prefixes.mjs'), withPrefixes('bad', ['/_matrix/app/v1/extra', 'provision/', '/a/../b']));
  writeFileSync(join(dir, 'pstn-a.mjs'), withProtocols('pstna', ['m.protocol.pstn', 'im.vector.protocol.pstn']));
  writeFileSync(join(dir, 'pstn-b.mjs'), withProtocols('pstnb', ['m.protocol.pstn']));
  writeFileSync(join(dir, 'pstn-bad.mjs'), withProtocols('pstnbad', ['has space', 7]));
  // Installed packages: one with a plain "main", one ESM-only (an "import" export condition only).
  for (const [name, manifest] of [
    ['patchbay-bridge-main', { name: 'patchbay-bridge-main', type: 'module', main: 'lib/index.js' }],
    ['@acme/patchbay-bridge-esm', { name: '@acme/patchbay-bridge-esm', type: 'module', exports: { '.': { import: './lib/index.js' } } }],
  ] as const) {
    const root = join(dir, 'node_modules', name);
    mkdirSync(join(root, 'lib'), { recursive: true });
    writeFileSync(join(root, 'package.json'), JSON.stringify(manifest));
    const protocol = name.endsWith('esm') ? 'esm' : 'main';
    writeFileSync(
      join(root, 'lib', 'index.js'),
      `export default () => ({ descriptor: { protocol: '${protocol}', ghostPrefix: '${protocol}_', aliasPrefix: '${protocol}_' }, async start() {}, async stop() {}, async onMatrixEvent() {} });`,
    );
  }
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const loader = new PluginLoader({ builtins: builtinBridges, baseDir: dir });

  it('loads a built-in by name, validates its section and fills in the schema defaults', async () => {
    const [example] = await loader.load({ example: { enabled: true, echo_command: '!say' } });
    expect(example?.name).toBe('example');
    expect(example?.source).toBe('builtin:example');
    expect(example?.descriptor).toMatchObject({ protocol: 'example', ghostPrefix: 'example_' });
    expect(example?.config).toEqual({ echo_command: '!say', echo_ghost: 'echo', echo_display_name: 'Echo', record_list: 'received' });
    expect(Object.keys(example?.capabilities ?? {}).sort()).toEqual(['aliasQuery', 'thirdParty', 'userQuery']);
  });

  it('skips disabled bridges without loading them', async () => {
    expect(await loader.load({ example: { enabled: false, echo_command: 'not validated' }, nonexistent: { enabled: false } })).toEqual([]);
  });

  it('loads third-party plugins by relative and absolute path; default export or createPlugin', async () => {
    const plugins = await loader.load({
      tp: { enabled: true, module: './thirdparty.mjs', server: 'irc.example.org' },
      named: { enabled: true, module: join(dir, 'named.mjs') },
    });
    expect(plugins.map((p) => [p.name, p.descriptor.protocol])).toEqual([['tp', 'thirdparty'], ['named', 'named']]);
    expect(plugins[0]?.config).toEqual({ server: 'irc.example.org', port: 6667 });
    expect(Object.keys(plugins[0]?.capabilities ?? {}).sort()).toEqual(['thirdParty', 'userQuery']);
    expect(Object.keys(plugins[1]?.capabilities ?? {})).toEqual(['call']);
  });

  it('loads third-party plugins by package name from node_modules, ESM-only packages included', async () => {
    const plugins = await loader.load({
      main: { enabled: true, module: 'patchbay-bridge-main' },
      esm: { enabled: true, module: '@acme/patchbay-bridge-esm' },
    });
    expect(plugins.map((p) => [p.name, p.descriptor.protocol, p.source])).toEqual([
      ['main', 'main', 'patchbay-bridge-main'],
      ['esm', 'esm', '@acme/patchbay-bridge-esm'],
    ]);
  });

  it('reports config schema errors by key, with the value and the fix, all bridges at once', async () => {
    const problems = await problemsOf(
      loader.load({
        example: { enabled: true, echo_command: 'two words', record_lsit: 'x' },
        tp: { enabled: true, module: './thirdparty.mjs', port: 'six' },
      }),
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^bridges\.example\.echo_command: "two words" is not a command word\. Fix: set bridges\.example\.echo_command to one word without spaces, e\.g\. !echo$/),
        expect.stringMatching(/^bridges\.example\.record_lsit: unknown key\. Did you mean bridges\.example\.record_list\?/),
        expect.stringMatching(/^bridges\.tp\.server: missing\. Fix: set bridges\.tp\.server to the server to connect to, e\.g\. irc\.example\.org$/),
        expect.stringMatching(/^bridges\.tp\.port: "six" is not valid/),
      ]),
    );
    expect(problems).toHaveLength(4);
  });

  it('names unknown built-ins, missing modules and modules that are no plugin', async () => {
    const problems = await problemsOf(
      loader.load({
        irc2: { enabled: true },
        gone: { enabled: true, module: './missing.mjs' },
        nothing: { enabled: true, module: './nothing.mjs' },
        odd: { enabled: 'yes' },
      }),
    );
    expect(problems[0]).toMatch(/^bridges\.irc2: "irc2" is not a built-in bridge \(built-ins: email, example, irc, sip, webhook\)\. Fix: .*bridges\.irc2\.module/);
    expect(problems[1]).toMatch(/^bridges\.gone\.module: "\.\/missing\.mjs" could not be imported .*Fix: install the package or correct the path/);
    expect(problems[2]).toMatch(/^bridges\.nothing\.module: "\.\/nothing\.mjs" exports neither a default PluginFactory nor createPlugin/);
    expect(problems[3]).toMatch(/^bridges\.odd\.enabled: "yes" is not true or false/);
  });

  it('refuses two bridges whose ghost namespaces overlap', async () => {
    const problems = await problemsOf(loader.load({ example: { enabled: true }, clash: { enabled: true, module: './clashing.mjs' } }));
    expect(problems).toEqual([expect.stringMatching(/^bridges\.example and bridges\.clash: ghost prefixes "example_" and "example_x" overlap/)]);
  });

  it('refuses HTTP prefixes that overlap the host\'s own paths or another bridge\'s, or are no path', async () => {
    expect((await loader.load({ pa: { enabled: true, module: './provision-a.mjs' } })).map((p) => p.descriptor.httpPrefixes)).toEqual([['/_matrix/provision/v1']]);
    expect(await problemsOf(loader.load({ pa: { enabled: true, module: './provision-a.mjs' }, pb: { enabled: true, module: './provision-b.mjs' } }))).toEqual([
      'bridges.pa and bridges.pb: http prefixes /_matrix/provision/v1 and /_matrix/provision overlap. Fix: enable only one of them',
    ]);
    expect(await problemsOf(loader.load({ bad: { enabled: true, module: './bad-prefixes.mjs' } }))).toEqual([
      "bridges.bad: the plugin's http prefix /_matrix/app/v1/extra overlaps the host's own /_matrix/app. Fix: choose another prefix in the plugin's descriptor",
      'bridges.bad: the plugin\'s http prefix "provision/" is not a path like /_matrix/provision/v1 (no trailing /, no . or .. segments). Fix: correct the plugin\'s descriptor',
      'bridges.bad: the plugin\'s http prefix "/a/../b" is not a path like /_matrix/provision/v1 (no trailing /, no . or .. segments). Fix: correct the plugin\'s descriptor',
    ]);
  });

  it('takes further third-party protocol ids, lists them in the registration, and refuses two bridges sharing one', async () => {
    const plugins = await loader.load({ pa: { enabled: true, module: './pstn-a.mjs' } });
    const inputs = registrationInputsFor(plugins, { id: 'p', url: null, serverName: 'localhost', senderLocalpart: 'patchbay' });
    expect(inputs.bridges).toEqual([{ protocol: 'pstna', ghostPrefix: 'pstna_', aliasPrefix: 'pstna_', thirdPartyProtocols: ['m.protocol.pstn', 'im.vector.protocol.pstn'] }]);
    expect(generateRegistration(inputs).protocols).toEqual(['pstna', 'm.protocol.pstn', 'im.vector.protocol.pstn']);
    expect(await problemsOf(loader.load({ pa: { enabled: true, module: './pstn-a.mjs' }, pb: { enabled: true, module: './pstn-b.mjs' } }))).toEqual([
      'bridges.pa and bridges.pb: both use protocol "m.protocol.pstn". Fix: enable only one of them',
    ]);
    expect(await problemsOf(loader.load({ bad: { enabled: true, module: './pstn-bad.mjs' } }))).toEqual([
      'bridges.bad: the plugin\'s thirdPartyProtocols ["has space",7] must be a list of ids made of letters, digits, ".", "_" or "-". Fix: correct the plugin\'s descriptor',
    ]);
  });

  it('gives the registration inputs from the loaded descriptors', async () => {
    const plugins = await loader.load({ example: { enabled: true }, tp: { enabled: true, module: './thirdparty.mjs', server: 's' } });
    expect(registrationInputsFor(plugins, { id: 'patchbay', url: 'http://127.0.0.1:9000', serverName: 'localhost', senderLocalpart: 'patchbay' })).toEqual({
      id: 'patchbay',
      url: 'http://127.0.0.1:9000',
      serverName: 'localhost',
      senderLocalpart: 'patchbay',
      bridges: [
        { protocol: 'example', ghostPrefix: 'example_', aliasPrefix: 'example_' },
        { protocol: 'thirdparty', ghostPrefix: 'tp_', aliasPrefix: 'tp_' },
      ],
      receiveEphemeral: false,
    });
    expect(() => registrationInputsFor(plugins, { id: 'x', url: null, serverName: 'hs', senderLocalpart: 'example_bot' })).toThrow(/ghost prefix "example_"/);
    // What registration/ makes of them: one exclusive namespace per prefix, the protocols listed.
    const reg = generateRegistration(registrationInputsFor(plugins, { id: 'patchbay', url: null, serverName: 'localhost', senderLocalpart: 'patchbay' }));
    expect((reg.namespaces.users ?? []).map((n) => n.regex)).toEqual(['@example_.*:localhost', '@tp_.*:localhost']);
    expect(reg.protocols).toEqual(['example', 'thirdparty']);
  });
});
