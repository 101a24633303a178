// Ports for the test peers, free on 127.0.0.1 for both UDP and TCP (SIP listens on both) and not handed
// out twice by this process. A port is only free when checked; peers bind it right after.
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';

const handedOut = new Set<number>();

function tcpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

function udpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    socket.once('error', () => resolve(false));
    socket.bind(port, '127.0.0.1', () => socket.close(() => resolve(true)));
  });
}

/** `count` consecutive ports, each free for UDP and TCP, from a random place in 20000-59999. */
export async function freePorts(count = 1): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = 20000 + Math.floor(Math.random() * (40000 - count));
    let ok = true;
    for (let p = base; p < base + count && ok; p++) ok = !handedOut.has(p) && (await tcpFree(p)) && (await udpFree(p));
    if (!ok) continue;
    for (let p = base; p < base + count; p++) handedOut.add(p);
    return base;
  }
  throw new Error(`no ${count} free consecutive ports found`);
}

/** A block of UDP ports for media (rtpengine, baresip), checked at its ends. */
export async function freeRtpRange(size: number): Promise<{ min: number; max: number }> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const min = 30000 + 2 * Math.floor(Math.random() * ((29000 - size) / 2));
    const max = min + size - 1;
    let clash = false;
    for (const p of handedOut) if (p >= min && p <= max) clash = true;
    if (clash || !(await udpFree(min)) || !(await udpFree(max))) continue;
    for (let p = min; p <= max; p++) handedOut.add(p);
    return { min, max };
  }
  throw new Error('no free media port range found');
}
