// Signing outbound federation requests and checking inbound ones. The signed object is
// {method, uri, origin, destination, content?}: uri is the path with its query string as sent, and
// content the parsed JSON body when there is one. A failure is 401 M_UNAUTHORIZED with what was wrong.
import { MatrixError } from '../../MatrixError.js';
import { signJson, verifyJsonSignature, type ServerSigningKey } from '../signing/SignedJson.js';
import { formatXMatrixHeader, parseXMatrixHeader, XMatrixHeaderError } from './XMatrixHeader.js';

export interface FederationRequest {
  method: string;
  /** Path and query as on the request line: `/_matrix/federation/v1/query/profile?user_id=%40a%3Ax`. */
  uri: string;
  /** The parsed JSON body; undefined when the request has none. */
  content?: unknown;
}

/** A server's current verify key, valid now; null when it cannot be had. */
export type RequestKeyLookup = (serverName: string, keyId: string, atTs: number) => Promise<Uint8Array | null>;

function signedRequestJson(req: FederationRequest, origin: string, destination: string): Record<string, unknown> {
  return {
    method: req.method.toUpperCase(),
    uri: req.uri,
    origin,
    destination,
    ...(req.content !== undefined && { content: req.content }),
  };
}

/** The Authorization header value for a request from `origin` to `destination`. */
export function authorizationHeader(req: FederationRequest, origin: string, destination: string, signing: ServerSigningKey): string {
  const signed = signJson(signedRequestJson(req, origin, destination), origin, signing);
  return formatXMatrixHeader({ origin, destination, key: signing.keyId, sig: signed.signatures[origin]![signing.keyId]! });
}

function unauthorized(message: string): MatrixError {
  return new MatrixError(401, 'M_UNAUTHORIZED', message);
}

/** A plausible server name (the grammar of the appendices: host or IP literal, optional port). */
const SERVER_NAME = /^(\[[0-9A-Fa-f:.]{2,45}\]|[0-9]{1,3}(\.[0-9]{1,3}){3}|[A-Za-z0-9.-]{1,255})(:[0-9]{1,5})?$/;

/**
 * Checks an inbound request's X-Matrix header for `ourName`; resolves to the origin server's name.
 * Throws MatrixError 401 M_UNAUTHORIZED: no header, malformed, wrong destination, unknown key, bad signature.
 */
export async function authenticateRequest(
  req: FederationRequest,
  authorization: string | undefined,
  ourName: string,
  lookup: RequestKeyLookup,
  now = Date.now(),
): Promise<string> {
  if (!authorization) throw unauthorized('Missing Authorization header (federation requests are signed with X-Matrix)');
  let creds;
  try {
    creds = parseXMatrixHeader(authorization);
  } catch (err) {
    if (err instanceof XMatrixHeaderError) throw unauthorized(err.message);
    throw err;
  }
  if (!SERVER_NAME.test(creds.origin)) throw unauthorized(`The origin ${JSON.stringify(creds.origin)} is not a server name`);
  if (creds.destination !== undefined && creds.destination !== ourName) {
    throw unauthorized(`The request is for ${creds.destination}, not this server (${ourName})`);
  }
  if (!creds.key.startsWith('ed25519:')) throw unauthorized(`Unsupported key algorithm in ${creds.key}`);
  const key = await lookup(creds.origin, creds.key, now);
  if (!key) throw unauthorized(`No valid key ${creds.key} of ${creds.origin} could be found`);
  const signed = {
    ...signedRequestJson(req, creds.origin, creds.destination ?? ourName),
    signatures: { [creds.origin]: { [creds.key]: creds.sig } },
  };
  if (!verifyJsonSignature(signed, creds.origin, creds.key, key)) {
    throw unauthorized(`The X-Matrix signature of ${creds.origin} does not verify`);
  }
  return creds.origin;
}
