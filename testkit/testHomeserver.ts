// One embedded homeserver per suite: memory storage, a free port, silent logs, a short appservice retry.
import { pino } from 'pino';
import type { HomeserverOptions, RunningHomeserver } from '../homeserver/contracts.js';
import { startHomeserver } from '../homeserver/index.js';
import { MatrixHttpClient } from './MatrixHttpClient.js';
import { shippedHomeserverLimits } from './shippedDefaults.js';

export interface TestHomeserver {
  url: string;
  port: number;
  serverName: string;
  options: HomeserverOptions;
  /** Unauthenticated Client-Server calls. */
  http: MatrixHttpClient;
  running: RunningHomeserver;
  stop(): Promise<void>;
}

/** The options tests use unless they override them. */
export function testHomeserverOptions(overrides: Partial<HomeserverOptions> = {}): HomeserverOptions {
  return {
    serverName: 'localhost',
    bind: '127.0.0.1',
    port: 0,
    storage: { kind: 'memory' },
    maxBodyBytes: 1024 * 1024,
    maxUploadBytes: 10 * 1024 * 1024,
    registrationEnabled: true,
    appserviceConfigFiles: [],
    appserviceRetry: { initialMs: 50, maxMs: 500 },
    ...shippedHomeserverLimits(),
    logger: pino({ level: process.env.PATCHBAY_TEST_LOG_LEVEL ?? 'silent' }),
    ...overrides,
  };
}

/** Starts the embedded homeserver (homeserver/index.ts) with test options. */
export async function startTestHomeserver(overrides: Partial<HomeserverOptions> = {}): Promise<TestHomeserver> {
  const options = testHomeserverOptions(overrides);
  const running = await startHomeserver(options);
  return {
    url: running.url,
    port: running.port,
    serverName: options.serverName,
    options,
    http: new MatrixHttpClient(running.url),
    running,
    stop: () => running.stop(),
  };
}
