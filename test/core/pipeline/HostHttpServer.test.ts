// The host's HTTP server over raw sockets: a client that stalls or dribbles its request is cut; a prompt
// transaction is answered as before.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import express, { Router } from 'express';
import { connect, type Socket } from 'node:net';
import { HostHttpServer } from '../../../core/host/HostHttpServer.js';
import { quietLogger } from './pipelineTestKit.js';

interface Raw {
  socket: Socket;
  received: () => string;
  closed: Promise<void>;
}

describe('host HTTP server limits', () => {
  let server: HostHttpServer;
  const sockets: Socket[] = [];

  const open = async (): Promise<Raw> => {
    const socket = connect(server.port, '127.0.0.1');
    sockets.push(socket);
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString()));
    socket.on('error', () => undefined);
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    return { socket, received: () => text, closed };
  };

  beforeAll(async () => {
    const appservice = Router();
    appservice.put('/_matrix/app/v1/transactions/:txnId', express.json(), (_req, res) => {
      res.json({});
    });
    server = new HostHttpServer({
      bind: '127.0.0.1',
      port: 0,
      appservice,
      health: () => Promise.reject(new Error('not asked in this suite')),
      statusPage: null,
      metrics: null,
      pluginRoutes: null,
      logger: quietLogger(),
      timeouts: { headersMs: 1_000, requestMs: 1_500 },
    });
    await server.listen();
  });

  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await server?.close();
  });

  it('answers a transaction sent at once', async () => {
    const res = await fetch(`${server.url}/_matrix/app/v1/transactions/t1`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"events":[]}' });
    expect(res.status).toBe(200);
  });

  it('cuts a connection that sends nothing', async () => {
    const c = await open();
    await c.closed;
    expect(c.received()).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('cuts a transaction whose body dribbles in', async () => {
    const c = await open();
    c.socket.write('PUT /_matrix/app/v1/transactions/t2 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{');
    const timer = setInterval(() => c.socket.write(' '), 200);
    await c.closed;
    clearInterval(timer);
    expect(c.received()).toMatch(/^HTTP\/1\.1 408 /);
  });
});
