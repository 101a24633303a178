// The IRC bridge's config section (`bridges.irc` in Patchbay's YAML): its JSON Schema, which the host
// validates at startup, and the normalised settings with every default filled in.
import type { JsonSchema } from 'patchbay-matrix/plugin';
import type { ReconnectPolicy } from './IrcConnection.js';
import type { TransportTlsOptions } from './IrcSocketTransport.js';

export interface IrcPluginConfig {
  /** Optional so an enabled bridge without networks starts (and says so) instead of failing. */
  networks?: Record<string, NetworkConfigInput>;
  /** The provisioning API at /_matrix/provision/v1 (off unless enabled). */
  provisioning?: { enabled?: boolean; shared_secret?: string | null };
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

// Every leaf carries `title` (what the value is), `description` (what to set instead) and `examples`:
// the host words its errors from them, as it does for Patchbay's own keys
// (`bridges.irc.networks.libera.port: "6697x" is not a port number. Fix: set ... to an integer 1-65535, e.g. 6697`).
const int = (title: string, minimum: number, maximum: number | null, example: number): JsonSchema => ({
  type: 'integer',
  minimum,
  ...(maximum !== null ? { maximum } : {}),
  title,
  description: maximum !== null ? `an integer ${minimum}-${maximum}` : `an integer of at least ${minimum}`,
  examples: [example],
});
const ms = (example: number, minimum = 0): JsonSchema => int('a time in milliseconds', minimum, null, example);
const bool = (example: boolean): JsonSchema => ({ type: 'boolean', title: 'true or false', description: 'true or false', examples: [example] });
const text = (title: string, example: string, extra: JsonSchema = {}): JsonSchema => ({ type: 'string', title, description: title, examples: [example], ...extra });
const map = (title: string, example: string, properties: Record<string, JsonSchema>, extra: JsonSchema = {}): JsonSchema => ({
  type: 'object',
  additionalProperties: false,
  title: `a map of ${title}`,
  description: `a map of ${title}`,
  examples: [example],
  properties,
  ...extra,
});
const list = (title: string, example: string[], items: JsonSchema): JsonSchema => ({ type: 'array', title, description: title, examples: [example], items });
const NICK = '^[A-Za-z\\[\\]\\\\`_^{|}][A-Za-z0-9\\[\\]\\\\`_^{|}-]{0,29}$';
const IDENT = '^[A-Za-z0-9_.-]{1,32}$';
const credentials: JsonSchema = {
  ...map('SASL credentials', '{ account: patchbay, password: "${IRC_SASL_PASSWORD}" }', {
    account: text('an account name', 'patchbay', { minLength: 1 }),
    password: text('a password', '${IRC_SASL_PASSWORD}'),
  }),
  type: ['object', 'null'],
  required: ['account', 'password'],
  title: 'a map of SASL credentials or null',
  description: 'a map { account, password }, or null for no SASL',
};

export const ircConfigSchema: JsonSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  additionalProperties: false,
  properties: {
    enabled: bool(true),
    networks: {
      type: 'object',
      title: 'a map of IRC networks by id',
      description: 'a map of IRC networks by id; the id appears in ghost ids and aliases (#irc_<id>_#channel)',
      examples: ['{ libera: { host: irc.libera.chat, tls: true } }'],
      propertyNames: {
        pattern: '^[a-z0-9][a-z0-9-]{0,31}$',
        title: 'a network id',
        description: 'lowercase letters, digits and - (at most 32, not starting with -)',
        examples: ['libera'],
      },
      additionalProperties: map('IRC network settings', '{ host: irc.libera.chat, tls: true }', {
        name: text('a display name', 'Libera.Chat'),
        host: text('a host name or IP address', 'irc.libera.chat', { minLength: 1 }),
        port: int('a port number', 1, 65535, 6697),
        tls: {
          type: ['boolean', 'object'],
          additionalProperties: false,
          title: 'true, false or a map of TLS settings',
          description: 'true, false, or a map { ca, reject_unauthorized, cert, key, servername }',
          examples: [true],
          properties: {
            ca: text('PEM CA certificate(s) to trust', '-----BEGIN CERTIFICATE-----...'),
            reject_unauthorized: bool(true),
            cert: text('a PEM client certificate', '-----BEGIN CERTIFICATE-----...'),
            key: text('a PEM private key', '${IRC_TLS_KEY}'),
            servername: text('a host name for SNI and the certificate check', 'irc.libera.chat'),
          },
        },
        password: { type: ['string', 'null'], title: 'a server password or null', description: 'the server password (PASS), or null for none', examples: ['${IRC_SERVER_PASSWORD}'] },
        sasl: credentials,
        bot: map('bot settings', '{ nick: PatchbayBot }', {
          nick: text('an IRC nick', 'PatchbayBot', { pattern: NICK, description: 'a nick of letters, digits and []\\`_^{|}- (at most 30, not starting with a digit or -)' }),
          username: text('an IRC user name', 'patchbay', { pattern: IDENT, description: 'letters, digits, _ . and - (at most 32)' }),
          realname: text('a real name', 'Patchbay Matrix bridge', { maxLength: 200 }),
          sasl: credentials,
        }),
        puppets: map('puppet settings', '{ nick_template: "$DISPLAY[m]" }', {
          nick_template: text('a nick template', '$DISPLAY[m]', { pattern: '\\$(DISPLAY|LOCALPART)', description: 'a template containing $DISPLAY or $LOCALPART' }),
          username: text('an IRC user name', 'matrix', { pattern: IDENT, description: 'letters, digits, _ . and - (at most 32)' }),
          realname: text('a real name', 'Matrix user $USERID', { maxLength: 200 }),
          idle_timeout_minutes: int('a number of minutes', 0, null, 0),
          max_connections: int('a number of connections', 1, null, 1000),
          local_address: { type: ['string', 'null'], title: 'a local IP address or null', description: 'the source address for puppet connections, or null', examples: ['192.0.2.10'] },
        }),
        limits: map('connection limits', '{ lines_per_second: 0.5, burst: 5 }', {
          lines_per_second: { type: 'number', exclusiveMinimum: 0, title: 'a rate per second', description: 'a number above 0, e.g. 0.5 for one line every two seconds', examples: [0.5] },
          burst: int('a number of lines', 1, null, 5),
          connect_concurrency: int('a number of connections', 1, null, 2),
          connect_interval_ms: ms(500),
          reconnect_initial_ms: ms(2000, 1),
          reconnect_max_ms: ms(300000, 1),
          reconnect_max_attempts: int('a number of attempts (0 for no limit)', 0, null, 0),
          registration_timeout_ms: ms(30000, 1000),
          max_lines_per_message: int('a number of lines', 1, null, 30),
        }),
        quit_debounce: map('netsplit debounce settings', '{ delay_ms: 300000 }', {
          delay_ms: ms(300000),
          burst_threshold: int('a number of quits', 1, null, 10),
          burst_window_ms: ms(5000, 1),
        }),
        mappings: list(
          'a list of { channel, room } maps',
          ['{ channel: "#patchbay", room: "#patchbay:example.org" }'],
          map('a channel mapping', '{ channel: "#patchbay", room: "#patchbay:example.org" }', {
            channel: text('an IRC channel name', '#patchbay', { pattern: '^[#&+!][^\\s,:\\x07]{1,199}$', description: 'a channel name starting with #, &, + or !, without spaces, commas or colons' }),
            room: text('a room id or alias', '#patchbay:example.org', { pattern: '^[!#][^:]+:.+$', description: 'a room id (!abc:example.org) or alias (#room:example.org)' }),
            key: text('a channel key', '${IRC_CHANNEL_KEY}'),
          }, { required: ['channel', 'room'] }),
        ),
        portals: map('portal settings', '{ enabled: true, allow: ["*"] }', {
          enabled: bool(true),
          allow: list('a list of channel globs', ['*'], text('a channel glob', '#matrix*')),
          deny: list('a list of channel globs', ['#ops*'], text('a channel glob', '#ops*')),
        }),
        membership: map('membership settings', '{ sync_names: true }', { sync_names: bool(true) }),
        delay_notice_ms: ms(20000),
        echo_message: bool(true),
      }, { required: ['host'] }),
    },
    provisioning: map('provisioning API settings', '{ enabled: true, shared_secret: "${IRC_PROVISIONING_SECRET}" }', {
      enabled: bool(false),
      shared_secret: {
        type: ['string', 'null'],
        minLength: 16,
        title: 'a shared secret of at least 16 characters, or null',
        description: 'a secret of at least 16 characters that admin tools send as Authorization: Bearer <secret>, or null to accept only Matrix OpenID tokens',
        examples: ['${IRC_PROVISIONING_SECRET}'],
      },
    }),
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
