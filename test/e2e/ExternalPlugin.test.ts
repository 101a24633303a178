// A plugin as a third party writes it: in a folder of its own outside this repository, against the built
// package (npm pack, unpacked into its node_modules), type-checked with `tsc --strict` and no declarations
// of its own (and no @types at all), loaded by `patchbay start` through `module:` (a path relative to the
// config file), and exchanging messages with a Matrix user through the real stack. A wrong call does not
// compile.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { enc, registerUser, waitFor, type TestUser } from '../harness/index.js';
import { PatchbayProcess } from './PatchbayProcess.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const tsc = join(repo, 'node_modules', 'typescript', 'bin', 'tsc');
const SECRET = 'external-plugin-secret';
const READY = /^patchbay start: ready\. Homeserver (\S+) \(server name \S+\), appservice host (\S+),/;

const PLUGIN = `
import { PermanentError, type BridgeContext, type BridgePlugin, type EventContext, type MatrixEvent, type PluginFactory } from 'patchbay-matrix/plugin';

interface HookConfig {
  secret: string;
}

class HookBridge implements BridgePlugin<HookConfig> {
  readonly descriptor = {
    protocol: 'hook',
    ghostPrefix: 'hook_',
    aliasPrefix: 'hook_',
    configSchema: { type: 'object', required: ['secret'], properties: { secret: { type: 'string', minLength: 8, title: 'a secret', description: 'at least 8 characters', examples: ['s3cret-s3cret'] } } },
  };
  private ctx: BridgeContext<HookConfig> | null = null;

  async start(ctx: BridgeContext<HookConfig>): Promise<void> {
    this.ctx = ctx;
    ctx.http.authorize((req) => req.headers.authorization === \`Bearer \${ctx.config.secret}\`);
    ctx.http.route('POST', '/say', async (req) => {
      const { room, text } = req.json() as { room: string; text: string };
      await ctx.links.link(room, { network: 'hook', location: room });
      await ctx.outbox.enqueue({ remoteId: text, roomId: room, senderRemoteId: 'remote', type: 'm.room.message', content: { msgtype: 'm.text', body: text } });
      return { status: 202, json: {} };
    });
    ctx.http.route('GET', '/heard', async () => ({ json: await ctx.store.readList('heard') }));
  }

  async stop(): Promise<void> {
    this.ctx = null;
  }

  async onMatrixEvent(event: MatrixEvent, ectx: EventContext): Promise<void> {
    if (ectx.fromBridge || event.type !== 'm.room.message' || !this.ctx) return;
    const body = String(event.content.body);
    if (body === 'forbidden') throw new PermanentError('this remote network refuses that word');
    await this.ctx.store.appendOnce('heard', event.event_id, body);
  }
}

const createHookBridge: PluginFactory<HookConfig> = () => new HookBridge();
export default createHookBridge;
`;

// Each line is one mistake the plugin API's types must catch.
const WRONG = `
import type { BridgeContext } from 'patchbay-matrix/plugin';
export function wrong(ctx: BridgeContext): void {
  ctx.logger.nonexistent('a logger has no such method');
  ctx.metrics.nonexistent();
  void ctx.outbox.enqueue({ remoteId: 'r', roomId: '!r:hs', senderRemoteId: null, type: 'm.room.message', content: { msgtype: 'm.text', bdy: 'a typo' } });
}
`;

const tsconfig = (include: string) =>
  JSON.stringify({
    compilerOptions: {
      target: 'ES2022',
      lib: ['ES2022'],
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      strict: true,
      skipLibCheck: false,
      types: [],
      rootDir: 'src',
      outDir: 'dist',
    },
    include: [include],
  });

function run(command: string, args: string[], cwd: string): { status: number | null; output: string } {
  const r = spawnSync(command, args, { cwd, encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

describe('a plugin written outside the repository against the built package', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'patchbay-external-'));
  const pluginDir = join(tmp, 'plugin');
  let patchbay: PatchbayProcess | null = null;
  let homeserverUrl = '';
  let hostUrl = '';
  let alice: TestUser;
  let roomId = '';

  beforeAll(() => {
    mkdirSync(join(pluginDir, 'src'), { recursive: true });
    mkdirSync(join(pluginDir, 'node_modules'), { recursive: true });
    const pack = run('npm', ['pack', '--ignore-scripts', '--pack-destination', tmp], repo);
    expect(pack.status).toBe(0);
    const tarball = readdirSync(tmp).find((f) => f.startsWith('patchbay-matrix-') && f.endsWith('.tgz'));
    expect(tarball).toBeDefined();
    expect(run('tar', ['-xzf', join(tmp, tarball!), '-C', join(pluginDir, 'node_modules')], tmp).status).toBe(0);
    renameSync(join(pluginDir, 'node_modules', 'package'), join(pluginDir, 'node_modules', 'patchbay-matrix'));
    writeFileSync(join(pluginDir, 'package.json'), JSON.stringify({ name: 'patchbay-bridge-hook', type: 'module', private: true }));
    writeFileSync(join(pluginDir, 'src', 'index.ts'), PLUGIN);
    writeFileSync(join(pluginDir, 'tsconfig.json'), tsconfig('src/index.ts'));
    writeFileSync(join(pluginDir, 'src', 'wrong.ts'), WRONG);
    writeFileSync(join(pluginDir, 'tsconfig.wrong.json'), JSON.stringify({ ...JSON.parse(tsconfig('src/wrong.ts')), compilerOptions: { ...JSON.parse(tsconfig('')).compilerOptions, noEmit: true } }));
  }, 120_000);

  afterAll(async () => {
    if (patchbay) {
      patchbay.killGroup();
      await patchbay.exited;
    }
    rmSync(tmp, { recursive: true, force: true });
  });

  it('type-checks with strict and nothing but the package', () => {
    const built = run(process.execPath, [tsc, '-p', 'tsconfig.json'], pluginDir);
    expect(built.output).toBe('');
    expect(built.status).toBe(0);
  }, 120_000);

  it('refuses wrong calls: a logger method, a metrics method and a content key that do not exist', () => {
    const wrong = run(process.execPath, [tsc, '-p', 'tsconfig.wrong.json'], pluginDir);
    expect(wrong.status).not.toBe(0);
    const errors = wrong.output.split('\n').filter((l) => l.includes('error TS'));
    expect(errors).toEqual([
      expect.stringMatching(/^src\/wrong\.ts\(4,14\): error TS2339: Property 'nonexistent' does not exist on type 'Logger'/),
      expect.stringMatching(/^src\/wrong\.ts\(5,15\): error TS2339: Property 'nonexistent' does not exist on type 'PluginMetrics'/),
      expect.stringMatching(/^src\/wrong\.ts\(6,\d+\): error TS2561: .*'bdy' does not exist in type 'TextContent'. Did you mean to write 'body'\?/),
    ]);
  }, 120_000);

  it('is loaded by patchbay start from a path relative to the config file, and bridges both ways', async () => {
    mkdirSync(join(tmp, 'conf'));
    mkdirSync(join(tmp, 'run'));
    writeFileSync(
      join(tmp, 'conf', 'patchbay.yaml'),
      [
        'data_dir: ./data',
        'homeserver: { storage: memory, port: 0, appservice_retry: { initial_ms: 100, max_ms: 1000 } }',
        'host: { port: 0 }',
        'bridges:',
        '  example: { enabled: false }',
        `  hook: { enabled: true, module: ../plugin/dist/index.js, secret: ${SECRET} }`,
        '',
      ].join('\n'),
    );
    // Started from another folder than the config's: the module path follows the config file.
    patchbay = PatchbayProcess.start(['start', '-c', '../conf/patchbay.yaml'], { cwd: join(tmp, 'run') });
    [, homeserverUrl = '', hostUrl = ''] = await patchbay.waitForLine(READY, 60_000);
    expect(patchbay.stdout).toMatch(/bridges: hook\./);
    alice = await registerUser(homeserverUrl, 'alice');
    roomId = (await alice.http.ok<{ room_id: string }>('POST', '/createRoom', { body: { preset: 'public_chat' } })).room_id;

    const said = await fetch(`${hostUrl}/_patchbay/bridges/hook/say`, {
      method: 'POST',
      headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/json' },
      body: JSON.stringify({ room: roomId, text: 'hello from outside' }),
    });
    expect(said.status).toBe(202);
    const timeline = async () =>
      (await alice.http.ok<{ chunk: Array<{ sender: string; type: string; content: Record<string, unknown> }> }>('GET', `/rooms/${enc(roomId)}/messages`, { query: { dir: 'b', limit: 50 } })).chunk;
    const message = await waitFor(async () => (await timeline()).find((e) => e.type === 'm.room.message'), 30_000, 'the remote message');
    expect(message).toMatchObject({ sender: '@hook_remote:localhost', content: { body: 'hello from outside' } });

    await alice.http.ok('PUT', `/rooms/${enc(roomId)}/send/m.room.message/ping`, { body: { msgtype: 'm.text', body: 'ping from Matrix' } });
    const heard = async (): Promise<string[]> =>
      (await (await fetch(`${hostUrl}/_patchbay/bridges/hook/heard`, { headers: { authorization: `Bearer ${SECRET}` } })).json()) as string[];
    expect(await waitFor(async () => ((await heard()).includes('ping from Matrix') ? heard() : null), 30_000, 'the plugin to hear the message')).toEqual(['ping from Matrix']);

    // The plugin's own copy of PermanentError is recognised by the host: dead-lettered at once, said in the room.
    await alice.http.ok('PUT', `/rooms/${enc(roomId)}/send/m.room.message/forbidden`, { body: { msgtype: 'm.text', body: 'forbidden' } });
    const notice = await waitFor(async () => (await timeline()).find((e) => e.content.msgtype === 'm.notice'), 30_000, 'the notice');
    expect(String(notice.content.body)).toMatch(/: this remote network refuses that word$/);
    expect(patchbay.logs().filter((l) => l.msg === 'event handler failed')).toHaveLength(0);

    expect(await patchbay.stop()).toBe(0);
    patchbay = null;
  }, 180_000);
});
