// `patchbay register`: writes a new appservice registration (fresh tokens, one exclusive user and
// alias namespace per bridge), or with --check validates an existing file and says what is wrong.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  generateRegistration,
  readRegistrationFile,
  RegistrationError,
  writeRegistrationFile,
  type AppserviceRegistration,
  type BridgeNamespaceSpec,
} from '../../registration/index.js';
import { ExitCode, UsageError, type Command, type CommandContext } from '../Command.js';

export const command: Command = {
  usage: '[--id ID] [--url URL] [--sender LOCALPART] --bridge PROTOCOL[:GHOSTPREFIX:ALIASPREFIX] ... [--out FILE]\n' +
    '       patchbay register --check FILE',
  description: [
    'Writes an appservice registration: new random tokens, and for each --bridge exclusive namespaces',
    '@<ghost prefix>.*:<server> and #<alias prefix>.*:<server>. One registration covers all the bridges',
    'the host runs. The file is written readable by its owner only (it holds both tokens); an existing',
    'file is kept unless --force. Give the same file to the homeserver (Synapse: app_service_config_files).',
    '',
    'With --check FILE, validates a registration and lists what is wrong (exit 1 if anything is).',
  ].join('\n'),
  options: {
    id: { type: 'string', valueName: 'ID', description: 'the appservice id (default: patchbay)' },
    url: {
      type: 'string',
      valueName: 'URL',
      description: 'where the homeserver reaches the host (default: host.url, else http://<host.bind>:<host.port>)',
    },
    sender: { type: 'string', valueName: 'LOCALPART', description: "the appservice bot's localpart (default: patchbay)" },
    'server-name': {
      type: 'string',
      valueName: 'NAME',
      description: "the homeserver's server name in the namespaces (default: host.server_name, else homeserver.server_name)",
    },
    bridge: {
      type: 'string',
      multiple: true,
      valueName: 'SPEC',
      description: 'PROTOCOL:GHOSTPREFIX:ALIASPREFIX, e.g. irc:irc_:irc_ (just PROTOCOL means PROTOCOL_ for both)',
    },
    ephemeral: { type: 'boolean', description: 'ask for typing, receipts and presence (receive_ephemeral)' },
    out: { type: 'string', short: 'o', valueName: 'FILE', description: 'where to write it (default: host.registration, under data_dir)' },
    force: { type: 'boolean', short: 'f', description: 'replace an existing file (its old tokens stop working)' },
    check: { type: 'string', valueName: 'FILE', description: 'validate this registration file instead of writing one' },
  },
  run: (ctx) => (ctx.option('check') !== undefined ? check(ctx) : write(ctx)),
};

async function check(ctx: CommandContext): Promise<number> {
  const others = ['id', 'url', 'sender', 'server-name', 'bridge', 'ephemeral', 'out', 'force'].filter((o) => ctx.values[o] !== undefined);
  if (others.length > 0) throw new UsageError(`--check takes no other options (got ${others.map((o) => `--${o}`).join(', ')}).`);
  const file = ctx.option('check') as string;
  let reg: AppserviceRegistration;
  try {
    reg = await readRegistrationFile(file);
  } catch (err) {
    if (!(err instanceof RegistrationError)) throw err;
    ctx.err(err.message);
    return ExitCode.failure;
  }
  const ns = reg.namespaces;
  ctx.out(
    `${file}: valid. id ${reg.id}, url ${reg.url ?? 'null (no traffic)'}, sender @${reg.sender_localpart}, ` +
      `namespaces: ${ns.users?.length ?? 0} users, ${ns.aliases?.length ?? 0} aliases, ${ns.rooms?.length ?? 0} rooms` +
      (reg.protocols?.length ? `, protocols: ${reg.protocols.join(', ')}` : ''),
  );
  return ExitCode.ok;
}

async function write(ctx: CommandContext): Promise<number> {
  const specs = ctx.list('bridge');
  if (specs.length === 0) {
    throw new UsageError('name at least one bridge: --bridge PROTOCOL:GHOSTPREFIX:ALIASPREFIX, e.g. --bridge irc:irc_:irc_');
  }
  const bridges = specs.map(parseBridge);
  const config = ctx.config();
  const out = resolve(ctx.option('out') ?? config.host.registration);
  if (existsSync(out) && !ctx.flag('force')) {
    ctx.err(`patchbay register: ${out} exists; keeping it. Use --force to replace it (the homeserver must then load the new tokens).`);
    return ExitCode.failure;
  }
  const serverName = ctx.option('server-name') ?? config.host.server_name ?? config.homeserver.server_name;
  const url = ctx.option('url') ?? config.host.url ?? `http://${config.host.bind}:${config.host.port}`;

  let reg: AppserviceRegistration;
  try {
    reg = generateRegistration({
      id: ctx.option('id') ?? 'patchbay',
      url,
      serverName,
      senderLocalpart: ctx.option('sender') ?? 'patchbay',
      bridges,
      receiveEphemeral: ctx.flag('ephemeral'),
    });
  } catch (err) {
    // Bad --id, --url, --sender or bridge prefixes: the arguments are wrong.
    if (err instanceof RegistrationError) throw new UsageError(err.message);
    throw err;
  }
  await writeRegistrationFile(out, reg);
  ctx.out(`Wrote ${out} (id ${reg.id}, url ${url}, server ${serverName}, bridges: ${bridges.map((b) => b.protocol).join(', ')}).`);
  ctx.out('Give the same file to the homeserver:');
  ctx.out(`  Synapse:   add it to app_service_config_files in homeserver.yaml and restart Synapse`);
  ctx.out(`  Patchbay:  add it to homeserver.app_service_config_files in your config, then restart or send SIGHUP`);
  return ExitCode.ok;
}

function parseBridge(spec: string): BridgeNamespaceSpec {
  const parts = spec.split(':');
  if (parts.length === 1 && parts[0] !== '') return { protocol: spec, ghostPrefix: `${spec}_`, aliasPrefix: `${spec}_` };
  if (parts.length === 3 && parts.every((p) => p !== '')) {
    const [protocol, ghostPrefix, aliasPrefix] = parts as [string, string, string];
    return { protocol, ghostPrefix, aliasPrefix };
  }
  throw new UsageError(`--bridge ${JSON.stringify(spec)}: write PROTOCOL:GHOSTPREFIX:ALIASPREFIX (e.g. irc:irc_:irc_) or just PROTOCOL.`);
}
