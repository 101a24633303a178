// The email bridge plugin's module: its default export is the factory the host loads by name (`email`).
import type { PluginFactory } from 'patchbay-matrix/plugin';
import type { EmailConfig } from './EmailConfig.js';
import { EmailBridge } from './EmailBridge.js';

export { EmailBridge, type EmailBridgeOptions } from './EmailBridge.js';
export type { EmailConfig } from './EmailConfig.js';

const createEmailBridge: PluginFactory<EmailConfig> = () => new EmailBridge();
export default createEmailBridge;
