// The IRC bridge's config section (`bridges.irc` in Patchbay's YAML): its JSON Schema, which the host
// validates at startup, and the normalised settings with every default filled in.
import type { JsonSchema } from 'patchbay-matrix/plugin';
import type { ReconnectPolicy } from './IrcConnection.js';
import type { TransportTlsOptions } from './IrcSocketTransport.js';

export interface IrcPluginConfig {
  /** Optional so an enabled bridge without networks starts (and says so) instead of failing. */
  networks?: Record<string, NetworkConfigInput>;
}

export interface NetworkConfigInput {
  name?: string;
  host: string;
  port?: number;
  tls?: boolean | { ca?: string; reject_unauthorized?: boolean; cert?: string; key?: string; servername?: string };
  password?: string | null;
  sasl?: { account: string; password: string } | null;
  bot?: { nick?: string; username?: string; realname?: string; sasl?: { account: string; password: string } | null };
  puppets?: {
    nick_template?: string;
    username?: string;
    realname?: string;
    idle_timeout_minutes?: number;
    max_connections?: number;
    local_address?: string | null;
  };
  limits?: {
    lines_per_second?: number;
    burst?: number;
    connect_concurrency?: number;
    connect_interval_ms?: number;
    reconnect_initial_ms?: number;
    reconnect_max_ms?: number;
    reconnect_max_attempts?: number;
    registration_timeout_ms?: number;
    max_lines_per_message?: number;
  };
  quit_debounce?: { delay_ms?: number; burst_threshold?: number; burst_window_ms?: number };
  mappings?: Array<{ channel: string; room: string; key?: string }>;
  portals?: { enabled?: boolean; allow?: string[]; deny?: string[] };
  membership?: { sync_names?: boolean };
  delay_notice_ms?: number;
  echo_message?: boolean;
}

export interface NetworkSettings {
  id: string;
  name: string;
  host: string;
  port: number;
  tls: TransportTlsOptions | false;
  password?: string;
  bot: { nick: string; username: string; realname: string; sasl?: { account: string; password: string } };
  puppets: {
    nickTemplate: string;
    username: string;
    realname: string;
    idleTimeoutMs: number;
    maxConnections: number;
    localAddress?: string;
  };
  linesPerSecond: number;
  burst: number;
  connectConcurrency: number;
  connectIntervalMs: number;
  reconnect: ReconnectPolicy;
  registrationTimeoutMs: number;
  maxLinesPerMessage: number;
  quitDebounce: { delayMs: number; burstThreshold: number; burstWindowMs: number };
  mappings: Array<{ channel: string; room: string; key?: string }>;
  portals: { enabled: boolean; allow: string[]; deny: string[] };
  syncNames: boolean;
  delayNoticeMs: number;
  echoMessage: boolean;
}

const int = (minimum: number, maximum?: number): JsonSchema => ({ type: 'integer', minimum, ...(maximum !== undefined ? { maximum } : {}) });
const credentials: JsonSchema = {
  type: ['object', 'null'],
  additionalProperties: false,
  required: ['account', 'password'],
  properties: { account: { type: 'string', minLength: 1 }, password: { type: 'string' } },
};

export const ircConfigSchema: JsonSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  additionalProperties: false,
  properties: {
    enabled: { type: 'boolean' },
    networks: {
      type: 'object',
      description: 'IRC networks by id; the id appears in ghost ids and aliases (#irc_<id>_#channel).',
      propertyNames: { pattern: '^[a-z0-9][a-z0-9-]{0,31}$' },
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        required: ['host'],
        properties: {
          name: { type: 'string' },
          host: { type: 'string', minLength: 1 },
          port: int(1, 65535),
          tls: {
            oneOf: [
              { type: 'boolean' },
              {
                type: 'object',
                additionalProperties: false,
                properties: {
                  ca: { type: 'string', description: 'PEM CA certificate(s) to trust' },
                  reject_unauthorized: { type: 'boolean' },
                  cert: { type: 'string' },
                  key: { type: 'string' },
                  servername: { type: 'string' },
                },
              },
            ],
          },
          password: { type: ['string', 'null'] },
          sasl: credentials,
          bot: {
            type: 'object',
            additionalProperties: false,
            properties: {
              nick: { type: 'string', pattern: '^[A-Za-z\\[\\]\\\\`_^{|}][A-Za-z0-9\\[\\]\\\\`_^{|}-]{0,29}$' },
              username: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,32}$' },
              realname: { type: 'string', maxLength: 200 },
              sasl: credentials,
            },
          },
          puppets: {
            type: 'object',
            additionalProperties: false,
            properties: {
              nick_template: { type: 'string', pattern: '\\$(DISPLAY|LOCALPART)' },
              username: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,32}$' },
              realname: { type: 'string', maxLength: 200 },
              idle_timeout_minutes: int(0),
              max_connections: int(1),
              local_address: { type: ['string', 'null'] },
            },
          },
          limits: {
            type: 'object',
            additionalProperties: false,
            properties: {
              lines_per_second: { type: 'number', exclusiveMinimum: 0 },
              burst: int(1),
              connect_concurrency: int(1),
              connect_interval_ms: int(0),
              reconnect_initial_ms: int(1),
              reconnect_max_ms: int(1),
              reconnect_max_attempts: int(0),
              registration_timeout_ms: int(1000),
              max_lines_per_message: int(1),
            },
          },
          quit_debounce: {
            type: 'object',
            additionalProperties: false,
            properties: { delay_ms: int(0), burst_threshold: int(1), burst_window_ms: int(1) },
          },
          mappings: {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['channel', 'room'],
              properties: {
                channel: { type: 'string', pattern: '^[#&+!][^\\s,:\\x07]{1,199}$' },
                room: { type: 'string', pattern: '^[!#][^:]+:.+$' },
                key: { type: 'string' },
              },
            },
          },
          portals: {
            type: 'object',
            additionalProperties: false,
            properties: {
              enabled: { type: 'boolean' },
              allow: { type: 'array', items: { type: 'string' } },
              deny: { type: 'array', items: { type: 'string' } },
            },
          },
          membership: { type: 'object', additionalProperties: false, properties: { sync_names: { type: 'boolean' } } },
          delay_notice_ms: int(0),
          echo_message: { type: 'boolean' },
        },
      },
    },
  },
};

/** Fills in defaults: real networks' manners (0.5 lines/s after a burst of 5, two connects at a time). */
export function normalizeNetworks(config: IrcPluginConfig): NetworkSettings[] {
  return Object.entries(config.networks ?? {}).map(([id, n]) => {
    const tls: TransportTlsOptions | false =
      n.tls === true
        ? {}
        : n.tls === undefined || n.tls === false
          ? false
          : { ca: n.tls.ca, rejectUnauthorized: n.tls.reject_unauthorized, cert: n.tls.cert, key: n.tls.key, servername: n.tls.servername };
    const limits = n.limits ?? {};
    const botSasl = n.bot?.sasl ?? n.sasl ?? undefined;
    return {
      id,
      name: n.name ?? id,
      host: n.host,
      port: n.port ?? (tls !== false ? 6697 : 6667),
      tls,
      password: n.password ?? undefined,
      bot: {
        nick: n.bot?.nick ?? 'PatchbayBot',
        username: n.bot?.username ?? 'patchbay',
        realname: n.bot?.realname ?? 'Patchbay Matrix bridge',
        sasl: botSasl === null ? undefined : botSasl,
      },
      puppets: {
        nickTemplate: n.puppets?.nick_template ?? '$DISPLAY[m]',
        username: n.puppets?.username ?? 'matrix',
        realname: n.puppets?.realname ?? 'Matrix user $USERID',
        idleTimeoutMs: (n.puppets?.idle_timeout_minutes ?? 0) * 60_000,
        maxConnections: n.puppets?.max_connections ?? 1000,
        localAddress: n.puppets?.local_address ?? undefined,
      },
      linesPerSecond: limits.lines_per_second ?? 0.5,
      burst: limits.burst ?? 5,
      connectConcurrency: limits.connect_concurrency ?? 2,
      connectIntervalMs: limits.connect_interval_ms ?? 500,
      reconnect: {
        initialDelayMs: limits.reconnect_initial_ms ?? 2000,
        maxDelayMs: limits.reconnect_max_ms ?? 300_000,
        maxAttempts: limits.reconnect_max_attempts ?? 0,
      },
      registrationTimeoutMs: limits.registration_timeout_ms ?? 30_000,
      maxLinesPerMessage: limits.max_lines_per_message ?? 30,
      quitDebounce: {
        delayMs: n.quit_debounce?.delay_ms ?? 300_000,
        burstThreshold: n.quit_debounce?.burst_threshold ?? 10,
        burstWindowMs: n.quit_debounce?.burst_window_ms ?? 5000,
      },
      mappings: n.mappings ?? [],
      portals: { enabled: n.portals?.enabled ?? true, allow: n.portals?.allow ?? ['*'], deny: n.portals?.deny ?? [] },
      syncNames: n.membership?.sync_names ?? true,
      delayNoticeMs: n.delay_notice_ms ?? 20_000,
      echoMessage: n.echo_message ?? true,
    };
  });
}
