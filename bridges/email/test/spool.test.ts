// The spool on its own: the group commit of the folder's fsync (callers share a sync, but never one that
// started before they called), and commits that run at the same time each landing whole.
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from '@jest/globals';
import { GroupSync } from '../GroupSync.js';
import { MailSpool, type Envelope } from '../MailSpool.js';

interface Deferred {
  resolve: () => void;
  reject: (err: Error) => void;
}

/** A sync whose runs the test ends by hand; `runs` lists them in order. */
function manualSync(): { group: GroupSync; runs: Deferred[] } {
  const runs: Deferred[] = [];
  const group = new GroupSync(() => new Promise<void>((resolve, reject) => runs.push({ resolve, reject })));
  return { group, runs };
}

/** Records when each promise settles. */
function track(p: Promise<void>): { settled: () => string } {
  let state = 'pending';
  p.then(() => (state = 'resolved'), () => (state = 'rejected'));
  return { settled: () => state };
}

const ticks = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
};

describe('GroupSync', () => {
  it('callers that arrive while a sync runs wait for the next one, and share it', async () => {
    const { group, runs } = manualSync();
    const first = track(group.sync());
    await ticks();
    expect(runs).toHaveLength(1);
    const later = [track(group.sync()), track(group.sync()), track(group.sync())];
    await ticks();
    expect(runs).toHaveLength(1); // nothing new starts while one runs

    runs[0]!.resolve();
    await ticks();
    expect(first.settled()).toBe('resolved');
    // The first sync may have missed what they wrote: they are not done until a second one ran.
    expect(later.map((t) => t.settled())).toEqual(['pending', 'pending', 'pending']);
    expect(runs).toHaveLength(2);

    runs[1]!.resolve();
    await ticks();
    expect(later.map((t) => t.settled())).toEqual(['resolved', 'resolved', 'resolved']);
    expect(runs).toHaveLength(2);
  });

  it('a failed sync fails its callers only; the ones waiting for the next get a sync of their own', async () => {
    const { group, runs } = manualSync();
    const first = track(group.sync());
    await ticks();
    const second = track(group.sync());
    runs[0]!.reject(new Error('EIO'));
    await ticks();
    expect(first.settled()).toBe('rejected');
    expect(second.settled()).toBe('pending');
    expect(runs).toHaveLength(2);
    runs[1]!.resolve();
    await ticks();
    expect(second.settled()).toBe('resolved');
    // Idle again: the next caller starts a sync at once.
    const third = track(group.sync());
    await ticks();
    expect(runs).toHaveLength(3);
    runs[2]!.resolve();
    await ticks();
    expect(third.settled()).toBe('resolved');
  });
});

describe('MailSpool', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-email-spool-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const envelopeOf = (id: string, size: number): Envelope => ({
    id, receivedAt: 1, mailFrom: 'bob@example.org', rcptTo: ['alice@bridge.test'], remoteAddress: '127.0.0.1', helo: 'x', secure: false, size,
  });

  it('mails committed at the same time each land whole, with their envelopes; an uncommitted one does not', async () => {
    const spool = new MailSpool(join(dir, 'a'));
    await spool.open();
    const ids = Array.from({ length: 30 }, () => spool.newId());
    await Promise.all(ids.map(async (id, i) => {
      const { size } = await spool.write(id, Readable.from([Buffer.from(`Subject: ${i}\r\n\r\nmail ${i}\r\n`)]), 1e6, () => false);
      await spool.commit(envelopeOf(id, size));
    }));
    const unacknowledged = spool.newId();
    await spool.write(unacknowledged, Readable.from([Buffer.from('never committed')]), 1e6, () => false);

    expect(await spool.pending()).toEqual([...ids].sort());
    for (const [i, id] of ids.entries()) {
      expect(await spool.envelope(id)).toEqual(envelopeOf(id, `Subject: ${i}\r\n\r\nmail ${i}\r\n`.length));
    }
    // A restart forgets the written but never acknowledged mail, and keeps the others.
    const again = new MailSpool(join(dir, 'a'));
    await again.open();
    expect(await again.pending()).toEqual([...ids].sort());
    expect(existsSync(again.tempPath(unacknowledged))).toBe(false);
  });

  it('a message whose envelope never landed (the process died before the 250) is removed at start', async () => {
    const spool = new MailSpool(join(dir, 'b'));
    await spool.open();
    writeFileSync(spool.messagePath('0000000aa-dead'), 'half a mail');
    await new MailSpool(join(dir, 'b')).open();
    expect(readdirSync(join(dir, 'b', 'new'))).toEqual([]);
  });
});
