// Our JSON schema of a registration, written from the spec's rules (registration.yaml and the AS API
// text) plus Synapse's checks (an id without `|`, namespace lists that are lists). The annotations
// word the error messages (see config/describeSchemaErrors.ts). Unknown keys are allowed and kept.
import type { SchemaObject } from 'ajv';

const namespaceList = (kind: string, example: string): SchemaObject => ({
  type: 'array',
  title: `a list of ${kind} namespaces`,
  description: 'a list of { regex, exclusive } entries (or leave the key out)',
  examples: [`[ { regex: "${example}", exclusive: true } ]`],
  items: {
    type: 'object',
    title: 'a namespace entry',
    description: 'a map with regex (a string) and exclusive (true or false)',
    examples: [`{ regex: "${example}", exclusive: true }`],
    required: ['regex', 'exclusive'],
    properties: {
      regex: {
        type: 'string',
        minLength: 1,
        title: 'a regular expression',
        description: 'a regular expression over full IDs',
        examples: [example],
      },
      exclusive: { type: 'boolean', title: 'true or false', description: 'true or false', examples: [true] },
    },
  },
});

const token: SchemaObject = {
  type: 'string',
  minLength: 1,
  title: 'a non-empty secret token',
  description: 'a long random string (patchbay register generates them)',
  examples: ['the output of: openssl rand -hex 32'],
};

export const registrationSchema: SchemaObject = {
  type: 'object',
  title: 'a registration map',
  description: 'a YAML map with id, url, as_token, hs_token, sender_localpart and namespaces',
  examples: ['{ id: patchbay, url: "http://127.0.0.1:9000", ... }'],
  required: ['id', 'url', 'as_token', 'hs_token', 'sender_localpart', 'namespaces'],
  properties: {
    id: {
      type: 'string',
      minLength: 1,
      pattern: '^[^|]+$',
      title: 'an appservice ID',
      description: 'a unique name without "|" (homeservers use "|" to build third-party instance IDs)',
      examples: ['patchbay'],
    },
    url: {
      type: ['string', 'null'],
      pattern: '^https?://[^\\s/]+',
      title: 'an http(s) URL or null',
      description: 'the URL the homeserver reaches the appservice at, or null for no traffic',
      examples: ['http://127.0.0.1:9000'],
    },
    as_token: token,
    hs_token: token,
    sender_localpart: {
      type: 'string',
      minLength: 1,
      pattern: '^[^@:#!][^:]*$',
      title: 'a user localpart',
      description: 'the localpart only, without "@" or ":server"',
      examples: ['patchbay'],
    },
    namespaces: {
      type: 'object',
      title: 'a map of namespaces',
      description: 'a map with optional users, aliases and rooms lists',
      examples: ['{ users: [ { regex: "@irc_.*:example\\\\.org", exclusive: true } ] }'],
      properties: {
        users: namespaceList('user', '@irc_.*:example\\.org'),
        aliases: namespaceList('alias', '#irc_.*:example\\.org'),
        rooms: namespaceList('room', '!.*:example\\.org'),
      },
    },
    rate_limited: { type: 'boolean', title: 'true or false', description: 'true or false', examples: [false] },
    receive_ephemeral: { type: 'boolean', title: 'true or false', description: 'true or false', examples: [true] },
    protocols: {
      type: 'array',
      title: 'a list of protocol names',
      description: 'a list of third-party protocol names',
      examples: ['[ irc, sip ]'],
      items: { type: 'string', minLength: 1, title: 'a protocol name', description: 'a non-empty name', examples: ['irc'] },
    },
  },
};
