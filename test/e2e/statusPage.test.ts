// The status page in a real browser (Debian's chromium, driven by playwright-core) against a real
// `patchbay start` with two IRC networks: one on a real ngircd, one pointing at a closed port. The page
// shows the broken one in red with its reason and the working one in green, lists a dead letter whose
// text is markup without running it, and drops and replays dead letters with its buttons. It saves a
// screenshot (PATCHBAY_STATUS_SCREENSHOT names where; docs/status-page.png is made this way). /health and
// `patchbay doctor` name the same broken network.
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import { chromium, type Browser, type Page } from 'playwright-core';
import { NgircdServer } from '../../bridges/irc/test/NgircdServer.js';
import { DeadLetters, PipelineKeys } from '../../core/host/index.js';
import { EventLedger } from '../../core/queue/EventLedger.js';
import { waitFor } from '../harness/index.js';
import { freePort, PatchbayProcess } from './PatchbayProcess.js';

const CHROMIUM = '/usr/bin/chromium';
const TOKEN = 'status-token-for-the-browser-test';
const RED = 'rgb(207, 34, 46)';
const GREEN = 'rgb(26, 127, 55)';

const ircd = new NgircdServer();
const cwd = mkdtempSync(join(tmpdir(), 'patchbay-status-'));
let start: PatchbayProcess;
let browser: Browser;
let page: Page;
let hostUrl = '';
let redis: Redis;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (npm test's bootstrap does: apt-get install chromium)`);
  await ircd.start();
  const closedPort = await freePort();
  writeFileSync(
    join(cwd, 'patchbay.yaml'),
    [
      'data_dir: ./data',
      'homeserver: { port: 0 }',
      `host: { port: 0, status_token: ${TOKEN} }`,
      'bridges:',
      '  example: { enabled: false }',
      '  irc:',
      '    enabled: true',
      '    networks:',
      `      working: { name: Working, host: ${ircd.host}, port: ${ircd.port}, limits: { connect_interval_ms: 0 } }`,
      `      broken: { name: Broken, host: 127.0.0.1, port: ${closedPort}, limits: { connect_interval_ms: 0, reconnect_initial_ms: 200 } }`,
      '',
    ].join('\n'),
  );
  start = PatchbayProcess.start(['start', '-c', 'patchbay.yaml'], { cwd, env: { NO_COLOR: '1' } });
  [, hostUrl = ''] = await start.waitForLine(/appservice host (http:\S+),/, 90_000);
  redis = new Redis({ path: join(cwd, 'data', 'redis', 'redis.sock') });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  redis?.disconnect();
  start?.killGroup();
  await start?.exited;
  await ircd.stop();
  rmSync(cwd, { recursive: true, force: true });
});

/** The script expression of a connection's row on the page. */
const row = (connection: string): string => `document.querySelector('#connections tr[data-connection=${connection}]')`;

/** A dead letter as the worker writes it, with markup where a remote's text would be. */
async function deadLetter(id: string, body: string): Promise<void> {
  const keys = new PipelineKeys('patchbay');
  await new DeadLetters(redis, keys, new EventLedger(redis, keys, 3600)).add({
    event: { event_id: id, room_id: '!nowhere:localhost', type: 'm.room.message', sender: '@alice:localhost', content: { msgtype: 'm.text', body }, origin_server_ts: Date.now() },
    error: `the remote refused <img src=x onerror="window.__ran=1">${body}`,
    attempts: 5,
    time: Date.now(),
    partition: 0,
  });
}

test('asks for the token, then shows the broken network in red, the working one in green', async () => {
  const gate = await page.goto(`${hostUrl}/`);
  expect(gate?.status()).toBe(401);
  await page.fill('input[name=token]', TOKEN);
  await page.click('button');
  await page.waitForURL(`${hostUrl}/`);

  const broken = page.locator('#connections tr[data-connection=broken]');
  await broken.waitFor({ timeout: 60_000 });
  await page.waitForFunction(`${row('broken')}?.dataset.state === 'backoff'`, null, { timeout: 60_000 });
  const working = page.locator('#connections tr[data-connection=working]');
  await page.waitForFunction(`${row('working')}?.dataset.state === 'connected'`, null, { timeout: 60_000 });

  expect(await broken.locator('td').nth(2).innerText()).toBe('backoff');
  expect(await broken.innerText()).toMatch(/connection refused/i);
  expect(await page.evaluate(`getComputedStyle(${row('broken')}.querySelector('td span')).color`)).toBe(RED);
  expect(await page.evaluate(`getComputedStyle(${row('working')}.querySelector('td span')).color`)).toBe(GREEN);
  expect(await working.innerText()).toMatch(/connected/);
  expect(await page.locator('#overall').innerText()).toBe('degraded');
  expect(await page.locator('#problems').innerText()).toMatch(/bridge irc: connection broken backoff/);
  expect(await page.locator('#services').innerText()).toMatch(/homeserver\treachable/);
  expect(await page.locator('#services').innerText()).toMatch(/redis\treachable/);
  expect(await page.locator('#partitions tr').count()).toBe(17);
  // The bot's warnings about the broken network are among the recent errors.
  await page.waitForFunction("/broken/.test(document.querySelector('#errors').textContent)", null, { timeout: 30_000 });
}, 150_000);

test('dead letters: shown as text, dropped and replayed with the buttons', async () => {
  await deadLetter('$first', '<b>one</b>');
  await deadLetter('$second', '<script>window.__ran=2</script>');
  const first = page.locator('#dead tr[data-event-id="$first"]');
  await first.waitFor({ timeout: 10_000 });
  expect(await first.innerText()).toContain('the remote refused <img src=x onerror="window.__ran=1"><b>one</b>');
  expect(await page.locator('#dead img, #dead b, #dead script').count()).toBe(0);
  expect(await page.evaluate('typeof window.__ran')).toBe('undefined');
  expect(await page.locator('#dead-count').innerText()).toBe('2');

  const screenshot = resolve(process.env.PATCHBAY_STATUS_SCREENSHOT ?? join(tmpdir(), 'patchbay-status-page.png'));
  await page.screenshot({ path: screenshot, fullPage: true });
  expect(existsSync(screenshot)).toBe(true);

  page.once('dialog', (d) => void d.accept());
  await first.locator('button', { hasText: 'Drop' }).click();
  await first.waitFor({ state: 'detached', timeout: 10_000 });
  await page.locator('#dead tr[data-event-id="$second"] button', { hasText: 'Replay' }).click();
  await page.locator('#dead tr[data-event-id="$second"]').waitFor({ state: 'detached', timeout: 10_000 });
  expect(await page.locator('#action').innerText()).toContain('"replayed":["$second"]');
  await waitFor(async () => (await redis.hlen('patchbay:patchbay:dead')) === 0, 10_000, 'the dead-letter set empty');
}, 60_000);

test('the JSON and the actions refuse a request without the token', async () => {
  const res = await fetch(`${hostUrl}/_patchbay/status`);
  expect(res.status).toBe(401);
  const post = await fetch(`${hostUrl}/_patchbay/status/dead-letters/replay`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"all":true}' });
  expect(post.status).toBe(401);
  const ok = await fetch(`${hostUrl}/_patchbay/status`, { headers: { authorization: `Bearer ${TOKEN}` } });
  expect(ok.status).toBe(200);
  expect(((await ok.json()) as { health: { status: string } }).health.status).toBe('degraded');
});

test('/health and doctor name the broken network too', async () => {
  const health = (await (await fetch(`${hostUrl}/health`)).json()) as { status: string; problems: string[] };
  expect(health.status).toBe('degraded');
  expect(health.problems).toEqual([expect.stringMatching(/^bridge irc: connection broken backoff: connection refused by 127\.0\.0\.1:\d+\. Fix: check bridges\.irc\.networks\.broken\.host/)]);
  const doctor = await PatchbayProcess.run(['doctor', '-c', 'patchbay.yaml'], { cwd });
  expect(doctor.code).toBe(1);
  expect(doctor.stdout).toMatch(/^✗ irc broken: backoff: connection refused by 127\.0\.0\.1:\d+\. Fix: /m);
  expect(doctor.stdout).toMatch(/^✓ irc working: connected$/m);
}, 60_000);
