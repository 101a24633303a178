// Two embedded homeservers that federate on loopback, a.test and b.test, each in the other's `peers`,
// with their signing keys in a temporary folder: what a suite needs to test anything across servers.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HomeserverOptions } from '../homeserver/contracts.js';
import { loopbackFederationOptions } from './testFederation.js';
import { startTestHomeserver, type TestHomeserver } from './testHomeserver.js';

export interface ServerPairOptions {
  /** Names the temporary folder (`pb-<name>-…`). */
  name: string;
  /** More options for B, made once the folder exists (e.g. an appservice registration written there). */
  b?: (dir: string) => Partial<HomeserverOptions> | Promise<Partial<HomeserverOptions>>;
  /** Servers besides the pair, known to both (e.g. a third, recording server): name -> base URL. */
  otherPeers?: Record<string, string>;
}

export interface ServerPair {
  a: TestHomeserver;
  b: TestHomeserver;
  /** The temporary folder: `a.key` and `b.key` are the servers' signing keys. */
  dir: string;
  /** Stops both servers and removes the folder. */
  stop(): Promise<void>;
}

/** Starts A, then B pointing at A, then points A at B. */
export async function startServerPair(options: ServerPairOptions): Promise<ServerPair> {
  const dir = mkdtempSync(join(tmpdir(), `pb-${options.name}-`));
  const others = options.otherPeers ?? {};
  const loopback = ['a.test', 'b.test', ...Object.keys(others)];
  const peersOfA: Record<string, string> = { ...others };
  let a: TestHomeserver | undefined;
  let b: TestHomeserver | undefined;
  const stop = async (): Promise<void> => {
    await Promise.all([a?.stop(), b?.stop()]);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    a = await startTestHomeserver({ serverName: 'a.test', signingKeyFile: join(dir, 'a.key'), federation: loopbackFederationOptions('a.test', peersOfA, loopback) });
    const peersOfB = { ...others, 'a.test': a.url };
    b = await startTestHomeserver({
      serverName: 'b.test',
      signingKeyFile: join(dir, 'b.key'),
      federation: loopbackFederationOptions('b.test', peersOfB, loopback),
      ...(await options.b?.(dir)),
    });
    peersOfA['b.test'] = b.url;
    return { a, b, dir, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
