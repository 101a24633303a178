// The real stack for a plugin's own tests: a Redis of its own, the embedded homeserver, the event
// pipeline and the plugin host, as `patchbay start` runs them, with the given plugins. A test drives the
// plugin as a Matrix user would (registerUser) and as its remote side would (its HTTP routes at hostUrl).
import { randomUUID } from 'node:crypto';
import type { HostConfig } from '../config/index.js';
import type { BridgeContext, PluginFactory } from '../core/plugin-api/index.js';
import { registerUser, uniqueLocalpart, type TestUser } from './testUsers.js';

export interface PluginStackOptions {
  /** The bridges to run, by config name: the plugin's factory (its module's default export) and its config section. */
  bridges: Record<string, { factory: PluginFactory<never>; config?: Record<string, unknown> }>;
  /** Host settings (the config's `host` section) over the test stack's: 4 partitions, 3 handler attempts. */
  host?: Partial<HostConfig>;
}

export interface PluginStack {
  /** The embedded homeserver's Client-Server API. */
  readonly homeserverUrl: string;
  readonly serverName: string;
  /** The appservice host: the bridges' HTTP routes are under `${hostUrl}/_patchbay/bridges/<name>`. */
  readonly hostUrl: string;
  /** The context a running bridge was started with: its stores, intents and portals, to look into from a test. */
  context<Config = Record<string, unknown>>(bridge: string): BridgeContext<Config>;
  /** Registers a Matrix user (a unique localpart by default) and gives a client acting as it. */
  registerUser(localpart?: string): Promise<TestUser>;
  /** The host's metrics in Prometheus text, the bridges' own among them (what GET /metrics serves). */
  metrics(): Promise<string>;
  /** Stops the plugin host and starts it again with fresh plugin instances, on the same Redis and homeserver. */
  restartHost(): Promise<void>;
  /** Stops everything and removes what the stack wrote. */
  stop(): Promise<void>;
}

/**
 * Starts the stack (needs `redis-server` on the PATH; it runs on a unix socket in a temp folder). Each
 * bridge's config is validated against its descriptor's schema, as `patchbay start` does.
 */
export async function startPluginStack(options: PluginStackOptions): Promise<PluginStack> {
  const names = Object.keys(options.bridges);
  const { PluginLoader } = await import('../core/plugin/PluginLoader.js');
  const builtins = Object.fromEntries(names.map((name) => [name, async () => options.bridges[name]!.factory]));
  const sections = Object.fromEntries(names.map((name) => [name, { enabled: true, ...options.bridges[name]!.config }]));
  // Loaded here, not at the top: a unit test that only uses the fake context loads no homeserver or Redis client.
  const { startBridgeStack } = await import('./bridgeStack.js');
  const stack = await startBridgeStack({
    appserviceId: `plugin-test-${randomUUID().slice(0, 8)}`,
    bridges: () => new PluginLoader({ builtins }).load(sections),
    ...(options.host && { settings: options.host }),
  });
  return {
    homeserverUrl: stack.hs.url,
    serverName: stack.hs.serverName,
    hostUrl: stack.pipeline!.url!,
    context<Config>(bridge: string): BridgeContext<Config> {
      const runtime = stack.host.bridge(bridge);
      if (!runtime) throw new Error(`no bridge named ${bridge} runs in this stack (running: ${stack.host.bridgeNames.join(', ')})`);
      return runtime.context as unknown as BridgeContext<Config>;
    },
    registerUser: (localpart) => registerUser(stack.hs.url, localpart ?? uniqueLocalpart('user')),
    metrics: () => stack.metrics.metrics(),
    restartHost: () => stack.restartHost(),
    stop: () => stack.stop(),
  };
}
