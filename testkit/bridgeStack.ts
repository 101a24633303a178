// What `patchbay start` composes, for one suite: a managed Redis, the event pipeline (AS API + queues),
// the embedded homeserver with the registration, and a PluginHost running the given bridges.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RequestHandler } from 'express';
import { pino, type Logger } from 'pino';
import type { HostConfig } from '../config/index.js';
import { Registry } from 'prom-client';
import type { EventDispatcher, QueryResolver, ThirdPartyResolver } from '../core/contracts.js';
import { createEventPipeline, type EventPipeline } from '../core/host/index.js';
import { PluginHost, type PluginHostOptions } from '../core/plugin/PluginHost.js';
import type { LoadedPlugin } from '../core/plugin/PluginLoader.js';
import { registrationInputsFor } from '../core/plugin/RegistrationInputs.js';
import { ManagedRedis } from '../core/redis/ManagedRedis.js';
import type { HomeserverOptions } from '../homeserver/contracts.js';
import { generateRegistration, writeRegistrationFile, type AppserviceRegistration } from '../registration/index.js';
import { startTestHomeserver, type TestHomeserver } from './testHomeserver.js';

export interface BridgeStackOptions {
  /** Loads the bridges; called once at start and again on every restartHost() (fresh plugin instances). */
  bridges: () => Promise<LoadedPlugin[]>;
  /** The registration's id (names the Redis keys). */
  appserviceId: string;
  /** False: no event pipeline, and the registration has no URL (the homeserver sends the appservice nothing). */
  pipeline?: boolean;
  /** Host settings (the config's host section) for the pipeline and the plugin host, over the test's. */
  settings?: Partial<HostConfig>;
  /** PluginHost options over the test defaults (a short outbox backoff). */
  host?: Partial<Omit<PluginHostOptions, 'plugins' | 'appserviceId' | 'homeserverUrl' | 'asToken' | 'serverName' | 'redis' | 'logger' | 'metrics'>>;
  /** Default: pino at PATCHBAY_TEST_LOG_LEVEL (or PATCHBAY_TEST_LOG), else silent. */
  logger?: Logger;
  /** Registration keys over the generated ones (e.g. `rate_limited: true`). */
  registration?: Partial<Pick<AppserviceRegistration, 'rate_limited'>>;
  /** Homeserver options over the test defaults (e.g. tighter rate limits). */
  homeserver?: Partial<HomeserverOptions>;
}

export interface BridgeStack {
  /** The suite's temp dir (Redis, registration.yaml); removed by stop(). */
  readonly dir: string;
  readonly redis: ManagedRedis;
  readonly hs: TestHomeserver;
  /** Null when started with `pipeline: false`. */
  readonly pipeline: EventPipeline | null;
  /** The running host (a new one after restartHost()). */
  readonly host: PluginHost;
  readonly registration: AppserviceRegistration;
  readonly asToken: string;
  readonly logger: Logger;
  readonly metrics: Registry;
  /** Stops the host and starts a new one on the same Redis; the pipeline's calls wait meanwhile. */
  restartHost(): Promise<void>;
  /** Stops everything that was started, in reverse order, and removes the temp dir. */
  stop(): Promise<void>;
}

const TEST_OUTBOX = { attempts: 3, initialBackoffMs: 20, maxBackoffMs: 100, sendTimeoutMs: 30_000 };
const SENDER_LOCALPART = 'patchbay';

/**
 * Starts the stack. The pipeline is built before the host exists (the registration needs the pipeline's
 * URL, the host the homeserver's), so the pipeline reaches the host through forwarders that wait while
 * no host runs. On a failed start, whatever did start is stopped before the error is rethrown.
 */
export async function startBridgeStack(options: BridgeStackOptions): Promise<BridgeStack> {
  const dir = mkdtempSync(join(tmpdir(), `patchbay-${options.appserviceId}-`));
  const redis = new ManagedRedis({ dir, appendOnly: false });
  const logger = options.logger ?? pino({ level: process.env.PATCHBAY_TEST_LOG_LEVEL ?? process.env.PATCHBAY_TEST_LOG ?? 'silent' });
  const metrics = new Registry();
  let hs: TestHomeserver | undefined;
  let pipeline: EventPipeline | null = null;
  let host: PluginHost | undefined;
  /**
   * Settles once a host runs. A restart puts a new unsettled one in its place, and starting the new host
   * settles that same promise: whatever waited during the restart goes on to the new host (a promise
   * replaced instead would keep an event the pipeline handed over mid-restart waiting for ever, and its
   * room's partition behind it).
   */
  let hostReady = openable();
  let redisStarted = false;

  const running = (): PluginHost => host as PluginHost;
  const waitHost = async <T>(f: () => Promise<T>): Promise<T> => {
    await hostReady.opened;
    return f();
  };
  const forward = {
    dispatch: (e, a) => waitHost(() => running().dispatch(e, a)),
    dispatchEphemeral: (e) => waitHost(() => running().dispatchEphemeral(e)),
    deadLettered: (e, err) => waitHost(() => running().deadLettered(e, err)),
    userExists: (u) => waitHost(() => running().userExists(u)),
    aliasExists: (a) => waitHost(() => running().aliasExists(a)),
    protocol: (p) => running().protocol(p),
    users: (p, f) => waitHost(() => running().users(p, f)),
    locations: (p, f) => waitHost(() => running().locations(p, f)),
    usersByMatrixId: (u) => waitHost(() => running().usersByMatrixId(u)),
    locationsByAlias: (a) => waitHost(() => running().locationsByAlias(a)),
  } satisfies EventDispatcher & QueryResolver & ThirdPartyResolver;
  const routes: RequestHandler = (req, res, next) => {
    hostReady.opened.then(() => running().httpRoutes(req, res, next), next);
  };

  const startHost = async (plugins: LoadedPlugin[], registration: AppserviceRegistration, homeserver: TestHomeserver): Promise<void> => {
    host = new PluginHost({
      plugins,
      appserviceId: options.appserviceId,
      homeserverUrl: homeserver.url,
      asToken: registration.as_token,
      serverName: homeserver.serverName,
      senderLocalpart: SENDER_LOCALPART,
      redis: redis.connection,
      logger,
      metrics,
      host: { outbox_partitions: 4, ...options.settings },
      publicUrl: pipeline?.url ?? null,
      dataDir: dir,
      outbox: TEST_OUTBOX,
      ...options.host,
    });
    await host.start();
    hostReady.open();
  };

  const stop = async (): Promise<void> => {
    await host?.stop();
    await pipeline?.stop();
    await hs?.stop();
    if (redisStarted) await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    await redis.start();
    redisStarted = true;
    const plugins = await options.bridges();
    // The hs_token is only known once the registration is generated, and that needs the pipeline's URL:
    // generate without a URL first, then set it before writing the file.
    const registration = {
      ...generateRegistration(
        registrationInputsFor(plugins, { id: options.appserviceId, url: null, serverName: options.homeserver?.serverName ?? 'localhost', senderLocalpart: SENDER_LOCALPART }),
      ),
      ...options.registration,
    };
    if (options.pipeline !== false) {
      pipeline = createEventPipeline({
        registration: { id: options.appserviceId, hs_token: registration.hs_token },
        redis: redis.connection,
        host: { partitions: 4, handler_attempts: 3, ...options.settings },
        role: 'both',
        dispatcher: forward,
        queries: forward,
        thirdParty: forward,
        pluginRoutes: routes,
        logger,
        metrics,
        http: { bind: '127.0.0.1', port: 0 },
        tuning: { retryDelayMs: () => 20 },
      });
      await pipeline.start();
      registration.url = pipeline.url;
    }
    const regPath = join(dir, 'registration.yaml');
    await writeRegistrationFile(regPath, registration);
    const homeserver = await startTestHomeserver({ ...options.homeserver, appserviceConfigFiles: [regPath] });
    hs = homeserver;
    await startHost(plugins, registration, homeserver);
    return {
      dir,
      redis,
      hs: homeserver,
      pipeline,
      get host() {
        return running();
      },
      registration,
      asToken: registration.as_token,
      logger,
      metrics,
      async restartHost() {
        hostReady = openable();
        await running().stop();
        await startHost(await options.bridges(), registration, homeserver);
      },
      stop,
    };
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}

/** A promise that settles when open() is called. */
function openable(): { opened: Promise<void>; open: () => void } {
  let open: () => void = () => undefined;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}
