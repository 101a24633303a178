// A real homeserver (federation not enabled) makes every event a PDU from the first one: clients see v4
// event ids, and what the store keeps is signed with the key the homeserver made under its data folder.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventStore } from '../../../homeserver/events/EventStore.js';
import { loadOrCreateSigningKeys } from '../../../homeserver/federation/keys/SigningKeyFile.js';
import { eventIdOf } from '../../../homeserver/federation/pdu/EventHashes.js';
import { checkEventSignatures } from '../../../homeserver/federation/pdu/EventSigning.js';
import { LocalEventSigner } from '../../../homeserver/federation/pdu/LocalEventSigner.js';
import { openDatabase } from '../../../homeserver/storage/Database.js';
import { StreamCounter } from '../../../homeserver/storage/StreamCounter.js';
import { registerUser, startTestHomeserver } from '../../harness/index.js';

const V4_ID = /^\$[A-Za-z0-9_-]{43}$/;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pb-localpdu-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('events made by a running homeserver', () => {
  it('have v4 ids over the Client-Server API and signed PDUs in the store', async () => {
    const path = join(dir, 'homeserver.sqlite');
    const keyFile = join(dir, 'keys', 'signing.key');
    const hs = await startTestHomeserver({ serverName: 'pdu.test', storage: { kind: 'sqlite', path }, signingKeyFile: keyFile });
    let roomId = '';
    let ids: string[] = [];
    try {
      const alice = await registerUser(hs.url, 'alice');
      roomId = ((await alice.http.ok('POST', '/createRoom', { body: { name: 'PDUs', room_version: '11' } })) as { room_id: string }).room_id;
      await alice.http.ok('PUT', `/rooms/${encodeURIComponent(roomId)}/send/m.room.message/m1`, { body: { msgtype: 'm.text', body: 'signed' } });
      const page = (await alice.http.ok('GET', `/rooms/${encodeURIComponent(roomId)}/messages`, { query: { dir: 'f', limit: '50' } })) as {
        chunk: Array<{ event_id: string; type: string }>;
      };
      ids = page.chunk.map((e) => e.event_id);
      expect(page.chunk.map((e) => e.type)).toEqual(expect.arrayContaining(['m.room.create', 'm.room.member', 'm.room.power_levels', 'm.room.name', 'm.room.message']));
      for (const id of ids) expect(id).toMatch(V4_ID);
    } finally {
      await hs.stop();
    }
    const signing = loadOrCreateSigningKeys(keyFile).current;
    const db = openDatabase({ kind: 'sqlite', path });
    try {
      const events = new EventStore(db, new StreamCounter(db), new LocalEventSigner('pdu.test', signing));
      const lookup = async (server: string, keyId: string) => (server === 'pdu.test' && keyId === signing.keyId ? signing.key.publicKey : null);
      let depth = 0;
      for (const id of ids) {
        const pdu = events.pdu(id)!;
        expect(eventIdOf('11', pdu)).toBe(id);
        expect(await checkEventSignatures('11', pdu, lookup)).toEqual({ outcome: 'valid' });
        expect(pdu.depth).toBe(++depth);
      }
      expect(events.forwardExtremities(roomId)).toEqual([ids[ids.length - 1]]);
    } finally {
      db.close();
    }
  });
});
