// The managed SBC with the real Kamailio and rtpengine: two of them side by side on one machine (two
// Patchbays, or a Patchbay beside Debian's own rtpengine service) must not fight over a port.
import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { MemoryBridgeStatus } from 'patchbay-matrix/plugin/testing';
import { ManagedSbc } from '../sbc/ManagedSbc.js';
import { freePorts, freeRtpRange } from './FreePorts.js';

const dir = mkdtempSync(join(tmpdir(), 'pb-sbc-'));

async function sbc(name: string): Promise<{ sbc: ManagedSbc; status: MemoryBridgeStatus }> {
  const status = new MemoryBridgeStatus();
  const rtp = await freeRtpRange(20);
  const sbc = new ManagedSbc({
    dir: join(dir, name), sipAddress: '127.0.0.1', sipPort: await freePorts(), domain: '127.0.0.1',
    mediaAddress: '127.0.0.1', mediaAdvertise: null, rtpPortMin: rtp.min, rtpPortMax: rtp.max, wsPort: 0,
    kamailio: 'kamailio', rtpengine: 'rtpengine', gatewayAor: null, bridgeUsers: ['patchbay'],
    logger: pino({ level: 'silent' }), status,
  });
  return { sbc, status };
}

describe('managed SBC', () => {
  const started: ManagedSbc[] = [];
  afterAll(async () => {
    await Promise.all(started.map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('two start side by side: rtpengine reads no system config, so only the ports it is given are bound', async () => {
    const a = await sbc('a');
    const b = await sbc('b');
    started.push(a.sbc, b.sbc);
    await Promise.all([a.sbc.start(), b.sbc.start()]);
    expect(a.status.stateOf('sbc')).toBe('connected');
    expect(b.status.stateOf('sbc')).toBe('connected');
    expect(a.sbc.wsUrl).not.toBe(b.sbc.wsUrl);
  });
});
