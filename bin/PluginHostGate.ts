// The pipeline starts before the plugins (it must be listening before the homeserver sends anything, and
// the plugins need the homeserver), so it is handed this stand-in: events and queries that arrive early
// wait here until the PluginHost runs, instead of failing and being retried into the dead-letter set.
import type { RequestHandler } from 'express';
import type { EventDispatcher, QueryResolver, ThirdPartyResolver } from '../core/contracts.js';
import type {
  MatrixEphemeralEvent,
  MatrixEvent,
  PluginHost,
  ThirdPartyLocation,
  ThirdPartyProtocol,
  ThirdPartyUser,
} from '../core/plugin/index.js';

export class PluginHostGate implements EventDispatcher, QueryResolver, ThirdPartyResolver {
  private host: PluginHost | null = null;
  private open: (host: PluginHost) => void = () => undefined;
  /** Never rejects: if the plugins fail to start, waiting work is abandoned by a forced pipeline stop. */
  private readonly ready = new Promise<PluginHost>((resolve) => {
    this.open = resolve;
  });

  /** Lets everything that waited through, and everything after it. */
  admit(host: PluginHost): void {
    this.host = host;
    this.open(host);
  }

  async dispatch(event: MatrixEvent, attempt: number): Promise<void> {
    return (await this.ready).dispatch(event, attempt);
  }

  async dispatchEphemeral(event: MatrixEphemeralEvent): Promise<void> {
    return (await this.ready).dispatchEphemeral(event);
  }

  async deadLettered(event: MatrixEvent, error: Error): Promise<void> {
    return (await this.ready).deadLettered(event, error);
  }

  async userExists(userId: string): Promise<boolean> {
    return (await this.ready).userExists(userId);
  }

  async aliasExists(alias: string): Promise<boolean> {
    return (await this.ready).aliasExists(alias);
  }

  /** The bridges' HTTP routes: a request that arrives before the bridges run waits for them. */
  readonly httpRoutes: RequestHandler = (req, res, next) => {
    this.ready.then((host) => host.httpRoutes(req, res, next), next);
  };

  /** Synchronous by contract: before the plugins run, no protocol is served yet (404). */
  protocol(protocol: string): ThirdPartyProtocol | null {
    return this.host?.protocol(protocol) ?? null;
  }

  async users(protocol: string, fields: Record<string, string>): Promise<ThirdPartyUser[] | null> {
    return (await this.ready).users(protocol, fields);
  }

  async locations(protocol: string, fields: Record<string, string>): Promise<ThirdPartyLocation[] | null> {
    return (await this.ready).locations(protocol, fields);
  }

  async usersByMatrixId(userId: string): Promise<ThirdPartyUser[]> {
    return (await this.ready).usersByMatrixId(userId);
  }

  async locationsByAlias(alias: string): Promise<ThirdPartyLocation[]> {
    return (await this.ready).locationsByAlias(alias);
  }
}
