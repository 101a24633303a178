// The webhook bridge's config section, `bridges.webhook`.
import type { JsonSchema } from 'patchbay-matrix/plugin';

export interface WebhookConfig {
  /** What senders of incoming webhooks put in `Authorization: Bearer <secret>`. */
  secret: string;
  /** Where Matrix messages of the channels are posted (JSON); null: nothing goes out. */
  outgoing_url: string | null;
  /** Sent to outgoing_url as `Authorization: Bearer <outgoing_secret>`; null: no header. */
  outgoing_secret: string | null;
  /** Longest an outgoing POST may take before it is tried again later (ms). */
  outgoing_timeout_ms: number;
}

export const configSchema: JsonSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  additionalProperties: false,
  required: ['secret'],
  properties: {
    secret: { type: 'string', minLength: 16, title: 'a shared secret', description: 'at least 16 characters; senders put it in Authorization: Bearer', examples: ['${WEBHOOK_SECRET}'] },
    outgoing_url: {
      type: ['string', 'null'],
      pattern: '^https?://',
      default: null,
      title: 'an http(s) URL or null',
      description: 'the URL Matrix messages are posted to, or null for none',
      examples: ['https://chat-ops.example.org/matrix'],
    },
    outgoing_secret: { type: ['string', 'null'], minLength: 1, default: null, title: 'a secret or null', description: 'sent as Authorization: Bearer to outgoing_url', examples: ['${WEBHOOK_OUT_SECRET}'] },
    outgoing_timeout_ms: { type: 'integer', minimum: 100, maximum: 120000, default: 10000, title: 'a time in milliseconds', description: 'an integer 100-120000', examples: [10000] },
  },
};
