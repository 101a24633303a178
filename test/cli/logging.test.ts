// Logs as an operator gets them from the real CLI: JSON lines when stdout is not a terminal, readable
// lines (pino-pretty) when asked or on a terminal, and JSON lines in logging.file, reopened on SIGHUP
// after a log rotation moved the old file away.
import { afterAll, describe, expect, test } from '@jest/globals';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prettyWanted } from '../../bin/logger.js';
import { waitFor } from '../../testkit/waitFor.js';
import { PatchbayProcess } from '../e2e/PatchbayProcess.js';

const cwd = mkdtempSync(join(tmpdir(), 'patchbay-logging-'));
afterAll(() => rmSync(cwd, { recursive: true, force: true }));

const READY = /^patchbay homeserver: serving /;

describe('logging', () => {
  test('logging.format auto: pretty on a terminal, JSON lines on a pipe', () => {
    expect([prettyWanted('auto', true), prettyWanted('auto', false), prettyWanted('json', true), prettyWanted('pretty', false)]).toEqual([true, false, false, true]);
  });

  test('on a pipe by default every log line is JSON', async () => {
    writeFileSync(join(cwd, 'json.yaml'), 'data_dir: ./json-data\nhomeserver: { port: 0 }\n');
    const hs = PatchbayProcess.start(['homeserver', '-c', 'json.yaml'], { cwd });
    try {
      await hs.waitForLine(READY);
      const logLines = hs.stdout.split('\n').filter((l) => l !== '' && !READY.test(l));
      expect(logLines.length).toBeGreaterThan(0);
      for (const line of logLines) expect(() => JSON.parse(line)).not.toThrow();
    } finally {
      await hs.stop();
    }
  });

  test('format pretty writes readable lines; logging.file gets JSON lines and is reopened on SIGHUP', async () => {
    writeFileSync(join(cwd, 'pretty.yaml'), 'data_dir: ./pretty-data\nhomeserver: { port: 0 }\nlogging: { format: pretty, file: logs/patchbay.log }\n');
    const hs = PatchbayProcess.start(['homeserver', '-c', 'pretty.yaml'], { cwd });
    const file = join(cwd, 'pretty-data', 'logs', 'patchbay.log');
    try {
      await hs.waitForLine(READY);
      await waitFor(() => hs.stdout.includes('homeserver listening'), 10_000, 'the pretty line');
      const line = hs.stdout.split('\n').find((l) => l.includes('homeserver listening')) ?? '';
      expect(line).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] .*INFO.*: .*homeserver listening.* \{.*"component":"homeserver"/);
      expect(hs.stdout.split('\n').some((l) => l.startsWith('{'))).toBe(false);
      const logged = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { msg: string });
      expect(logged.map((l) => l.msg)).toContain('homeserver listening');

      renameSync(file, `${file}.1`);
      hs.signal('SIGHUP');
      await waitFor(() => existsSync(file) && readFileSync(file, 'utf8').includes('"msg":"reloaded"'), 10_000, 'the reopened log file');
      expect(readFileSync(`${file}.1`, 'utf8')).not.toContain('"msg":"reloaded"');
    } finally {
      await hs.stop();
    }
  });
});
