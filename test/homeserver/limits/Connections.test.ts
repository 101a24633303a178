// homeserver.connections over raw sockets: silent, dribbling and idle clients are cut, a slow but steady
// upload and a long-polling /sync are not, and one address cannot open more than max_per_ip connections.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connect, type Socket } from 'node:net';
import { enc, registerUser, startTestHomeserver, waitFor, type TestHomeserver, type TestUser } from '../../harness/index.js';

interface RawConnection {
  socket: Socket;
  /** Everything the server sent so far. */
  received: () => string;
  closed: Promise<void>;
  isClosed: () => boolean;
}

async function open(hs: TestHomeserver): Promise<RawConnection> {
  const socket = connect(hs.port, '127.0.0.1');
  let text = '';
  let closed = false;
  socket.on('data', (d: Buffer) => (text += d.toString()));
  socket.on('error', () => undefined); // a reset is one of the outcomes under test
  const done = new Promise<void>((resolve) => socket.on('close', () => ((closed = true), resolve())));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return { socket, received: () => text, closed: done, isClosed: () => closed };
}

/** Writes `chunk` every `everyMs` until the connection closes; returns a stop function. */
function dribble(c: RawConnection, chunk: string, everyMs: number): () => void {
  const timer = setInterval(() => {
    if (!c.isClosed()) c.socket.write(chunk);
  }, everyMs);
  void c.closed.then(() => clearInterval(timer));
  return () => clearInterval(timer);
}

function statusOf(response: string): number {
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1] ?? 0);
}

function bodyOf(response: string): Record<string, unknown> {
  return JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4)) as Record<string, unknown>;
}

describe('connection limits (homeserver.connections)', () => {
  let hs: TestHomeserver;
  let alice: TestUser;
  let roomId: string;
  const raw: RawConnection[] = [];

  beforeAll(async () => {
    hs = await startTestHomeserver({
      connections: { headers_timeout_ms: 1_000, body_timeout_ms: 1_500, body_min_bytes_per_second: 1_000, idle_timeout_ms: 1_000, max_per_ip: 200 },
    });
    alice = await registerUser(hs.url, 'alice');
    roomId = (await alice.http.ok<{ room_id: string }>('POST', '/createRoom', { body: {} })).room_id;
  });

  afterAll(async () => {
    for (const c of raw) c.socket.destroy();
    await hs?.stop();
  });

  const rawConnection = async (): Promise<RawConnection> => {
    const c = await open(hs);
    raw.push(c);
    return c;
  };

  it('cuts a connection that sends nothing, with 408', async () => {
    const c = await rawConnection();
    await c.closed;
    expect(statusOf(c.received())).toBe(408);
    expect(bodyOf(c.received())).toMatchObject({ errcode: 'M_UNKNOWN' });
  });

  it('cuts a client that dribbles its headers', async () => {
    const c = await rawConnection();
    c.socket.write('GET /_matrix/client/versions HTTP/1.1\r\nHost: x\r\n');
    dribble(c, 'X-Slow: y\r\n', 200);
    await c.closed;
    expect(statusOf(c.received())).toBe(408);
  });

  it('cuts a body that arrives a byte every half second with 408, and stores nothing', async () => {
    const c = await rawConnection();
    const body = JSON.stringify({ msgtype: 'm.text', body: 'dribbled in' });
    c.socket.write(
      `PUT /_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/dribble1 HTTP/1.1\r\nHost: x\r\n` +
        `Authorization: Bearer ${alice.accessToken}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
    );
    let sent = 0;
    const timer = setInterval(() => {
      if (!c.isClosed() && sent < body.length - 1) c.socket.write(body[sent++]!);
    }, 500);
    await c.closed;
    clearInterval(timer);
    expect(statusOf(c.received())).toBe(408);
    expect(bodyOf(c.received())).toMatchObject({ errcode: 'M_UNKNOWN', error: expect.stringMatching(/too slow/) });
    const messages = await alice.http.ok<{ chunk: Array<{ content: { body?: string } }> }>('GET', `/rooms/${enc(roomId)}/messages`, { query: { dir: 'b' } });
    expect(messages.chunk.map((e) => e.content.body)).not.toContain('dribbled in');
  });

  it('lets a slow but steady upload through, though it takes longer than body_timeout_ms', async () => {
    const c = await rawConnection();
    const size = 4_000;
    c.socket.write(
      `POST /_matrix/media/v3/upload?filename=slow.txt HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${alice.accessToken}\r\n` +
        `Content-Type: text/plain\r\nContent-Length: ${size}\r\n\r\n`,
    );
    // 500 bytes every 250 ms: 2,000 bytes/s, twice the minimum rate, for about 2 s in all.
    let sent = 0;
    const timer = setInterval(() => {
      if (sent < size) {
        c.socket.write('x'.repeat(500));
        sent += 500;
      }
    }, 250);
    await waitFor(() => c.received().includes('content_uri'), 20_000, 'the upload answer');
    clearInterval(timer);
    expect(statusOf(c.received())).toBe(200);
    expect(bodyOf(c.received())).toMatchObject({ content_uri: expect.stringMatching(/^mxc:\/\//) });
  });

  it('answers a long-polling /sync after its full timeout, well past every connection limit', async () => {
    const first = await alice.http.ok<{ next_batch: string }>('GET', '/sync', { query: { timeout: 0 } });
    const started = Date.now();
    const res = await alice.http.get<{ next_batch: string }>('/sync', { query: { since: first.next_batch, timeout: 3_500 } });
    expect(res.status).toBe(200);
    expect(typeof res.body.next_batch).toBe('string');
    // It waited out its timeout (nothing happened meanwhile) rather than being cut early.
    expect(Date.now() - started).toBeGreaterThanOrEqual(3_000);
  });

  it('closes a keep-alive connection that stays idle after its response', async () => {
    const c = await rawConnection();
    c.socket.write('GET /_matrix/client/versions HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitFor(() => c.received().includes('"versions"'), 10_000, 'the versions answer');
    expect(statusOf(c.received())).toBe(200);
    await c.closed;
    // Closed without a second answer.
    expect(c.received().match(/HTTP\/1\.1 /g)).toHaveLength(1);
  });
});

describe('open connections per address (homeserver.connections.max_per_ip)', () => {
  let hs: TestHomeserver;
  const raw: RawConnection[] = [];

  beforeAll(async () => {
    hs = await startTestHomeserver({
      connections: { headers_timeout_ms: 20_000, body_timeout_ms: 20_000, body_min_bytes_per_second: 1_000, idle_timeout_ms: 20_000, max_per_ip: 3 },
    });
  });

  afterAll(async () => {
    for (const c of raw) c.socket.destroy();
    await hs?.stop();
  });

  it('refuses a connection beyond max_per_ip and admits one again once another closes', async () => {
    for (let i = 0; i < 3; i += 1) raw.push(await open(hs));
    // The server has admitted the three (a request on each is answered).
    for (const c of raw) c.socket.write('GET /_matrix/client/versions HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitFor(() => raw.every((c) => c.received().includes('"versions"')), 10_000, 'answers on the three connections');

    const fourth = await open(hs);
    raw.push(fourth);
    fourth.socket.write('GET /_matrix/client/versions HTTP/1.1\r\nHost: x\r\n\r\n');
    await fourth.closed;
    expect(fourth.received()).toBe('');

    raw[0]!.socket.destroy();
    await raw[0]!.closed;
    await waitFor(async () => (await fetch(`${hs.url}/_matrix/client/versions`).catch(() => null))?.status === 200, 10_000, 'a new connection admitted');
  });
});
