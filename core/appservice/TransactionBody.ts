// Reads an AS API request body as JSON the host can store. Refused with a 4xx, because sending the same
// bytes again can never succeed: text that is not UTF-8 (M_NOT_JSON: JSON between systems is UTF-8, and
// a silent U+FFFD would change the events) and nesting deeper than MAX_TRANSACTION_DEPTH (M_BAD_JSON:
// serialising it for the queue overflowed the stack, which used to answer 503 for ever). Checked on the
// text, before JSON.parse builds anything. Numbers and unpaired surrogate escapes are valid JSON that a
// homeserver accepted into a room; they are taken as JSON.parse reads them rather than holding the
// transaction, and every later one, back.
import { AppserviceApiError } from './AppserviceApiError.js';

/**
 * Deepest nesting a transaction may have: the body's own three levels plus event content far deeper
 * than real events (Synapse cannot serialise past Python's recursion limit of 1,000 either), and well
 * inside what the queue's serialisation survives (it overflowed at about 4,500).
 */
export const MAX_TRANSACTION_DEPTH = 1000;

const decoder = new TextDecoder('utf-8', { fatal: true });

function nestingExceeds(text: string, max: number): boolean {
  let depth = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      for (i++; i < n; i++) {
        const s = text.charCodeAt(i);
        if (s === 0x22) break;
        if (s === 0x5c /* \ */) i++;
      }
    } else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (++depth > max) return true;
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) {
      depth--;
    }
  }
  return false;
}

export function parseTransactionBody(bytes: Uint8Array, maxDepth = MAX_TRANSACTION_DEPTH): unknown {
  if (bytes.length === 0) throw new AppserviceApiError(400, 'M_NOT_JSON', 'The request body is empty', 'not_json');
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    throw new AppserviceApiError(400, 'M_NOT_JSON', 'The request body is not valid UTF-8', 'not_json');
  }
  if (nestingExceeds(text, maxDepth)) {
    throw new AppserviceApiError(400, 'M_BAD_JSON', `The JSON is nested deeper than ${maxDepth} levels`, 'bad_json');
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new AppserviceApiError(400, 'M_NOT_JSON', 'The request body is not valid JSON', 'not_json');
  }
}
