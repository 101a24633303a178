// Backfill as a client, between two real homeservers on loopback: bob on B joins a room of A that already
// has messages. B stores the room's state and bob's join only; bob paging back with /messages reaches the
// start of what B has, and B asks A with GET /backfill for the messages before it. They show in /messages
// in order, never in /sync as new events, and an appservice of B in the room never gets them (it gets the
// room's new messages). A hands B the messages of a room with history_visibility "joined" from before
// B's first member joined only redacted, and refuses B the room's state at them (/state, /state_ids).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { loadOrCreateSigningKeys } from '../../../homeserver/federation/keys/SigningKeyFile.js';
import type { Pdu } from '../../../homeserver/federation/pdu/Pdu.js';
import type { FederationRequestError } from '../../../homeserver/federation/transport/FederationClient.js';
import { enc, federationClientAs, registerUser, startServerPair, TestAppservice, type TestHomeserver, type TestUser, waitFor, writeAppserviceRegistration } from '../../harness/index.js';

let dir: string;
let a: TestHomeserver;
let b: TestHomeserver;
let stopServers: (() => Promise<void>) | undefined;
let alice: TestUser;
let bob: TestUser;
let roomId: string;
const appservice = new TestAppservice({ id: 'b-as', serverName: 'b.test', prefix: '_bas_', protocol: 'bproto' });

beforeAll(async () => {
  await appservice.start();
  ({ a, b, dir, stop: stopServers } = await startServerPair({ name: 'fedbackfill', b: async (d) => ({ appserviceConfigFiles: [await writeAppserviceRegistration(appservice, d)] }) }));
  appservice.homeserverUrl = b.url;
  alice = await registerUser(a.url, 'alice');
  bob = await registerUser(b.url, 'bob');
  roomId = (await alice.http.ok<{ room_id: string }>('POST', '/_matrix/client/v3/createRoom', { body: { preset: 'public_chat', name: 'Old room' } })).room_id;
  for (let n = 1; n <= 12; n++) {
    await alice.http.ok('PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/early${n}`, { body: { msgtype: 'm.text', body: `early ${n}` } });
  }
});

afterAll(async () => {
  await Promise.all([stopServers?.(), appservice.stop()]);
});

type ClientEvent = { event_id: string; type: string; content: Record<string, unknown> };
type SyncAnswer = { next_batch: string; rooms?: { join?: Record<string, { timeline: { events: ClientEvent[] } }> } };

describe('backfill through /messages', () => {
  it('fetches the messages from before the join from A, page by page, and never shows them in /sync', async () => {
    await bob.http.ok('POST', `/_matrix/client/v3/join/${enc(roomId)}`, { query: { server_name: 'a.test' } });
    await appservice.http.ok('POST', `/_matrix/client/v3/join/${enc(roomId)}`, { query: { server_name: 'a.test' } });
    const first = await bob.http.ok<SyncAnswer>('GET', '/_matrix/client/v3/sync');
    const bodies: string[] = [];
    let from: string | undefined;
    for (let page = 0; page < 20; page++) {
      const answer = await bob.http.ok<{ chunk: ClientEvent[]; end?: string }>('GET', `/_matrix/client/v3/rooms/${enc(roomId)}/messages`, { query: { dir: 'b', limit: 5, ...(from && { from }) } });
      for (const e of answer.chunk) if (typeof e.content['body'] === 'string') bodies.push(e.content['body']);
      if (answer.end === undefined) break;
      from = answer.end;
    }
    expect(bodies).toEqual(Array.from({ length: 12 }, (_, i) => `early ${12 - i}`));

    const later = await bob.http.ok<SyncAnswer>('GET', '/_matrix/client/v3/sync', { query: { since: first.next_batch, timeout: 0 } });
    const fresh = later.rooms?.join?.[roomId]?.timeline.events ?? [];
    expect(fresh.filter((e) => typeof e.content['body'] === 'string')).toEqual([]);

    await alice.http.ok('PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/live`, { body: { msgtype: 'm.text', body: 'live' } });
    const delivered = () => appservice.events.filter((e) => e.room_id === roomId).map((e) => e.content['body']).filter((x) => typeof x === 'string');
    await waitFor(() => delivered().includes('live'), 20_000, 'the new message at the appservice');
    expect(delivered()).toEqual(['live']);
  });

  it('hands another server the events from before its users joined redacted, and refuses the state at them, where the history is for joined members only', async () => {
    const hidden = (await alice.http.ok<{ room_id: string }>('POST', '/_matrix/client/v3/createRoom', {
      body: { preset: 'public_chat', initial_state: [{ type: 'm.room.history_visibility', state_key: '', content: { history_visibility: 'joined' } }] },
    })).room_id;
    const secret = (await alice.http.ok<{ event_id: string }>('PUT', `/_matrix/client/v3/rooms/${enc(hidden)}/send/m.room.message/secret`, { body: { msgtype: 'm.text', body: 'before B' } })).event_id;
    await bob.http.ok('POST', `/_matrix/client/v3/join/${enc(hidden)}`, { query: { server_name: 'a.test' } });
    const open = (await alice.http.ok<{ event_id: string }>('PUT', `/_matrix/client/v3/rooms/${enc(hidden)}/send/m.room.message/open`, { body: { msgtype: 'm.text', body: 'after B' } })).event_id;
    const asB = federationClientAs('b.test', loadOrCreateSigningKeys(join(dir, 'b.key')).current, { 'a.test': `http://127.0.0.1:${a.port}` });
    const answer = (await asB.request('a.test', 'GET', `/_matrix/federation/v1/backfill/${enc(hidden)}?v=${enc(open)}&limit=20`)) as { pdus: Pdu[] };
    // Newest first: the message after bob's join whole, the one before it without content.
    expect(answer.pdus.filter((p) => p.type === 'm.room.message').map((p) => p.content)).toEqual([{ msgtype: 'm.text', body: 'after B' }, {}]);
    const one = (await asB.request('a.test', 'GET', `/_matrix/federation/v1/event/${enc(secret)}`)) as { pdus: Pdu[] };
    expect(one.pdus[0]!.content).toEqual({});
    // The state at the hidden message is refused; at the one after bob's join it is given.
    for (const path of ['state', 'state_ids']) {
      const refused = await asB.request('a.test', 'GET', `/_matrix/federation/v1/${path}/${enc(hidden)}?event_id=${enc(secret)}`).then(() => null, (err: FederationRequestError) => [err.status, err.errcode]);
      expect(refused).toEqual([403, 'M_FORBIDDEN']);
    }
    const state = (await asB.request('a.test', 'GET', `/_matrix/federation/v1/state_ids/${enc(hidden)}?event_id=${enc(open)}`)) as { pdu_ids: string[] };
    expect(state.pdu_ids.length).toBeGreaterThan(3);
  });
});
