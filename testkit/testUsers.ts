// Registers and logs in real accounts over the Client-Server API (the m.login.dummy flow the embedded
// homeserver offers for open registration).
import { MatrixHttpClient, type JsonObject } from './MatrixHttpClient.js';

export interface TestUser {
  userId: string;
  accessToken: string;
  deviceId: string;
  password: string;
  /** Calls authenticated as this user. */
  http: MatrixHttpClient;
}

interface LoginBody {
  user_id: string;
  access_token: string;
  device_id: string;
}

let counter = 0;
/** A localpart unique within this process, for suites that must not collide. */
export function uniqueLocalpart(prefix = 'user'): string {
  counter += 1;
  return `${prefix}${counter}_${process.pid}_${Date.now().toString(36)}`;
}

function asUser(baseUrl: string, password: string, body: LoginBody): TestUser {
  return {
    userId: body.user_id,
    accessToken: body.access_token,
    deviceId: body.device_id,
    password,
    http: new MatrixHttpClient(baseUrl, body.access_token),
  };
}

/** Registers `localpart` (dummy auth, following the 401 session handshake when the server asks for it). */
export async function registerUser(baseUrl: string, localpart: string, password = 'correct horse battery'): Promise<TestUser> {
  const http = new MatrixHttpClient(baseUrl);
  const request: JsonObject = { username: localpart, password, initial_device_display_name: 'patchbay test' };
  let res = await http.post<JsonObject>('/register', { ...request, auth: { type: 'm.login.dummy' } });
  if (res.status === 401 && typeof res.body.session === 'string') {
    res = await http.post<JsonObject>('/register', { ...request, auth: { type: 'm.login.dummy', session: res.body.session } });
  }
  if (res.status !== 200) throw new Error(`register ${localpart} -> ${res.status} ${JSON.stringify(res.body)}`);
  return asUser(baseUrl, password, res.body as unknown as LoginBody);
}

/** A fresh password login (a new device and token) for an existing account. */
export async function loginUser(baseUrl: string, user: string, password = 'correct horse battery'): Promise<TestUser> {
  const http = new MatrixHttpClient(baseUrl);
  const body = await http.ok<LoginBody>('POST', '/login', {
    body: { type: 'm.login.password', identifier: { type: 'm.id.user', user }, password },
  });
  return asUser(baseUrl, password, body);
}
