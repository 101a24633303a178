// The one JSON schema of the configuration file, checked by Ajv once at startup. Every leaf carries
// `title` (what the value is: "a port number"), `description` (what to set instead: "an integer
// 1-65535") and `examples`; error messages are built from these three, so a new key needs them too.
import type { SchemaObject } from 'ajv';
import type {
  ConnectionsConfig,
  E2eeConfig,
  FederationConfig,
  FederationSendingConfig, FederationListenerConfig,
  HomeserverConfig,
  HomeserverMetricsConfig,
  PatchbayConfig,
  PushConfig,
  RateLimitsConfig,
  TurnConfig,
} from './PatchbayConfig.js';
import { requiredSection } from './SchemaType.js';

/** Keeps each `required` list in step with the TypeScript type (a key missing from the type fails tsc). */
const keys = <T>(...names: Array<keyof T & string>): string[] => names;

/**
 * The most ordered queues rooms may be hashed onto (host.partitions, host.outbox_partitions). Each is a
 * BullMQ queue with a worker and a blocking Redis connection per process that consumes it, so a few
 * hundred is already a lot; the partitioner enforces the same bound.
 */
export const MAX_PARTITIONS = 1024;

const HTTP_URL = '^https?://[^\\s/]+';
const SERVER_NAME = '^(\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?$';

const bool = (example: boolean) =>
  ({ type: 'boolean', title: 'true or false', description: 'true or false', examples: [example] }) as const;

const port = (example: number) =>
  ({
    type: 'integer',
    minimum: 0,
    maximum: 65535,
    title: 'a port number',
    description: 'an integer 1-65535 (or 0 for any free port)',
    examples: [example],
  }) as const;

const count = (title: string, min: number, max: number, example: number) =>
  ({
    type: 'integer',
    minimum: min,
    maximum: max,
    title,
    description: `an integer ${min}-${max}`,
    examples: [example],
  }) as const;

const text = (title: string, example: string) =>
  ({ type: 'string', minLength: 1, title, description: title, examples: [example] }) as const;

const optionalText = (title: string, example: string) =>
  ({
    type: ['string', 'null'],
    minLength: 1,
    title: `${title} or null`,
    description: `${title}, or null`,
    examples: [example],
  }) as const;

const httpUrl = (example: string) =>
  ({
    type: ['string', 'null'],
    pattern: HTTP_URL,
    title: 'an http(s) URL or null',
    description: 'a URL starting with http:// or https://, or null for the default',
    examples: [example],
  }) as const;

const section = (name: string, example: string) => ({
  type: 'object' as const,
  additionalProperties: false,
  title: `a map of ${name} settings`,
  description: `a map of keys indented under ${name}:`,
  examples: [example],
});

/** One token bucket of homeserver.rate_limits. */
const rateLimit = (name: string, perSecond: number, burst: number) => ({
  ...section(`homeserver.rate_limits.${name}`, `{ per_second: ${perSecond}, burst: ${burst} }`),
  required: ['per_second', 'burst'],
  properties: {
    per_second: {
      type: 'number',
      exclusiveMinimum: 0,
      maximum: 1000000,
      title: 'a rate per second',
      description: 'a number above 0, e.g. 0.5 for one every two seconds',
      examples: [perSecond],
    },
    burst: count('a number of actions', 1, 1000000, burst),
  },
});

/** A federation peer's address: `host:port` (TLS), or `http://host:port` (plain HTTP, for tests and private networks). */
const PEER_ADDRESS = '^(http://)?(\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9.-]+):[0-9]{1,5}$';

const serverName = (title: string, description: string) =>
  ({ type: 'string', pattern: SERVER_NAME, title, description, examples: ['example.org'] }) as const;

/** A list of server-name globs (`*`, `?`), matched without the port and ignoring case. */
const serverGlobs = (example: string) =>
  ({
    type: 'array',
    title: 'a list of server name patterns',
    description: 'a list of server names, where * matches any characters and ? one',
    examples: [example],
    items: {
      type: 'string',
      minLength: 1,
      maxLength: 255,
      title: 'a server name pattern',
      description: 'a server name, where * matches any characters and ? one',
      examples: ['*.example.org'],
    },
  }) as const;

/** homeserver.federation: keys, discovery and peers (see docs/federation.md). */
const federationSchema = {
  ...section('homeserver.federation', '{ enabled: true }'),
  required: keys<FederationConfig>(
    'enabled', 'signing_key', 'key_validity_ms', 'well_known_server', 'peers', 'trusted_key_servers',
    'allow_private_addresses', 'servers', 'max_body_bytes', 'remote_media_max_bytes', 'query_timeout_ms', 'sending', 'listener',
  ),
  properties: {
    enabled: bool(false),
    signing_key: text('a file path', 'federation_signing.key'),
    key_validity_ms: count('a time in milliseconds', 3600000, 604800000, 86400000),
    well_known_server: {
      type: ['string', 'null'],
      pattern: SERVER_NAME,
      title: 'a host name with an optional :port, or null',
      description: 'the host:port other servers reach this one at (e.g. matrix.example.org:443), or null to derive it from public_base_url',
      examples: ['matrix.example.org:443'],
    },
    peers: {
      type: 'object',
      title: 'a map of server names to addresses',
      description: 'a map of server name: host:port (TLS) or http://host:port (plain HTTP)',
      examples: ['{ b.test: "http://127.0.0.1:8009" }'],
      propertyNames: {
        pattern: SERVER_NAME,
        title: 'a server name',
        description: 'a host name with an optional :port, as in user IDs',
        examples: ['b.example.org'],
      },
      additionalProperties: {
        type: 'string',
        pattern: PEER_ADDRESS,
        title: 'a peer address',
        description: 'host:port for TLS, or http://host:port for plain HTTP (the port is required)',
        examples: ['matrix.b.example.org:8448'],
      },
    },
    allow_private_addresses: {
      type: 'array',
      title: 'a list of server names',
      description: 'a list of server names whose addresses may be private (loopback, LAN, link-local), e.g. [ matrix.internal.example ]',
      examples: ['[ matrix.internal.example ]'],
      items: serverName('a server name', 'a host name with an optional :port, as in user IDs'),
    },
    servers: {
      ...section('homeserver.federation.servers', '{ allow: ["*"], deny: ["evil.example", "*.evil.example"] }'),
      required: ['allow', 'deny'],
      properties: {
        allow: serverGlobs('["*"]'),
        deny: serverGlobs('["*.evil.example"]'),
      },
    },
    max_body_bytes: count('a number of bytes', 1024, 104857600, 4194304),
    remote_media_max_bytes: count('a number of bytes', 1024, 1073741824, 10485760),
    query_timeout_ms: count('a time in milliseconds', 100, 120000, 10000),
    trusted_key_servers: {
      type: 'array',
      title: 'a list of notary servers',
      description: 'a list of { server_name, verify_keys } entries (verify_keys optional)',
      examples: ['[ { server_name: matrix.org } ]'],
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['server_name'],
        title: 'a notary server',
        description: 'a map with server_name and optionally verify_keys: { "ed25519:<id>": "<base64 key>" }',
        examples: ['{ server_name: matrix.org }'],
        properties: {
          server_name: serverName('a server name', 'the notary\'s server name, e.g. matrix.org'),
          verify_keys: {
            type: 'object',
            title: 'a map of key ids to public keys',
            description: 'a map of "ed25519:<id>": "<unpadded Base64 of 32 bytes>"',
            examples: ['{ "ed25519:auto": "Noi6WqcDj0QmPxCNQqgezwTlBKrfqehY1u2FyWP9uYw" }'],
            propertyNames: {
              pattern: '^ed25519:[A-Za-z0-9_]+$',
              title: 'an ed25519 key id',
              description: 'ed25519: followed by letters, digits or _',
              examples: ['ed25519:auto'],
            },
            additionalProperties: {
              type: 'string',
              pattern: '^[A-Za-z0-9+/]{43}$',
              title: 'an ed25519 public key',
              description: '43 characters of unpadded Base64 (32 bytes)',
              examples: ['Noi6WqcDj0QmPxCNQqgezwTlBKrfqehY1u2FyWP9uYw'],
            },
          },
        },
      },
    },
    sending: {
      ...section('homeserver.federation.sending', '{ retry: { initial_ms: 2000, max_ms: 600000 }, max_queued_pdus: 10000 }'),
      required: keys<FederationSendingConfig>('retry', 'max_queued_pdus', 'max_queued_edus'),
      properties: {
        retry: {
          ...section('homeserver.federation.sending.retry', '{ initial_ms: 2000, max_ms: 600000 }'),
          required: ['initial_ms', 'max_ms'],
          properties: {
            initial_ms: count('a duration in milliseconds', 100, 86400000, 2000),
            max_ms: count('a duration in milliseconds', 100, 86400000, 600000),
          },
        },
        max_queued_pdus: count('a number of PDUs per destination', 100, 10000000, 10000),
        max_queued_edus: count('a number of EDUs per destination', 100, 1000000, 1000),
      },
    },
    listener: {
      ...section('homeserver.federation.listener', '{ port: 8448, bind: 0.0.0.0 }'),
      required: keys<FederationListenerConfig>('port', 'bind'),
      properties: {
        port: {
          ...port(8448),
          type: ['integer', 'null'],
          title: 'a port number or null',
          description: 'an integer 1-65535 (or 0 for any free port) for a listener of its own, or null to serve federation on homeserver.port',
        },
        bind: optionalText('an IP address or host name to listen on', '0.0.0.0'),
      },
    },
  },
};

const PROXY = '^(loopback|linklocal|uniquelocal|[0-9]{1,3}(\\.[0-9]{1,3}){3}(/[0-9]{1,2})?|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*(/[0-9]{1,3})?)$';

const bridgeSchema: SchemaObject = {
  type: 'object',
  title: 'a map of bridge settings',
  description: 'a map with at least "enabled: true" or "enabled: false"',
  examples: ['{ enabled: true }'],
  // Keys other than these belong to the plugin, which validates them itself.
  additionalProperties: true,
  required: ['enabled'],
  properties: {
    enabled: bool(true),
    module: {
      type: ['string', 'null'],
      minLength: 1,
      title: 'a package name or a path',
      description: 'the npm package name or the path of the plugin module',
      examples: ['patchbay-bridge-xmpp'],
    },
  },
};

/**
 * The host section. A host setting is declared here once: HostConfig is read off this schema
 * (SchemaType), its default sits in config/defaults.yaml, and the pipeline and plugin host read it from
 * the `host` settings they are given.
 */
export const hostSchema = requiredSection(section('host', '{ port: 9000 }'), {
  bind: text('an IP address or host name to listen on', '127.0.0.1'),
  port: port(9000),
  url: httpUrl('http://127.0.0.1:9000'),
  homeserver_url: httpUrl('https://matrix.example.org'),
  server_name: {
    type: ['string', 'null'],
    pattern: SERVER_NAME,
    title: 'a server name or null',
    description: 'the homeserver\'s server name, or null for homeserver.server_name',
    examples: ['example.org'],
  },
  registration: text('a file path', 'registration.yaml'),
  partitions: count('a number of partitions', 1, MAX_PARTITIONS, 16),
  outbox_partitions: count('a number of partitions', 1, MAX_PARTITIONS, 16),
  workers: count('0 (ingest only) or 1 (handle events here)', 0, 1, 1),
  max_body_bytes: count('a size in bytes', 1024, 1073741824, 10485760),
  handler_attempts: count('a number of tries', 1, 100, 5),
  retry_later_budget_ms: count('a time in milliseconds', 0, 86400000, 300000),
  job_takeover_ms: count('a time in milliseconds', 5000, 600000, 30000),
  metrics: bool(true),
  status_token: {
    type: ['string', 'null'],
    minLength: 16,
    pattern: '^[\\x21-\\x7e]+$',
    title: 'a token of 16 or more printable characters (no spaces), or null',
    description: 'the status page\'s token (16 or more printable characters, no spaces), or null',
    examples: ['${PATCHBAY_STATUS_TOKEN}'],
  } as const,
});

export const configSchema: SchemaObject = {
  type: 'object',
  title: 'a map of settings',
  description: 'a YAML map of the keys documented in config/defaults.yaml',
  examples: ['{ homeserver: { port: 8008 } }'],
  additionalProperties: false,
  required: keys<PatchbayConfig>('data_dir', 'logging', 'homeserver', 'redis', 'host', 'bridges'),
  properties: {
    data_dir: text('a folder path', './data'),
    logging: {
      ...section('logging', '{ level: info }'),
      required: ['level', 'format', 'file'],
      properties: {
        level: {
          type: 'string',
          enum: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'],
          title: 'a log level',
          description: 'one of trace, debug, info, warn, error, fatal, silent',
          examples: ['info'],
        },
        format: {
          type: 'string',
          enum: ['auto', 'pretty', 'json'],
          title: 'a log format',
          description: 'auto (pretty on a terminal, JSON otherwise), pretty or json',
          examples: ['auto'],
        },
        file: optionalText('a file path', '/var/log/patchbay/patchbay.log'),
      },
    },
    homeserver: {
      ...section('homeserver', '{ server_name: example.org, port: 8008 }'),
      required: keys<HomeserverConfig>(
        'enabled', 'server_name', 'bind', 'port', 'public_base_url', 'storage', 'database', 'media_dir',
        'max_body_bytes', 'max_upload_bytes', 'registration_enabled', 'app_service_config_files',
        'appservice_retry', 'turn', 'trusted_proxies', 'connections', 'rate_limits', 'e2ee', 'push', 'presence', 'federation', 'metrics',
      ),
      properties: {
        enabled: bool(true),
        server_name: {
          type: 'string',
          pattern: SERVER_NAME,
          title: 'a server name',
          description: 'a host name with an optional :port, as in user IDs (@alice:<server_name>)',
          examples: ['example.org'],
        },
        bind: text('an IP address or host name to listen on', '127.0.0.1'),
        port: port(8008),
        public_base_url: httpUrl('https://matrix.example.org'),
        storage: {
          type: 'string',
          enum: ['sqlite', 'memory'],
          title: 'a storage kind',
          description: 'sqlite or memory',
          examples: ['sqlite'],
        },
        database: text('a file path', 'homeserver.sqlite'),
        media_dir: text('a folder path', 'media'),
        max_body_bytes: count('a size in bytes', 1024, 1073741824, 1048576),
        max_upload_bytes: count('a size in bytes', 1024, 17179869184, 52428800),
        registration_enabled: bool(true),
        app_service_config_files: {
          type: 'array',
          title: 'a list of file paths',
          description: 'a list of registration YAML files',
          examples: ['[ ./data/registration.yaml ]'],
          items: text('a file path', './data/registration.yaml'),
        },
        appservice_retry: {
          ...section('homeserver.appservice_retry', '{ initial_ms: 2000, max_ms: 512000 }'),
          required: ['initial_ms', 'max_ms'],
          properties: {
            initial_ms: count('a duration in milliseconds', 1, 86400000, 2000),
            max_ms: count('a duration in milliseconds', 1, 86400000, 512000),
          },
        },
        turn: {
          ...section('homeserver.turn', '{ uris: [ "turn:turn.example.org:3478" ], shared_secret: "${TURN_SECRET}" }'),
          required: keys<TurnConfig>('uris', 'username', 'password', 'shared_secret', 'ttl_seconds'),
          properties: {
            uris: {
              type: 'array',
              title: 'a list of TURN URIs',
              description: 'a list of turn:, turns: or stun: URIs',
              examples: ['[ "turn:turn.example.org:3478?transport=udp" ]'],
              items: {
                type: 'string',
                pattern: '^(turns?|stun):',
                title: 'a TURN URI',
                description: 'a URI starting with turn:, turns: or stun:',
                examples: ['turn:turn.example.org:3478?transport=udp'],
              },
            },
            username: optionalText('a user name', 'patchbay'),
            password: optionalText('a password', '${TURN_PASSWORD}'),
            shared_secret: optionalText('a shared secret', '${TURN_SECRET}'),
            ttl_seconds: count('a duration in seconds', 60, 604800, 86400),
          },
        },
        trusted_proxies: {
          type: 'array',
          title: 'a list of proxy addresses',
          description: 'a list of IP addresses or CIDR ranges (or loopback) of your reverse proxies',
          examples: ['[ 127.0.0.1 ]'],
          items: {
            type: 'string',
            pattern: PROXY,
            title: 'an IP address, a CIDR range or loopback',
            description: 'an IP address (127.0.0.1, ::1), a CIDR range (10.0.0.0/8) or one of loopback, linklocal, uniquelocal',
            examples: ['127.0.0.1'],
          },
        },
        connections: {
          ...section('homeserver.connections', '{ headers_timeout_ms: 20000 }'),
          required: keys<ConnectionsConfig>(
            'headers_timeout_ms', 'body_timeout_ms', 'body_min_bytes_per_second', 'idle_timeout_ms', 'max_per_ip',
          ),
          properties: {
            headers_timeout_ms: count('a time in milliseconds', 100, 600000, 20000),
            body_timeout_ms: count('a time in milliseconds', 100, 600000, 20000),
            body_min_bytes_per_second: count('a rate in bytes per second', 1, 1073741824, 1000),
            idle_timeout_ms: count('a time in milliseconds', 100, 600000, 65000),
            max_per_ip: count('a number of connections', 1, 1000000, 256),
          },
        },
        rate_limits: {
          ...section('homeserver.rate_limits', '{ enabled: true }'),
          required: keys<RateLimitsConfig>(
            'enabled', 'sends_per_user', 'room_creation_per_user', 'joins_per_user', 'invites_per_user',
            'registration_per_ip', 'login_per_ip', 'failed_login_per_account', 'federation_per_origin',
          ),
          properties: {
            enabled: bool(true),
            sends_per_user: rateLimit('sends_per_user', 10, 100),
            room_creation_per_user: rateLimit('room_creation_per_user', 0.2, 20),
            joins_per_user: rateLimit('joins_per_user', 1, 50),
            invites_per_user: rateLimit('invites_per_user', 1, 50),
            registration_per_ip: rateLimit('registration_per_ip', 0.2, 30),
            login_per_ip: rateLimit('login_per_ip', 1, 30),
            failed_login_per_account: rateLimit('failed_login_per_account', 0.05, 10),
            federation_per_origin: rateLimit('federation_per_origin', 50, 300),
          },
        },
        e2ee: {
          ...section('homeserver.e2ee', '{ default: false }'),
          required: keys<E2eeConfig>('default', 'force_disable'),
          properties: {
            default: bool(true),
            force_disable: bool(false),
          },
        },
        push: {
          ...section('homeserver.push', '{ allow_private_gateways: false }'),
          required: keys<PushConfig>('allow_private_gateways', 'retry'),
          properties: {
            allow_private_gateways: bool(false),
            retry: {
              ...section('homeserver.push.retry', '{ initial_ms: 1000, max_ms: 600000 }'),
              required: ['initial_ms', 'max_ms'],
              properties: {
                initial_ms: count('a duration in milliseconds', 1, 86400000, 1000),
                max_ms: count('a duration in milliseconds', 1, 86400000, 600000),
              },
            },
          },
        },
        presence: {
          ...section('homeserver.presence', '{ idle_timeout_ms: 300000, offline_timeout_ms: 30000 }'),
          required: ['idle_timeout_ms', 'offline_timeout_ms'],
          properties: {
            idle_timeout_ms: count('a duration in milliseconds', 1000, 86400000, 300000),
            offline_timeout_ms: count('a duration in milliseconds', 1000, 86400000, 30000),
          },
        },
        federation: federationSchema,
        metrics: {
          ...section('homeserver.metrics', '{ enabled: true, bind: 127.0.0.1, port: 8009 }'),
          required: keys<HomeserverMetricsConfig>('enabled', 'bind', 'port'),
          properties: {
            enabled: bool(true),
            bind: text('an IP address or host name to listen on', '127.0.0.1'),
            port: { ...port(8009), type: ['integer', 'null'], title: 'a port number or null', description: 'an integer 1-65535 (or 0 for any free port), or null for homeserver.port + 1' },
          },
        },
      },
    },
    redis: {
      ...section('redis', '{ url: "redis://127.0.0.1:6379" }'),
      required: ['url'],
      properties: {
        url: {
          type: ['string', 'null'],
          pattern: '^(rediss?|unix)://',
          title: 'a Redis URL or null',
          description: 'a redis://, rediss:// or unix:// URL, or null to run Redis under data_dir',
          examples: ['redis://127.0.0.1:6379'],
        },
      },
    },
    host: hostSchema,
    bridges: {
      type: 'object',
      title: 'a map of bridges by name',
      description: 'a map from bridge name to its settings',
      examples: ['{ irc: { enabled: true } }'],
      propertyNames: {
        type: 'string',
        pattern: '^[a-z0-9][a-z0-9_-]*$',
        title: 'a bridge name',
        description: 'lowercase letters, digits, _ and -',
        examples: ['irc'],
      },
      required: [],
      additionalProperties: bridgeSchema,
    },
  },
};
