// Requests Node's HTTP parser refuses before express sees them: a request line or headers over Node's
// 16 KiB (a long /sync filter in the query), or bytes that are not HTTP. Node answers those with a bare
// status line; here they get a spec error body like every other refusal.
import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';

function answer(socket: Duplex, status: number, reason: string, errcode: string, error: string): void {
  const body = JSON.stringify({ errcode, error });
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `Access-Control-Allow-Origin: *\r\nConnection: close\r\n\r\n${body}`,
  );
}

export function answerParserErrors(server: Server): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    if (err.code === 'HPE_HEADER_OVERFLOW') {
      answer(socket, 431, 'Request Header Fields Too Large', 'M_TOO_LARGE', 'The request line or headers are too large');
    } else if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      answer(socket, 408, 'Request Timeout', 'M_UNKNOWN', 'The request took too long to arrive');
    } else {
      answer(socket, 400, 'Bad Request', 'M_UNKNOWN', 'Malformed HTTP request');
    }
  });
}
