// The SIP bridge's config section (`bridges.sip`): its JSON Schema, validated by the host at startup with
// the defaults filled in, and the settings the bridge runs on (lines with their passwords read from the
// environment, policies with the server name put into their defaults).
import type { JsonSchema } from 'patchbay-matrix/plugin';
import type { LineSettings } from './lines/SipLine.js';

export interface SipPluginConfig {
  sbc: 'managed' | 'external';
  managed_sbc: ManagedSbcConfig;
  external_sbc: { url: string | null };
  default_region: string;
  lines: Record<string, LineConfig>;
  outbound: {
    line: string | null;
    allow: Array<{ users: string[]; numbers: string[] }> | null;
    deny: string[];
    calls_per_minute: number;
    max_concurrent_calls: number;
  };
  inbound: { block: string[] };
  calls: { ring_timeout_s: number; candidate_wait_ms: number; negotiate_timeout_s: number; max_call_hours: number };
  texts: { enabled: boolean; max_part_bytes: number };
  accounts: { enabled: boolean; users: string[] | null };
  admins: string[];
  limits: { max_message_bytes: number; max_header_bytes: number; max_sdp_bytes: number };
}

export interface ManagedSbcConfig {
  sip_address: string;
  sip_port: number;
  domain: string | null;
  media_address: string;
  media_advertise: string | null;
  rtp_port_min: number;
  rtp_port_max: number;
  ws_port: number;
  kamailio: string;
  rtpengine: string;
}

export interface LineConfig {
  aor: string;
  registrar: string | null;
  register: boolean;
  register_expires_s: number;
  auth_username: string | null;
  password_env: string | null;
  outbound_proxy: string | null;
  display_name: string | null;
  number_format: 'e164' | 'e164_no_plus' | 'national';
  routes: Record<string, string[]>;
}

const str = (title: string, description: string, examples: unknown[], extra: JsonSchema = {}): JsonSchema => ({ type: 'string', title, description, examples, ...extra });
const nullableStr = (title: string, description: string, examples: unknown[]): JsonSchema => ({ type: ['string', 'null'], title, description, examples, default: null });
const int = (title: string, description: string, min: number, max: number, def: number): JsonSchema => ({
  type: 'integer', minimum: min, maximum: max, default: def, title, description, examples: [def],
});
const list = (title: string, description: string, examples: unknown[], def: string[] | null): JsonSchema => ({
  type: def === null ? ['array', 'null'] : 'array', items: { type: 'string', minLength: 1 }, default: def, title, description, examples,
});
const MATRIX_USER = '^@[^:\\s]+:[^\\s]+$';

const lineSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['aor'],
  title: 'a SIP line',
  description: 'a trunk or account: aor, and optionally registrar, password_env, routes',
  properties: {
    aor: str('a SIP address of record', "the line's own SIP URI: what it registers and calls from", ['sip:+14155550123@sip.carrier.example'], { pattern: '^sips?:[^\\s<>"]+@[^\\s<>"]+$' }),
    registrar: nullableStr('a SIP URI', 'where the line registers (default: the domain of aor)', ['sip:sip.carrier.example']),
    register: { type: 'boolean', default: true, title: 'true or false', description: 'false for a trunk that sends calls without a registration', examples: [true] },
    register_expires_s: int('seconds', 'how long a registration lasts before it is refreshed (at about 90%)', 60, 86400, 600),
    auth_username: nullableStr('a user name', 'the digest user name (default: the user part of aor)', ['4155550123']),
    password_env: nullableStr('an environment variable name', 'the environment variable that holds the digest password (never the password itself)', ['SIP_TRUNK_PASSWORD']),
    outbound_proxy: nullableStr('a SIP URI', 'a proxy every request of this line is routed through (a Route header)', ['sip:edge.carrier.example;lr']),
    display_name: nullableStr('a display name', 'the name callers see for calls from this line', ['Example Ltd']),
    number_format: { enum: ['e164', 'e164_no_plus', 'national'], default: 'e164', title: 'e164, e164_no_plus or national', description: 'how numbers are written in the SIP URIs the line dials', examples: ['e164'] },
    routes: {
      type: 'object',
      default: {},
      title: 'a map of numbers to Matrix users',
      description: 'which Matrix users ring for a called number (E.164, or * for any other)',
      examples: [{ '+14155550123': ['@alice:example.org'], '*': ['@operator:example.org'] }],
      propertyNames: { pattern: '^(\\*|\\+?[0-9]{2,15}|[^\\s@]+@[^\\s]+)$' },
      additionalProperties: { type: 'array', items: { type: 'string', pattern: MATRIX_USER }, minItems: 1 },
    },
  },
};

export const sipConfigSchema: JsonSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  additionalProperties: false,
  properties: {
    sbc: {
      enum: ['managed', 'external'],
      default: 'managed',
      title: 'managed or external',
      description: 'managed: Patchbay runs Kamailio and rtpengine under data_dir; external: your own WebSocket-capable SBC or PBX (external_sbc.url)',
      examples: ['managed'],
    },
    managed_sbc: {
      type: 'object',
      additionalProperties: false,
      default: {},
      title: 'the managed SBC',
      description: 'addresses and ports of the Kamailio and rtpengine Patchbay runs',
      properties: {
        sip_address: str('an IP address', 'where Kamailio takes SIP over UDP and TCP from phones and carriers', ['127.0.0.1'], { default: '127.0.0.1' }),
        sip_port: int('a port', 'the SIP port (UDP and TCP)', 1, 65535, 5060),
        domain: nullableStr('a SIP domain', 'the domain of its registrar (default: sip_address)', ['sip.example.org']),
        media_address: str('an IP address', 'where rtpengine takes media', ['127.0.0.1'], { default: '127.0.0.1' }),
        media_advertise: nullableStr('an IP address', 'the address rtpengine puts in SDP when media_address is behind NAT', ['203.0.113.7']),
        rtp_port_min: int('a port', 'the lowest media port', 1024, 65535, 30000),
        rtp_port_max: int('a port', 'the highest media port (two per call)', 1024, 65535, 30999),
        ws_port: int('a port, or 0', 'the loopback WebSocket port the bridge reaches Kamailio on (0: any free port)', 0, 65535, 0),
        kamailio: str('a program', 'the kamailio binary', ['kamailio'], { default: 'kamailio' }),
        rtpengine: str('a program', 'the rtpengine binary', ['rtpengine'], { default: 'rtpengine' }),
      },
    },
    external_sbc: {
      type: 'object',
      additionalProperties: false,
      default: {},
      title: 'your SBC',
      description: 'with sbc: external, where the bridge connects',
      properties: { url: { ...nullableStr('a ws:// or wss:// URL', 'the SIP-over-WebSocket URL of your SBC or PBX', ['wss://sbc.example.org:8089/ws']), pattern: '^wss?://' } },
    },
    default_region: str('a two-letter country code', 'the country of numbers written without a country code', ['US', 'DE'], { pattern: '^[A-Z]{2}$', default: 'US' }),
    lines: {
      type: 'object',
      default: {},
      title: 'SIP lines by id',
      description: 'trunks and accounts; the id names the line in /health and in rooms',
      examples: [{ trunk: { aor: 'sip:+14155550123@sip.carrier.example', password_env: 'SIP_TRUNK_PASSWORD' } }],
      propertyNames: { pattern: '^[a-z0-9][a-z0-9_-]{0,31}$' },
      additionalProperties: lineSchema,
    },
    outbound: {
      type: 'object',
      additionalProperties: false,
      default: {},
      title: 'outbound call rules',
      description: 'who may call which numbers, and how often',
      properties: {
        line: nullableStr('a line id', 'the line calls and texts leave on when the user has no account of their own (default: the first line)', ['trunk']),
        allow: {
          type: ['array', 'null'],
          default: null,
          title: 'a list of rules',
          description: 'users (globs like @*:example.org) may call numbers (globs like +1*, or national, any); default: this server\'s users, national numbers',
          examples: [[{ users: ['@*:example.org'], numbers: ['national'] }]],
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['users', 'numbers'],
            properties: { users: { type: 'array', items: { type: 'string', minLength: 1 } }, numbers: { type: 'array', items: { type: 'string', minLength: 1 } } },
          },
        },
        deny: list('a list of number globs or kinds', 'numbers nobody may call, whatever allow says: globs, or premium, shared_cost, international', [['premium', '+1900*']], ['premium', 'shared_cost']),
        calls_per_minute: int('a number of calls', 'outbound calls one user may start per minute', 1, 1000, 6),
        max_concurrent_calls: int('a number of calls', 'outbound calls one user may have at once', 1, 100, 2),
      },
    },
    inbound: {
      type: 'object',
      additionalProperties: false,
      default: {},
      title: 'inbound call rules',
      description: 'callers refused (403) before anyone rings',
      properties: { block: list('a list of caller globs', 'caller numbers or SIP addresses to refuse, e.g. +1900*, anonymous*', [['anonymous*']], []) },
    },
    calls: {
      type: 'object',
      additionalProperties: false,
      default: {},
      title: 'call timings',
      description: 'ring, candidate and renegotiation limits',
      properties: {
        ring_timeout_s: int('seconds', 'how long a call rings before it counts as unanswered', 5, 600, 45),
        candidate_wait_ms: int('milliseconds', 'how long an outgoing call waits for the Matrix client\'s ICE candidates before the INVITE leaves', 0, 10000, 2000),
        negotiate_timeout_s: int('seconds', 'how long a hold or resume waits for the other side to agree', 1, 120, 10),
        max_call_hours: int('hours', 'a call is hung up after this long (a forgotten call costs money)', 1, 48, 8),
      },
    },
    texts: {
      type: 'object',
      additionalProperties: false,
      default: {},
      title: 'texts',
      description: 'SIP MESSAGE (SMS through the trunk)',
      properties: {
        enabled: { type: 'boolean', default: true, title: 'true or false', description: 'bridge SIP MESSAGE both ways', examples: [true] },
        max_part_bytes: int('bytes', 'longer texts leave as several MESSAGEs of at most this size', 140, 4000, 1000),
      },
    },
    accounts: {
      type: 'object',
      additionalProperties: false,
      default: {},
      title: 'per-user SIP accounts',
      description: 'whether users may add their own SIP account with !sip login in their admin room',
      properties: {
        enabled: { type: 'boolean', default: true, title: 'true or false', description: 'allow !sip login', examples: [true] },
        users: list('a list of user globs', 'who may add an account (default: this server\'s users)', [['@*:example.org']], null),
      },
    },
    admins: { type: 'array', items: { type: 'string', pattern: MATRIX_USER }, default: [], title: 'a list of Matrix users', description: 'who may assign numbers to users with !sip assign', examples: [['@admin:example.org']] },
    limits: {
      type: 'object',
      additionalProperties: false,
      default: {},
      title: 'size limits',
      description: 'inbound SIP messages larger than these are refused',
      properties: {
        max_message_bytes: int('bytes', 'a whole SIP message', 1024, 1048576, 65535),
        max_header_bytes: int('bytes', 'one header line', 256, 65535, 4096),
        max_sdp_bytes: int('bytes', 'one session description, either way', 512, 262144, 32768),
      },
    },
  },
};

/**
 * The configured lines with their passwords read from the environment. A password_env naming a variable
 * that is not set stops the start, naming the key and the fix.
 */
export function configuredLines(config: SipPluginConfig, env: NodeJS.ProcessEnv): LineSettings[] {
  return Object.entries(config.lines).map(([id, l]) => {
    let password: string | null = null;
    if (l.password_env !== null) {
      const value = env[l.password_env];
      if (value === undefined || value === '') {
        throw new Error(`bridges.sip.lines.${id}.password_env: the environment variable ${l.password_env} is not set. Fix: export ${l.password_env}=<the line's SIP password> before patchbay start, or set password_env: null for a line without one`);
      }
      password = value;
    }
    return {
      id,
      aor: l.aor,
      registrar: l.registrar,
      register: l.register,
      registerExpiresS: l.register_expires_s,
      authUsername: l.auth_username,
      password,
      outboundProxy: l.outbound_proxy,
      displayName: l.display_name,
      numberFormat: l.number_format,
      routes: l.routes,
      owner: null,
    };
  });
}
