// /metrics as operators scrape it, from the real CLI: `patchbay start` with every built-in bridge, and
// `patchbay homeserver` alone on its own metrics listener (never on the client port). Every family either
// exports must be in docs/operations.md's table with its type and labels, and both carry Node's process
// metrics.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../../config/index.js';
import { PatchbayProcess } from '../e2e/PatchbayProcess.js';

interface Family {
  type: string;
  labels: Set<string>;
}

/** Families in a Prometheus text scrape: their type and every label their samples carry (`le` aside). */
function familiesOf(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  for (const line of text.split('\n')) {
    const typed = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (typed) families.set(typed[1]!, { type: typed[2]!, labels: new Set() });
  }
  for (const line of text.split('\n')) {
    const sample = /^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})? /.exec(line);
    if (!sample) continue;
    const name = sample[1]!;
    const base = families.has(name) ? name : name.replace(/_(bucket|sum|count)$/, '');
    for (const [, label] of (sample[2] ?? '').matchAll(/([A-Za-z_][A-Za-z0-9_]*)="/g)) if (label !== 'le') families.get(base)?.labels.add(label!);
  }
  return families;
}

/** The table under "## Metrics" in docs/operations.md: family -> type and labels. */
function documentedFamilies(): Map<string, Family> {
  const doc = readFileSync(join(packageRoot(), 'docs', 'operations.md'), 'utf8');
  const section = doc.slice(doc.indexOf('\n## Metrics\n'), doc.indexOf('\n## ', doc.indexOf('\n## Metrics\n') + 5));
  const rows = new Map<string, Family>();
  for (const line of section.split('\n')) {
    const row = /^\| `([a-z0-9_:]+)` \| (counter|gauge|histogram|summary) \|([^|]*)\|/.exec(line);
    if (row) rows.set(row[1]!, { type: row[2]!, labels: new Set([...row[3]!.matchAll(/`([a-z_]+)`/g)].map((m) => m[1]!)) });
  }
  return rows;
}

function undocumented(scraped: Map<string, Family>): string[] {
  const documented = documentedFamilies();
  const problems: string[] = [];
  for (const [name, family] of scraped) {
    const row = documented.get(name);
    if (row === undefined) problems.push(`${name} (${family.type}) is not in docs/operations.md`);
    else if (row.type !== family.type) problems.push(`${name} is a ${family.type}, documented as a ${row.type}`);
    else for (const label of family.labels) if (!row.labels.has(label)) problems.push(`${name}: label ${label} is not documented`);
  }
  return problems;
}

const scrape = async (url: string): Promise<{ status: number; text: string }> => {
  const res = await fetch(url);
  return { status: res.status, text: await res.text() };
};

describe('/metrics', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'patchbay-metrics-'));
  const processes: PatchbayProcess[] = [];

  beforeAll(() => {
    writeFileSync(
      join(cwd, 'all.yaml'),
      [
        'data_dir: ./all-data',
        'homeserver: { port: 0, storage: memory }',
        'host: { port: 0 }',
        'logging: { level: error }',
        'bridges:',
        '  example: { enabled: true }',
        '  webhook: { enabled: true, secret: "0123456789abcdef0123" }',
        '  email: { enabled: true, domains: [bridge.localhost], smtp: { port: 0 } }',
        // A network nobody answers: its bot reports backoff, so the connection families have samples.
        '  irc: { enabled: true, networks: { down: { host: 127.0.0.1, port: 1, limits: { reconnect_initial_ms: 100 } } } }',
      ].join('\n'),
    );
    writeFileSync(join(cwd, 'hs.yaml'), 'data_dir: ./hs-data\nhomeserver: { port: 0, storage: memory }\nlogging: { level: error }\n');
  });

  afterAll(async () => {
    // SIGTERM first: a start stops the redis-server it runs in a process group of its own.
    await Promise.all(processes.map((p) => (p.running ? p.stop() : p.exited)));
    for (const p of processes) p.killGroup();
    await Promise.all(processes.map((p) => p.exited));
    rmSync(cwd, { recursive: true, force: true });
  });

  it('patchbay start with every built-in bridge: every family is documented, Node process metrics included', async () => {
    const start = PatchbayProcess.start(['start', '-c', 'all.yaml'], { cwd });
    processes.push(start);
    const [, hostUrl] = await start.waitForLine(/^patchbay start: ready\. .*appservice host (\S+),/, 60_000);
    let scraped = new Map<string, Family>();
    // The IRC bot's first failure arrives a moment after ready; wait until its state is exported.
    for (let i = 0; i < 100 && !scraped.get('patchbay_bridge_connection_state')?.labels.has('state'); i++) {
      scraped = familiesOf((await scrape(`${hostUrl}/metrics`)).text);
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const name of ['process_cpu_user_seconds_total', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes', 'patchbay_hs_http_requests_total', 'patchbay_ingest_transactions_received_total', 'patchbay_irc_connections', 'patchbay_email_spool_mails']) {
      expect(scraped.has(name)).toBe(true);
    }
    expect(scraped.get('patchbay_bridge_connection_state')?.labels).toEqual(new Set(['bridge', 'connection', 'state']));
    expect(undocumented(scraped)).toEqual([]);
    expect(await start.stop()).toBe(0);
  });

  it('patchbay homeserver alone serves /metrics on its own loopback listener, not on the client port', async () => {
    const hs = PatchbayProcess.start(['homeserver', '-c', 'hs.yaml'], { cwd });
    processes.push(hs);
    const [, clientUrl, metricsUrl] = await hs.waitForLine(/^patchbay homeserver: serving (\S+) \(server name \S+\), metrics (\S+)$/);
    expect(metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    expect(new URL(metricsUrl!).port).not.toBe(new URL(clientUrl!).port);
    await fetch(`${clientUrl}/_matrix/client/versions`);
    const { status, text } = await scrape(metricsUrl!);
    expect(status).toBe(200);
    const scraped = familiesOf(text);
    for (const name of ['process_cpu_user_seconds_total', 'nodejs_eventloop_lag_seconds', 'patchbay_hs_http_requests_total', 'patchbay_hs_sync_waiting']) expect(scraped.has(name)).toBe(true);
    expect(undocumented(scraped)).toEqual([]);
    expect((await scrape(`${clientUrl}/metrics`)).status).toBe(404);
    expect((await scrape(metricsUrl!.replace(/\/metrics$/, '/'))).status).toBe(404);
    expect(await hs.stop()).toBe(0);
  });

  it('a doc row removed would be caught: the check names the family', () => {
    const scraped = new Map([['patchbay_not_a_documented_family_total', { type: 'counter', labels: new Set<string>() }]]);
    expect(undocumented(scraped)).toEqual(['patchbay_not_a_documented_family_total (counter) is not in docs/operations.md']);
  });
});
