// The guard (InboundGuard) parses every inbound message to answer what sip.js would silently drop, and
// sip.js's user agent then parses the same string again first thing. A parse is a millisecond or more of
// CPU for an INVITE, on the thread the homeserver and the host share. This hands the guard's parse over:
// while the transport's handler runs (synchronously; sip.js parses before anything else),
// sip.js's Parser.parseMessage returns the guard's message for exactly that string, once.
import { Core } from 'sip.js';

let handed: { raw: string; message: Core.IncomingRequestMessage | Core.IncomingResponseMessage } | null = null;
let installed = false;

/** Runs `deliver(raw)` with sip.js reusing `message` (the guard's parse of `raw`) instead of parsing again. */
export function deliverParsed(raw: string, message: Core.IncomingRequestMessage | Core.IncomingResponseMessage, deliver: (raw: string) => void): void {
  install();
  handed = { raw, message };
  try {
    deliver(raw);
  } finally {
    handed = null;
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  const parser = Core.Parser as { parseMessage: typeof Core.Parser.parseMessage };
  const parse = parser.parseMessage;
  parser.parseMessage = (data: string, logger: Core.Logger) => {
    const given = handed;
    if (given !== null && given.raw === data) {
      handed = null;
      return given.message;
    }
    return parse(data, logger);
  };
}
