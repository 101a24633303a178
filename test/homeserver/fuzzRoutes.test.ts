// A bounded, seeded fuzz of every Client-Server route of the embedded homeserver (read from its router):
// hostile path values, query parameters and bodies. Every answer must be below 500 and, when an error,
// a spec error body; afterwards the server still serves a normal client. A failure names the seed.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { HostileRequests, type HostileRequest } from '../harness/HostileRequests.js';
import { enc, loginUser, rawRequest, registerUser, SeededRandom, startTestHomeserver, type RawAnswer, type TestHomeserver, type TestUser } from '../harness/index.js';

const SEED = Number(process.env['PATCHBAY_FUZZ_SEED'] ?? 20_240_7);
const CASES_PER_ROUTE = 6;
/** Generation stops after this long, whatever is left, so the suite stays well under 30 s. */
const BUDGET_MS = 20_000;

function problemWith(answer: RawAnswer): string | null {
  if (answer.status >= 500) return `status ${answer.status}`;
  if (answer.status < 400) return null;
  if (!answer.contentType.includes('application/json')) return `${answer.status} without JSON (${answer.contentType})`;
  let body: unknown;
  try {
    body = JSON.parse(answer.text);
  } catch {
    return 'error body is not JSON';
  }
  const b = body as { errcode?: unknown; error?: unknown; flows?: unknown };
  // User-interactive auth answers 401 with its flows: a spec shape of its own.
  if (answer.status === 401 && Array.isArray(b.flows) && b.errcode === undefined) return null;
  if (typeof b.errcode !== 'string' || !/^M_[A-Z_]+$/.test(b.errcode)) return `errcode ${JSON.stringify(b.errcode)}`;
  if (typeof b.error !== 'string') return 'error message missing';
  return null;
}

describe('fuzz of every Client-Server route', () => {
  let hs: TestHomeserver;
  let user: TestUser;

  beforeAll(async () => {
    hs = await startTestHomeserver({ maxBodyBytes: 256 * 1024 });
    user = await registerUser(hs.url, 'fuzzer');
  });

  afterAll(async () => {
    await hs?.stop();
  });

  it(`answers ${CASES_PER_ROUTE} hostile requests per route (seed ${SEED}) without a 5xx, always with a spec error body`, async () => {
    const roomId = (await user.http.ok<{ room_id: string }>('POST', '/createRoom', { body: { room_alias_name: 'fuzz', preset: 'public_chat' } })).room_id;
    const eventId = (await user.http.ok<{ event_id: string }>('PUT', `/rooms/${enc(roomId)}/send/m.room.message/seed`, { body: { msgtype: 'm.text', body: 'x' } })).event_id;
    await user.http.ok('PUT', `/rooms/${enc(roomId)}/send/${'a'.repeat(200)}/long-type`, { body: {} });
    const routes = hs.running.routes();
    expect(routes.length).toBeGreaterThan(80);
    const rnd = new SeededRandom(SEED);
    const gen = new HostileRequests(rnd, { roomId, userId: user.userId, eventId, alias: '#fuzz:localhost', serverName: 'localhost' });
    let token = user.accessToken;
    const problems: string[] = [];
    const started = Date.now();
    let sent = 0;

    const send = (req: HostileRequest, auth: string | null): Promise<RawAnswer> => {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (auth !== null) headers['authorization'] = `Bearer ${auth}`;
      return rawRequest(hs.url, req.method, req.url, { body: req.body, headers });
    };

    for (let round = 0; round < CASES_PER_ROUTE && Date.now() - started < BUDGET_MS; round++) {
      for (const route of routes) {
        if (Date.now() - started >= BUDGET_MS) break;
        const req = gen.request(route.method, route.path);
        const auth = rnd.chance(0.9) ? token : rnd.chance(0.5) ? null : 'not-a-token';
        const answer = await send(req, auth);
        sent++;
        const problem = problemWith(answer);
        if (problem !== null && problems.length < 20) {
          problems.push(`${problem}: ${req.method} ${req.url.slice(0, 200)} body=${req.bodyKind} -> ${answer.text.slice(0, 200)}`);
        }
        // The fuzz may log itself out or delete its device: log in again and go on.
        if (auth === token && answer.status === 401) token = (await loginUser(hs.url, 'fuzzer')).accessToken;
      }
    }

    expect({ seed: SEED, problems }).toEqual({ seed: SEED, problems: [] });
    expect(sent).toBeGreaterThan(routes.length);

    // A normal client still gets served: register, create a room, send, read it back.
    expect((await hs.http.get('/_matrix/client/versions')).status).toBe(200);
    const after = await registerUser(hs.url, 'after_fuzz');
    const room = (await after.http.ok<{ room_id: string }>('POST', '/createRoom', { body: {} })).room_id;
    const sentEvent = await after.http.ok<{ event_id: string }>('PUT', `/rooms/${enc(room)}/send/m.room.message/t1`, { body: { msgtype: 'm.text', body: 'still here' } });
    const read = await after.http.ok<{ content: { body?: string } }>('GET', `/rooms/${enc(room)}/event/${enc(sentEvent.event_id)}`);
    expect(read.content.body).toBe('still here');
  });
});
