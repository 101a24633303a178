// A real embedded homeserver (hs.test, SQLite, federation on) sends EDUs to a remote server played by an
// HTTP server in this test (remote.test, mapped in `peers`), which checks every request's X-Matrix
// signature against the key hs.test publishes. remote.test answers 500 and then 200, goes down and comes
// back, and hs.test restarts with a transaction unacknowledged. Joins over federation do not exist yet,
// so the remote member is written into the memberships table while the homeserver is stopped. Events do
// not become PDUs yet either: PDUs go through a FederationSender with the same signing client, signed
// here, and the remote server checks each event's signature.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HomeserverOptions } from '../../../homeserver/contracts.js';
import pino from 'pino';
import { homeserverMetrics } from '../../../homeserver/HomeserverMetrics.js';
import { loadOrCreateSigningKeys } from '../../../homeserver/federation/keys/SigningKeyFile.js';
import { Federation } from '../../../homeserver/federation/Federation.js';
import { eventIdOf } from '../../../homeserver/federation/pdu/EventHashes.js';
import { checkEventSignatures, hashAndSignEvent } from '../../../homeserver/federation/pdu/EventSigning.js';
import type { Pdu } from '../../../homeserver/federation/pdu/Pdu.js';
import { DEFAULT_SEND_OPTIONS, FederationSender, transactionTransport } from '../../../homeserver/federation/send/FederationSender.js';
import { MemoryBlobStore } from '../../../homeserver/media/BlobStore.js';
import { openDatabase } from '../../../homeserver/storage/Database.js';
import { FakeFederationPeer } from '../../../testkit/FakeFederationPeer.js';
import { enc, MatrixHttpClient, registerUser, SpecValidator, startTestHomeserver, testFederationOptions, waitFor, type TestHomeserver, type TestUser } from '../../harness/index.js';

const spec = SpecValidator.load();

let dir: string;
let peer: FakeFederationPeer;
let hs: TestHomeserver;
let options: Partial<HomeserverOptions>;
let alice: TestUser;
let fedRoom: string;
let localRoom: string;
let messageId: string;

/** Starts (or restarts) hs.test on a new port; alice's client follows it. */
async function start(): Promise<void> {
  hs = await startTestHomeserver(options);
  peer.senderUrls['hs.test'] = hs.url;
  if (alice) alice = { ...alice, http: new MatrixHttpClient(hs.url, alice.accessToken) };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pb-fedsend-'));
  peer = new FakeFederationPeer('remote.test', {});
  await peer.start();
  options = {
    serverName: 'hs.test',
    storage: { kind: 'sqlite', path: join(dir, 'hs.sqlite') },
    signingKeyFile: join(dir, 'signing.key'),
    federation: testFederationOptions('hs.test', {
      keyValidityMs: 3600_000,
      peers: { 'remote.test': `http://127.0.0.1:${peer.port}` },
      sending: { ...DEFAULT_SEND_OPTIONS, retry: { initialMs: 50, maxMs: 200 } },
    }),
  };
  await start();
  alice = await registerUser(hs.url, 'alice');
  fedRoom = (await alice.http.ok<{ room_id: string }>('POST', '/createRoom', { body: {} })).room_id;
  localRoom = (await alice.http.ok<{ room_id: string }>('POST', '/createRoom', { body: {} })).room_id;
  messageId = (await alice.http.ok<{ event_id: string }>('PUT', `/rooms/${enc(fedRoom)}/send/m.room.message/t1`, { body: { msgtype: 'm.text', body: 'hi' } }))
    .event_id;
  await hs.stop();
  const db = openDatabase({ kind: 'sqlite', path: join(dir, 'hs.sqlite') });
  db.prepare("INSERT INTO memberships (room_id, user_id, membership, event_id, pos) VALUES (?, '@bob:remote.test', 'join', '$remote-join', 0)").run(fedRoom);
  db.close();
  await start();
});

afterAll(async () => {
  await hs?.stop();
  await peer?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const typing = (roomId: string, on: boolean) => alice.http.ok('PUT', `/rooms/${enc(roomId)}/typing/${enc(alice.userId)}`, { body: { typing: on, timeout: 30_000 } });

describe('EDUs to a remote server over HTTP', () => {
  it('sends typing in a room with a remote member (retrying a 500 with the same txn id), and nothing for a local room', async () => {
    let attempts = 0;
    peer.respond = () => (attempts++ === 0 ? { status: 500, body: { errcode: 'M_UNKNOWN', error: 'try later' } } : { status: 200, body: { pdus: {} } });
    await typing(localRoom, true);
    await typing(fedRoom, true);
    await waitFor(() => peer.accepted().length === 1, 10_000, 'the typing transaction accepted');
    expect(peer.refused).toEqual([]);
    const [failed, ok] = peer.received;
    expect(failed!.status).toBe(500);
    expect(ok!.txnId).toBe(failed!.txnId);
    expect(ok!.body).toEqual(failed!.body);
    expect(ok!.origin).toBe('hs.test');
    expect(ok!.body.pdus).toEqual([]);
    // The local room's typing was never queued: the only EDU is the federated room's.
    expect(ok!.body.edus).toEqual([{ edu_type: 'm.typing', content: { room_id: fedRoom, user_id: alice.userId, typing: true } }]);
    if (spec) {
      expect(await spec.validateRequest('server-server/transactions.yaml', '/send/{txnId}', 'put', ok!.body)).toEqual([]);
      expect(await spec.validateDefinition('server-server/definitions/event-schemas/m.typing.yaml', ok!.body.edus![0])).toEqual([]);
    }
  });

  it('sends public read receipts and to-device messages for remote users; private receipts stay here', async () => {
    const before = peer.edus().length;
    await alice.http.ok('POST', `/rooms/${enc(fedRoom)}/receipt/m.read.private/${enc(messageId)}`, { body: {} });
    await alice.http.ok('POST', `/rooms/${enc(fedRoom)}/receipt/m.read/${enc(messageId)}`, { body: {} });
    await alice.http.ok('PUT', '/sendToDevice/m.room_key_request/td1', {
      body: { messages: { '@bob:remote.test': { BOBPHONE: { action: 'request_cancellation', request_id: 'r1', requesting_device_id: alice.deviceId } } } },
    });
    await waitFor(() => peer.edus().length >= before + 2, 10_000, 'receipt and to-device');
    const [receipt, toDevice] = peer.edus().slice(before);
    expect(receipt).toEqual({
      edu_type: 'm.receipt',
      content: { [fedRoom]: { 'm.read': { [alice.userId]: { event_ids: [messageId], data: { ts: expect.any(Number) } } } } },
    });
    expect(toDevice).toMatchObject({
      edu_type: 'm.direct_to_device',
      content: {
        sender: alice.userId,
        type: 'm.room_key_request',
        message_id: expect.any(String),
        messages: { '@bob:remote.test': { BOBPHONE: { action: 'request_cancellation', request_id: 'r1' } } },
      },
    });
    expect(peer.edus().length).toBe(before + 2);
    if (spec) {
      expect(await spec.validateDefinition('server-server/definitions/event-schemas/m.receipt.yaml', receipt)).toEqual([]);
      expect(await spec.validateDefinition('server-server/definitions/event-schemas/m.direct_to_device.yaml', toDevice)).toEqual([]);
    }
  });

  it('sends presence to the servers sharing a room with the user', async () => {
    const before = peer.edus().length;
    await alice.http.ok('PUT', `/presence/${enc(alice.userId)}/status`, { body: { presence: 'unavailable', status_msg: 'lunch' } });
    await waitFor(() => peer.edus().length > before, 10_000, 'presence');
    const [presence] = peer.edus().slice(before);
    expect(presence).toEqual({
      edu_type: 'm.presence',
      content: { push: [{ user_id: alice.userId, presence: 'unavailable', status_msg: 'lunch', last_active_ago: expect.any(Number), currently_active: false }] },
    });
    if (spec) expect(await spec.validateDefinition('server-server/definitions/event-schemas/m.presence.yaml', presence)).toEqual([]);
  });

  it('holds what happens while the remote server is down and sends it, oldest first, when it is back', async () => {
    const before = peer.edus().length;
    await peer.stop();
    await typing(fedRoom, false);
    const second = (await alice.http.ok<{ event_id: string }>('PUT', `/rooms/${enc(fedRoom)}/send/m.room.message/t2`, { body: { msgtype: 'm.text', body: 'again' } }))
      .event_id;
    await alice.http.ok('POST', `/rooms/${enc(fedRoom)}/receipt/m.read/${enc(second)}`, { body: {} });
    await waitFor(async () => (await metricValue('patchbay_hs_federation_backoff_seconds', 'remote.test')) > 0, 10_000, 'backing off');
    await peer.start();
    await waitFor(() => peer.edus().length >= before + 2, 10_000, 'caught up');
    expect(peer.edus().slice(before).map((e) => [e.edu_type, e.content['typing'] ?? Object.keys(e.content)[0]])).toEqual([
      ['m.typing', false],
      ['m.receipt', fedRoom],
    ]);
  });

  it('resends the unacknowledged transaction with the same txn id after a restart', async () => {
    peer.respond = () => ({ status: 503, body: { errcode: 'M_UNKNOWN', error: 'maintenance' } });
    const failedBefore = peer.received.length;
    await typing(fedRoom, true);
    await waitFor(() => peer.received.length > failedBefore, 10_000, 'a failed attempt');
    const pending = peer.received[peer.received.length - 1]!;
    await hs.stop();
    peer.respond = () => ({ status: 200, body: { pdus: {} } });
    await start();
    await waitFor(() => peer.accepted().some((t) => t.txnId === pending.txnId), 10_000, 'the stored transaction resent');
    const resent = peer.accepted().find((t) => t.txnId === pending.txnId)!;
    expect(resent.body).toEqual(pending.body);
    expect(resent.body.edus).toEqual([{ edu_type: 'm.typing', content: { room_id: fedRoom, user_id: alice.userId, typing: true } }]);
  });
});

describe('PDUs over HTTP', () => {
  it('carry what a local user sends in a room with a remote member, as the stored signed PDU; a local room sends nothing', async () => {
    peer.respond = () => ({ status: 200, body: { pdus: {} } });
    const before = peer.accepted().length;
    await alice.http.ok('PUT', `/rooms/${enc(localRoom)}/send/m.room.message/p0`, { body: { msgtype: 'm.text', body: 'stays here' } });
    const sent = (await alice.http.ok<{ event_id: string }>('PUT', `/rooms/${enc(fedRoom)}/send/m.room.message/p1`, { body: { msgtype: 'm.text', body: 'to remote' } }))
      .event_id;
    await waitFor(() => peer.accepted().slice(before).some((t) => t.body.pdus.length > 0), 10_000, 'the PDU delivered');
    const pdus = peer.accepted().slice(before).flatMap((t) => t.body.pdus);
    expect(pdus.map((p) => eventIdOf('10', p))).toEqual([sent]);
    expect(pdus[0]).toMatchObject({ room_id: fedRoom, sender: alice.userId, content: { body: 'to remote' } });
    expect(await checkEventSignatures('10', pdus[0]!, (server, keyId) => peer.verifyKey(server, keyId))).toEqual({ outcome: 'valid' });
  });

  it('go signed, in transactions of at most 50, each event signature checking out at the remote server', async () => {
    const db = openDatabase({ kind: 'memory' });
    const federation = new Federation('hs.test', options.federation!, loadOrCreateSigningKeys(options.signingKeyFile!), pino({ level: 'silent' }), {
      db,
      blobs: new MemoryBlobStore(),
    });
    const sender = new FederationSender({
      db,
      origin: 'hs.test',
      transport: transactionTransport(federation.client),
      options: DEFAULT_SEND_OPTIONS,
      metrics: homeserverMetrics().federationSend,
      logger: pino({ level: 'silent' }),
    });
    try {
      const before = peer.accepted().length;
      peer.respond = () => ({ status: 200, body: { pdus: {} } });
      const events = Array.from({ length: 60 }, (_, i) => {
        const pdu = hashAndSignEvent(
          '10',
          {
            room_id: fedRoom,
            sender: alice.userId,
            type: 'm.room.message',
            content: { msgtype: 'm.text', body: `pdu ${i}` },
            auth_events: [],
            prev_events: [],
            depth: i + 1,
            origin_server_ts: Date.now(),
          },
          'hs.test',
          federation.keys.signing,
        ) as Pdu;
        return { pdu, eventId: eventIdOf('10', pdu), roomId: fedRoom };
      });
      for (const e of events) sender.enqueuePdu(e.pdu, e.eventId, ['remote.test']);
      await waitFor(() => sender.pending('remote.test').pdus === 0, 10_000, 'PDUs delivered');
      const txns = peer.accepted().slice(before);
      expect(txns.map((t) => t.body.pdus.length)).toEqual([50, 10]);
      const received = txns.flatMap((t) => t.body.pdus);
      expect(received.map((p) => eventIdOf('10', p))).toEqual(events.map((e) => e.eventId));
      for (const p of received) {
        expect(await checkEventSignatures('10', p, (server, keyId) => peer.verifyKey(server, keyId))).toEqual({ outcome: 'valid' });
      }
      if (spec) expect(await spec.validateRequest('server-server/transactions.yaml', '/send/{txnId}', 'put', txns[0]!.body)).toEqual([]);
    } finally {
      await sender.stop();
      db.close();
    }
  });
});

async function metricValue(name: string, destination: string): Promise<number> {
  const { register } = await import('prom-client');
  const values = (await register.getSingleMetric(name)!.get()).values;
  return values.find((v) => v.labels['destination'] === destination)?.value ?? 0;
}
