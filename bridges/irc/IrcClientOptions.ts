// What irc-framework is given for one connection attempt: our own socket transport (TLS options, source
// address, line limits), and no reconnects of its own (IrcConnection paces those).
import type { IrcConnectionConfig } from './IrcConnection.js';
import type { IrcClientOptions } from './IrcFrameworkClient.js';
import { IrcSocketTransport, type TransportOptions } from './IrcSocketTransport.js';

export function ircClientOptions(config: IrcConnectionConfig, nick: string): IrcClientOptions {
  const patchbay: TransportOptions = { host: config.host, port: config.port, tls: config.tls, localAddress: config.localAddress };
  return {
    host: config.host,
    port: config.port,
    nick,
    username: config.username,
    gecos: config.realname,
    password: config.password,
    // An empty account object stops irc-framework from trying the server password as SASL credentials.
    account: config.sasl !== undefined ? { account: config.sasl.account, password: config.sasl.password } : {},
    auto_reconnect: false,
    enable_echomessage: config.echoMessage,
    version: null,
    ping_interval: 30,
    ping_timeout: 120,
    transport: IrcSocketTransport,
    patchbay,
  };
}
