// The packaging in the repository (Dockerfile, deploy/compose.yaml, deploy/patchbay.service and the config
// they install, deploy/patchbay.yaml) refers to files, commands, ports and keys that exist: no docker
// daemon runs here to build the image, so these checks stand in for one, and systemd-analyze verifies the
// unit where it is installed.
import { describe, expect, it } from '@jest/globals';
import { PatchbayProcess } from '../e2e/PatchbayProcess.js';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import yaml from 'js-yaml';
import { loadConfig, packageRoot } from '../../config/index.js';

const root = packageRoot();
const read = (path: string): string => readFileSync(join(root, path), 'utf8');
const pkg = JSON.parse(read('package.json')) as { bin: Record<string, string>; files: string[] };

/** The Dockerfile's instructions, with continuation lines joined. */
function dockerInstructions(): Array<{ op: string; args: string }> {
  return read('Dockerfile')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.trim().startsWith('#'))
    .map((l) => {
      const [op = '', ...rest] = l.trim().split(/\s+/);
      return { op: op.toUpperCase(), args: rest.join(' ') };
    });
}

/** A unit file's [Service] keys (the last value of a repeated key). */
function unitKeys(text: string): Map<string, string> {
  const keys = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (m) keys.set(m[1]!, m[2]!);
  }
  return keys;
}

const installed = (env: NodeJS.ProcessEnv) => loadConfig({ file: join(root, 'deploy', 'patchbay.yaml'), env, cwd: tmpdir() });

describe('packaging', () => {
  const instructions = dockerInstructions();
  const finalStage = instructions.slice(instructions.map((i) => i.op).lastIndexOf('FROM'));
  const env = new Map<string, string>();
  for (const i of finalStage.filter((x) => x.op === 'ENV')) for (const [, k, v] of i.args.matchAll(/(\w+)=(\S+)/g)) env.set(k!, v!);

  it('the installed config is valid as it is and in the container, with embedded Redis unless redis.url is given', () => {
    const plain = installed({});
    expect(plain.data_dir).toBe('/var/lib/patchbay');
    expect(plain.redis.url).toBeNull();
    expect(plain.homeserver.bind).toBe('127.0.0.1');
    const container = installed(Object.fromEntries(env));
    expect(container.homeserver.bind).toBe('0.0.0.0');
    expect(installed({ PATCHBAY_REDIS_URL: 'redis://redis:6379' }).redis.url).toBe('redis://redis:6379');
  });

  it('Dockerfile: multi-stage, copies files that exist, runs the package bin as a non-root user with data_dir as a volume', () => {
    expect(instructions.filter((i) => i.op === 'FROM').map((i) => i.args)).toEqual(['node:${NODE_VERSION}-bookworm-slim AS build', 'node:${NODE_VERSION}-bookworm-slim']);
    for (const copy of instructions.filter((i) => i.op === 'COPY' && !i.args.startsWith('--from'))) {
      const sources = copy.args.split(' ').slice(0, -1);
      for (const source of sources) expect({ source, exists: existsSync(join(root, source)) }).toEqual({ source, exists: true });
    }
    const copiedFromBuild = finalStage.filter((i) => i.op === 'COPY' && i.args.startsWith('--from=build')).map((i) => i.args.split(' ').slice(-1)[0]);
    const entrypoint = JSON.parse(finalStage.find((i) => i.op === 'ENTRYPOINT')!.args) as string[];
    const script = entrypoint.find((a) => a.startsWith('/opt/patchbay/'))!;
    expect(script).toBe(`/opt/patchbay/${pkg.bin.patchbay}`);
    expect(copiedFromBuild).toContain(pkg.bin.patchbay);
    // What the bin script imports before it runs the CLI.
    for (const [, imported] of read(pkg.bin.patchbay).matchAll(/from '\.\/(\S+)'/g)) expect(copiedFromBuild).toContain(`scripts/${imported}`);
    expect(finalStage.find((i) => i.op === 'RUN')!.args).toMatch(/apt-get install .*redis-server/);
    expect(finalStage.find((i) => i.op === 'USER')!.args).toBe('patchbay');
    expect(JSON.parse(finalStage.find((i) => i.op === 'VOLUME')!.args)).toEqual([installed({}).data_dir]);
    expect(finalStage.find((i) => i.op === 'EXPOSE')!.args).toBe(String(installed({}).homeserver.port));
    const configCopy = finalStage.find((i) => i.op === 'COPY' && i.args.startsWith('deploy/patchbay.yaml'))!;
    expect(configCopy.args.split(' ')[1]).toBe(env.get('PATCHBAY_CONFIG'));
  });

  it('compose: Patchbay reaches the redis service through redis.url, keeps data_dir in a volume and publishes the homeserver', () => {
    const compose = yaml.load(read('deploy/compose.yaml')) as {
      services: Record<string, { build?: { context: string; dockerfile: string }; environment?: Record<string, string>; volumes?: string[]; ports?: string[]; command?: string[]; healthcheck?: { test: string[] } }>;
    };
    expect(Object.keys(compose.services).sort()).toEqual(['patchbay', 'redis']);
    const patchbay = compose.services.patchbay!;
    expect(existsSync(join(root, 'deploy', patchbay.build!.context, patchbay.build!.dockerfile))).toBe(true);
    const redisUrl = new URL(patchbay.environment!.PATCHBAY_REDIS_URL!);
    expect(compose.services[redisUrl.hostname]).toBeDefined();
    expect(compose.services.redis!.command).toEqual(expect.arrayContaining(['--appendonly', 'yes']));
    // What compose hands the container, with its own ${VAR:-default} references at their defaults.
    const given = Object.fromEntries(Object.entries(patchbay.environment!).map(([k, v]) => [k, v.replace(/\$\{\w+:-([^}]*)\}/g, '$1')]));
    const config = installed({ ...Object.fromEntries(env), ...given });
    expect(config.redis.url).toBe(redisUrl.href.replace(/\/$/, ''));
    expect(patchbay.volumes!.map((v) => v.split(':')[1])).toContain(config.data_dir);
    expect(patchbay.ports!.map((p) => p.split(':').slice(-1)[0])).toContain(String(config.homeserver.port));
    expect(patchbay.healthcheck!.test.join(' ')).toContain(`http://127.0.0.1:${config.host.port}/health`);
  });

  it('systemd unit: runs the package bin with the installed config, writes only data_dir, restarts on failure', () => {
    const text = read('deploy/patchbay.service');
    const unit = unitKeys(text);
    const [binary, command, flag, configPath] = unit.get('ExecStart')!.split(' ');
    expect(binary).toBe(`/opt/patchbay/node_modules/.bin/${Object.keys(pkg.bin)[0]}`);
    expect(pkg.files).toContain(pkg.bin.patchbay);
    expect([command, flag]).toEqual(['start', '--config']);
    expect(configPath).toBe(env.get('PATCHBAY_CONFIG'));
    expect(unit.get('ReadWritePaths')).toBe(installed({}).data_dir);
    expect(unit.get('WorkingDirectory')).toBe(installed({}).data_dir);
    expect(unit.get('StateDirectory')).toBe('patchbay');
    expect(unit.get('Restart')).toBe('on-failure');
    expect(unit.get('ProtectSystem')).toBe('strict');
    expect(unit.get('User')).toBe('patchbay');
    expect(unit.has('MemoryDenyWriteExecute')).toBe(false);
  });

  it("the image's runtime layout runs: the final stage's files, outside a checkout, start Patchbay with the installed config", async () => {
    const image = mkdtempSync(join(tmpdir(), 'patchbay-image-'));
    const at = (path: string): string => join(image, path.replace(/^\/opt\/patchbay\/?/, 'opt/patchbay/').replace(/^\/(?!opt)/, ''));
    const workdir = finalStage.find((i) => i.op === 'WORKDIR')!.args;
    let start: PatchbayProcess | null = null;
    try {
      for (const copy of finalStage.filter((i) => i.op === 'COPY')) {
        const parts = copy.args.split(' ').filter((p) => !p.startsWith('--'));
        const dest = parts.pop()!;
        for (const source of parts) {
          // The build stage's /src is this checkout, built; node_modules is linked, not copied.
          const from = join(root, source.replace(/^\/src\//, ''));
          const to = dest.endsWith('/') ? at(join(dest.startsWith('/') ? dest : join(workdir, dest), source.split('/').pop()!)) : at(dest.startsWith('/') ? dest : join(workdir, dest));
          mkdirSync(dirname(to), { recursive: true });
          if (source.endsWith('node_modules')) symlinkSync(from, to);
          else cpSync(from, to, { recursive: true });
        }
      }
      const entrypoint = JSON.parse(finalStage.find((i) => i.op === 'ENTRYPOINT')!.args) as string[];
      const script = at(entrypoint.find((a) => a.startsWith('/opt/patchbay/'))!);
      // The installed config with data_dir and the ports moved into the test's folder.
      const config = read('deploy/patchbay.yaml').replace('/var/lib/patchbay', join(image, 'data')).replace(/port: \d+/g, 'port: 0');
      writeFileSync(at(env.get('PATCHBAY_CONFIG')!), config);
      const command = JSON.parse(finalStage.find((i) => i.op === 'CMD')!.args) as string[];
      start = PatchbayProcess.start(command, { cwd: image, env: { PATCHBAY_CONFIG: at(env.get('PATCHBAY_CONFIG')!) }, script });
      await start.waitForLine(/^patchbay start: ready\./, 60_000);
      expect(await start.stop()).toBe(0);
    } finally {
      // SIGTERM first, so the redis-server it runs (in its own process group) stops with it.
      if (start?.running) await start.stop();
      start?.killGroup();
      rmSync(image, { recursive: true, force: true });
    }
  });

  const analyze = spawnSync('systemd-analyze', ['--version']).status === 0;
  (analyze ? it : it.skip)('systemd-analyze verify accepts the unit without a warning', () => {
    const dir = mkdtempSync(join(tmpdir(), 'patchbay-unit-'));
    try {
      // verify wants ExecStart to exist: point it at this checkout's bin script.
      const text = read('deploy/patchbay.service').replace('/opt/patchbay/node_modules/.bin/patchbay', join(root, pkg.bin.patchbay));
      writeFileSync(join(dir, 'patchbay.service'), text);
      const r = spawnSync('systemd-analyze', ['verify', join(dir, 'patchbay.service')], { encoding: 'utf8' });
      expect({ status: r.status, output: `${r.stdout}${r.stderr}` }).toEqual({ status: 0, output: '' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
