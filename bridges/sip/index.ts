// The SIP bridge plugin's module: its default export is the factory the host loads by name (`sip`).
import type { PluginFactory } from 'patchbay-matrix/plugin';
import type { SipPluginConfig } from './SipConfig.js';
import { SipBridge } from './SipBridge.js';

export { SipBridge } from './SipBridge.js';
export type { SipPluginConfig } from './SipConfig.js';

const createSipBridge: PluginFactory<SipPluginConfig> = () => new SipBridge();
export default createSipBridge;
