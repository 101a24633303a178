// The IRC bridge plugin's module: its default export is the factory the host loads by name (`irc`).
import type { PluginFactory } from 'patchbay-matrix/plugin';
import type { IrcPluginConfig } from './IrcConfig.js';
import { IrcBridge } from './IrcBridge.js';

export { IrcBridge } from './IrcBridge.js';
export type { IrcPluginConfig } from './IrcConfig.js';

const createIrcBridge: PluginFactory<IrcPluginConfig> = () => new IrcBridge();
export default createIrcBridge;
