// The email bridge's config section, `bridges.email`: its JSON Schema (validated once at startup, defaults
// filled in by the host) and the settings the bridge works from. Secrets come from the environment through
// the config's `${VAR}` substitution.
import type { JsonSchema } from 'patchbay-matrix/plugin';

export type SenderPolicy = 'reject' | 'warn' | 'off';

export interface EmailConfig {
  /** Mail for these domains is accepted; nothing else is (never an open relay). */
  domains: string[];
  /** The name the SMTP server greets with and outbound mail's Message-IDs carry. */
  hostname: string | null;
  smtp: {
    bind: string;
    port: number;
    /** PEM files of the operator's certificate: STARTTLS is offered only with them. */
    tls: { cert_file: string; key_file: string } | null;
    max_message_bytes: number;
    max_recipients: number;
    max_clients: number;
    /** Per client address: messages a minute, and a burst. */
    rate_limit: { messages_per_minute: number; burst: number; connections_per_minute: number };
    socket_timeout_ms: number;
  };
  addresses: {
    /** `auto`: `<localpart>@<domain>` reaches `@<localpart>:<server>` for every existing user; `listed`: only `map` and claimed ones. */
    users: 'auto' | 'listed';
    /** Fixed addresses: `alice@bridge.example: '@alice:example.org'`. */
    map: Record<string, string>;
    /** Local part of a room's address before the `+`: `room+dev@bridge.example`. */
    room_prefix: string;
    /** Local part of the VERP return path before the `+`: `bounces+<id>@bridge.example`. */
    bounce_prefix: string;
  };
  /** One room per (Matrix user, correspondent), threads as Matrix threads; or one room per thread. */
  conversations: 'per_correspondent' | 'per_thread';
  content: { strip_quotes: boolean; attachments: boolean; inline_images: boolean };
  sender_checks: {
    default: SenderPolicy;
    /** Per sender domain (the From: domain), over the default. */
    domains: Record<string, SenderPolicy>;
  };
  outbound: {
    /** Through a relay (host, port, TLS, auth), or null for direct delivery to the recipient's MX. */
    relay: { host: string; port: number; secure: boolean; require_tls: boolean; reject_unauthorized: boolean; user: string | null; password: string | null } | null;
    /** The port direct MX delivery connects to (25 on the Internet). */
    mx_port: number;
    dkim: { selector: string; private_key_file: string; domain: string | null } | null;
    retry: { initial_ms: number; max_ms: number; give_up_after_hours: number };
    timeout_ms: number;
  };
}

const int = (minimum: number, maximum: number, fallback: number, title: string): JsonSchema => ({
  type: 'integer', minimum, maximum, default: fallback, title, description: `an integer ${minimum}-${maximum}`, examples: [fallback],
});
const bool = (fallback: boolean, title: string): JsonSchema => ({ type: 'boolean', default: fallback, title, description: 'true or false', examples: [fallback] });
const policy: JsonSchema = { enum: ['reject', 'warn', 'off'], title: 'a sender-check policy', description: 'reject, warn or off', examples: ['warn'] };
const DOMAIN = '^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$|^localhost$';

export const emailConfigSchema: JsonSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  additionalProperties: false,
  required: ['domains'],
  properties: {
    domains: {
      type: 'array', minItems: 1, uniqueItems: true,
      items: { type: 'string', pattern: DOMAIN, title: 'a mail domain', description: 'a lower-case domain name', examples: ['bridge.example.org'] },
      title: 'a list of mail domains', description: 'the domains whose mail this bridge receives (their MX points here)', examples: [['bridge.example.org']],
    },
    hostname: { type: ['string', 'null'], default: null, title: 'a host name', description: 'the SMTP greeting name; default the first domain', examples: ['mx.bridge.example.org'] },
    smtp: {
      type: 'object', additionalProperties: false, default: {},
      properties: {
        bind: { type: 'string', default: '127.0.0.1', title: 'an IP address', description: '0.0.0.0 to receive from the Internet', examples: ['0.0.0.0'] },
        port: int(0, 65535, 2525, 'a TCP port'),
        tls: {
          type: ['object', 'null'], default: null, additionalProperties: false, required: ['cert_file', 'key_file'],
          properties: {
            cert_file: { type: 'string', minLength: 1, title: 'a PEM file', description: 'the certificate chain', examples: ['/etc/letsencrypt/live/mx.example.org/fullchain.pem'] },
            key_file: { type: 'string', minLength: 1, title: 'a PEM file', description: 'its private key', examples: ['/etc/letsencrypt/live/mx.example.org/privkey.pem'] },
          },
          title: 'the certificate for STARTTLS, or null', description: '{ cert_file, key_file }; without it STARTTLS is not offered', examples: [null],
        },
        max_message_bytes: int(1024, 1073741824, 26214400, 'a size in bytes'),
        max_recipients: int(1, 10000, 100, 'a number of recipients'),
        max_clients: int(1, 100000, 200, 'a number of connections'),
        rate_limit: {
          type: 'object', additionalProperties: false, default: {},
          properties: {
            messages_per_minute: int(1, 1000000, 120, 'messages a minute per client'),
            burst: int(1, 1000000, 60, 'a burst of messages per client'),
            connections_per_minute: int(1, 1000000, 120, 'connections a minute per client'),
          },
        },
        socket_timeout_ms: int(1000, 3600000, 60000, 'a time in milliseconds'),
      },
    },
    addresses: {
      type: 'object', additionalProperties: false, default: {},
      properties: {
        users: { enum: ['auto', 'listed'], default: 'auto', title: 'auto or listed', description: 'auto: <localpart>@<domain> reaches @<localpart>:<server>', examples: ['auto'] },
        map: {
          type: 'object', default: {},
          propertyNames: { pattern: '^[^@\\s]+@[^@\\s]+$' },
          additionalProperties: { type: 'string', pattern: '^@[^:]+:.+$', title: 'a Matrix user id', description: '@localpart:server', examples: ['@alice:example.org'] },
          title: 'fixed addresses', description: 'address: Matrix user id', examples: [{ 'sales@bridge.example.org': '@alice:example.org' }],
        },
        room_prefix: { type: 'string', pattern: '^[a-z0-9._-]{1,32}$', default: 'room', title: 'a local part', description: 'rooms get <room_prefix>+<name>@<domain>', examples: ['room'] },
        bounce_prefix: { type: 'string', pattern: '^[a-z0-9._-]{1,32}$', default: 'bounces', title: 'a local part', description: 'bounces come back to <bounce_prefix>+<id>@<domain>', examples: ['bounces'] },
      },
    },
    conversations: { enum: ['per_correspondent', 'per_thread'], default: 'per_correspondent', title: 'per_correspondent or per_thread', description: 'one room per correspondent (threads as Matrix threads), or one room per email thread', examples: ['per_correspondent'] },
    content: {
      type: 'object', additionalProperties: false, default: {},
      properties: { strip_quotes: bool(true, 'strip quoted replies and signatures'), attachments: bool(true, 'bridge attachments'), inline_images: bool(true, 'show inline images') },
    },
    sender_checks: {
      type: 'object', additionalProperties: false, default: {},
      properties: {
        default: { ...policy, default: 'warn' },
        domains: { type: 'object', default: {}, additionalProperties: policy, title: 'policies by sender domain', description: 'domain: reject | warn | off', examples: [{ 'bank.example': 'reject' }] },
      },
    },
    outbound: {
      type: 'object', additionalProperties: false, default: {},
      properties: {
        relay: {
          type: ['object', 'null'], default: null, additionalProperties: false, required: ['host'],
          properties: {
            host: { type: 'string', minLength: 1, title: 'a host name', description: 'the relay (smarthost)', examples: ['smtp.example.org'] },
            port: int(1, 65535, 587, 'a TCP port'),
            secure: bool(false, 'TLS from the first byte (port 465)'),
            require_tls: bool(true, 'refuse to send without STARTTLS'),
            reject_unauthorized: bool(true, 'check the relay\'s certificate'),
            user: { type: ['string', 'null'], default: null, title: 'a user name or null', description: 'SMTP AUTH user', examples: ['${SMTP_RELAY_USER}'] },
            password: { type: ['string', 'null'], default: null, title: 'a password or null', description: 'from the environment', examples: ['${SMTP_RELAY_PASSWORD}'] },
          },
          title: 'a relay, or null for direct MX delivery', description: '{ host, port, secure, require_tls, user, password }', examples: [null],
        },
        mx_port: int(1, 65535, 25, 'a TCP port'),
        dkim: {
          type: ['object', 'null'], default: null, additionalProperties: false, required: ['selector', 'private_key_file'],
          properties: {
            selector: { type: 'string', pattern: '^[A-Za-z0-9._-]+$', title: 'a DKIM selector', description: 'the <selector>._domainkey TXT record', examples: ['patchbay'] },
            private_key_file: { type: 'string', minLength: 1, title: 'a PEM file', description: 'an RSA or ed25519 private key', examples: ['/etc/patchbay/dkim.pem'] },
            domain: { type: ['string', 'null'], default: null, title: 'a domain or null', description: 'the signing domain; default the sender\'s', examples: [null] },
          },
          title: 'DKIM signing, or null', description: '{ selector, private_key_file }', examples: [null],
        },
        retry: {
          type: 'object', additionalProperties: false, default: {},
          properties: {
            initial_ms: int(100, 86400000, 60000, 'a time in milliseconds'),
            max_ms: int(100, 86400000, 3600000, 'a time in milliseconds'),
            give_up_after_hours: { type: 'number', exclusiveMinimum: 0, default: 48, title: 'hours', description: 'how long a mail is retried', examples: [48] },
          },
        },
        timeout_ms: int(1000, 600000, 60000, 'a time in milliseconds'),
      },
    },
  },
};
