// The webhook bridge's module: its default export is the PluginFactory.
import type { PluginFactory } from 'patchbay-matrix/plugin';
import type { WebhookConfig } from './config.js';
import { WebhookBridge } from './WebhookBridge.js';

export { WebhookBridge, webhookDescriptor } from './WebhookBridge.js';
export type { WebhookConfig } from './config.js';

const createWebhookBridge: PluginFactory<WebhookConfig> = () => new WebhookBridge();
export default createWebhookBridge;
