// What a start that cannot work says, as a user sees it from the real CLI: every configuration problem at
// once (the bridges' with the rest, secrets never repeated), and the machine's problems (a port in use, a
// data_dir it cannot write, a `patchbay start` already running) named with the key and the fix before
// anything starts, with `patchbay doctor` finding the same, one problem per line.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { CLI, PatchbayProcess, type RunResult } from '../e2e/PatchbayProcess.js';

const SECRETS = ['12345', '98765', 'hunter2'];

describe('problems found before anything starts', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'patchbay-checks-'));
  const run = (args: string[]): Promise<RunResult> => PatchbayProcess.run(args, { cwd });
  const write = (name: string, yaml: string): string => {
    writeFileSync(join(cwd, name), yaml);
    return name;
  };
  let blocker: Server;
  let blockedPort = 0;

  beforeAll(async () => {
    // World-readable, so the CLI can run as another user in the data_dir test.
    chmodSync(cwd, 0o755);
    blocker = createServer();
    blocker.listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    blockedPort = (blocker.address() as { port: number }).port;
  });

  afterAll(async () => {
    blocker.close();
    rmSync(cwd, { recursive: true, force: true });
  });

  test('core and IRC configuration problems are listed together, each with its fix, no secret repeated', async () => {
    const file = write(
      'bad.yaml',
      [
        'data_dir: ./bad-data',
        'homeserver:',
        '  port: "abc"',
        '  turn: { shared_secret: 12345, password: 98765 }',
        'bridges:',
        '  irc:',
        '    enabled: true',
        '    networks:',
        '      libera:',
        '        host: irc.example.org',
        '        port: "26667x"',
        '        sasl: { account: patchbay, password: [ "hunter2" ] }',
        '        bot: { nick: "bad nick" }',
      ].join('\n'),
    );
    const r = await run(['start', '-c', file]);
    expect(r.code).toBe(78);
    const lines = r.stderr.trim().split('\n');
    expect(lines[0]).toBe('patchbay start: Invalid configuration (defaults + bad.yaml):');
    expect(lines.slice(1).map((l) => l.trim())).toEqual([
      expect.stringMatching(/^homeserver\.port: "abc" is not a port number\. Fix: set homeserver\.port to an integer 1-65535/),
      'homeserver.turn.password: (a hidden secret) is not a password or null. Fix: set homeserver.turn.password to a password, or null, e.g. ${TURN_PASSWORD}',
      expect.stringMatching(/^homeserver\.turn\.shared_secret: \(a hidden secret\) is not /),
      'bridges.irc.networks.libera.port: "26667x" is not a port number. Fix: set bridges.irc.networks.libera.port to an integer 1-65535, e.g. 6697',
      expect.stringMatching(/^bridges\.irc\.networks\.libera\.sasl\.password: \(a hidden secret\) is not a password\. Fix: /),
      expect.stringMatching(/^bridges\.irc\.networks\.libera\.bot\.nick: "bad nick" is not an IRC nick\. Fix: set bridges\.irc\.networks\.libera\.bot\.nick to a nick of letters, digits/),
    ]);
    for (const secret of SECRETS) expect(r.stderr).not.toContain(secret);
    expect(existsSync(join(cwd, 'bad-data'))).toBe(false);

    const doctor = await run(['doctor', '-c', file]);
    expect(doctor.code).toBe(1);
    const out = doctor.stdout.trim().split('\n');
    expect(out.filter((l) => l.startsWith('✗ config: '))).toHaveLength(6);
    expect(out).toContain('✗ config: bridges.irc.networks.libera.port: "26667x" is not a port number. Fix: set bridges.irc.networks.libera.port to an integer 1-65535, e.g. 6697');
    expect(out.at(-1)).toBe('6 problems in the configuration (defaults + bad.yaml); fix them, then run doctor again.');
    for (const secret of SECRETS) expect(doctor.stdout).not.toContain(secret);
  });

  test('a port in use is named with its key before Redis starts or the registration is written; doctor names it too', async () => {
    const file = write('busy.yaml', `data_dir: ./busy-data\nhost:\n  port: ${blockedPort}\nhomeserver:\n  port: 0\n`);
    const r = await run(['start', '-c', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `patchbay start: cannot start:\n  host.port: 127.0.0.1:${blockedPort} is in use by another program. Fix: stop that program, or set host.port to a free port (0 picks any)\n`,
    );
    expect(existsSync(join(cwd, 'busy-data', 'registration.yaml'))).toBe(false);
    expect(existsSync(join(cwd, 'busy-data', 'redis'))).toBe(false);

    const doctor = await run(['doctor', '-c', file]);
    expect(doctor.stdout).toContain(`✗ ports: host.port: 127.0.0.1:${blockedPort} is in use by another program. Fix: `);
    expect(doctor.stdout).toMatch(/^✓ ports: homeserver\.port is 0: any free port is taken at start$/m);
  });

  test('a federation listener port in use is named with its key; without federation the listener is not opened', async () => {
    const file = write(
      'fedbusy.yaml',
      `data_dir: ./fedbusy-data\nhomeserver:\n  port: 0\n  storage: memory\n  metrics: { enabled: false }\n  federation:\n    enabled: true\n    listener: { port: ${blockedPort} }\n`,
    );
    const r = await run(['homeserver', '-c', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `homeserver.federation.listener.port: 127.0.0.1:${blockedPort} is in use by another program. Fix: stop that program, or set homeserver.federation.listener.port to a free port (0 picks any)`,
    );
    const doctor = await run(['doctor', '-c', file]);
    expect(doctor.stdout).toContain(`✗ ports: homeserver.federation.listener.port: 127.0.0.1:${blockedPort} is in use by another program. Fix: `);
    const off = write('fedoff.yaml', `data_dir: ./fedoff-data\nhomeserver:\n  port: 0\n  federation:\n    listener: { port: ${blockedPort} }\n`);
    expect((await run(['doctor', '-c', off])).stdout).not.toContain('homeserver.federation.listener.port');
  });

  test('a data_dir this user cannot write is named with the user and the fix', async () => {
    const dataDir = join(cwd, 'readonly-data');
    mkdirSync(dataDir);
    const file = write('readonly.yaml', 'data_dir: ./readonly-data\nhost: { port: 0 }\nhomeserver: { port: 0 }\n');
    const asOther = (args: string[]): Promise<RunResult> => runAsOtherUser(args, cwd, dataDir);
    const r = await asOther(['start', '-c', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(`^patchbay start: cannot start:\\n  data_dir: ${dataDir} is not writable by this user \\(\\S+, uid \\d+\\): EACCES\\. Fix: make it writable for that user \\(e\\.g\\. chown -R \\S+ ${dataDir}\\), or set data_dir to a folder it can write\\n$`),
    );
    const doctor = await asOther(['doctor', '-c', file]);
    expect(doctor.stdout).toMatch(new RegExp(`^✗ data_dir: data_dir: ${dataDir} is not writable by this user`, 'm'));
  });

  test('patchbay homeserver beside a running patchbay start says so, without a stack trace', async () => {
    const file = write('running.yaml', 'data_dir: ./running-data\nhost: { port: 0 }\nhomeserver: { port: 0 }\nlogging: { level: warn }\n');
    const start = PatchbayProcess.start(['start', '-c', file], { cwd });
    try {
      await start.waitForLine(/^patchbay start: ready\./);
      const r = await run(['homeserver', '-c', file]);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(
        `patchbay homeserver: cannot start:\n  data_dir: patchbay start (pid ${start.pid}) runs on ${join(cwd, 'running-data')}, and with it its embedded homeserver on the same database. ` +
          'Fix: stop that patchbay start first, or give this command its own data_dir\n',
      );
      const second = await run(['start', '-c', file]);
      expect(second.code).toBe(1);
      expect(second.stderr).toMatch(/^patchbay start: cannot start:\n {2}data_dir: patchbay start \(pid \d+\) runs on /);
    } finally {
      start.killGroup();
      await start.exited;
    }
  });
});

/**
 * Runs the CLI as a user who may not write `dataDir`: as root (which may write anything) as nobody,
 * otherwise as ourselves with the folder made read-only.
 */
/** This Node, where user nobody can run it: `npx -p node@24` keeps its Node under /root (mode 0700). */
function nodeForOtherUser(cwd: string): string {
  const copy = join(cwd, 'node-for-nobody');
  if (!existsSync(copy)) {
    copyFileSync(process.execPath, copy);
    chmodSync(copy, 0o755);
  }
  return copy;
}

function runAsOtherUser(args: string[], cwd: string, dataDir: string): Promise<RunResult> {
  const root = process.getuid?.() === 0;
  if (!root) chmodSync(dataDir, 0o555);
  return new Promise((resolve, reject) => {
    const child = spawn(root ? nodeForOtherUser(cwd) : process.execPath, [CLI, ...args], {
      cwd,
      env: { PATH: process.env.PATH },
      ...(root && { uid: 65534, gid: 65534 }),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
