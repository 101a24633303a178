// Parses `patchbay <command> [options]`, runs the command and maps failures to exit codes:
// wrong arguments 2, configuration problems 78 (printed one per line, no stack trace).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError, didYouMean, loadConfig, packageRoot, type PatchbayConfig } from '../config/index.js';
import { RegistrationError } from '../registration/index.js';
import { ExitCode, UsageError, type Command, type CommandOption, type OptionValues } from './Command.js';
import { commandTable } from './commandTable.js';
import { PreflightError } from './PreflightError.js';

export interface CliIo {
  env: NodeJS.ProcessEnv;
  out(line: string): void;
  err(line: string): void;
}

/** Options every command takes. */
const GLOBAL_OPTIONS: Record<string, CommandOption> = {
  config: {
    type: 'string',
    short: 'c',
    valueName: 'FILE',
    description: 'your configuration file, merged over the defaults (default: $PATCHBAY_CONFIG)',
  },
  help: { type: 'boolean', short: 'h', description: 'show this help' },
};

export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    (first === undefined ? io.err : io.out)(mainHelp());
    return first === undefined ? ExitCode.usage : ExitCode.ok;
  }
  if (first === '--version' || first === '-V') {
    io.out(packageVersion());
    return ExitCode.ok;
  }
  const entry = Object.hasOwn(commandTable, first) ? commandTable[first] : undefined;
  if (!entry) {
    const guess = didYouMean(first, Object.keys(commandTable));
    io.err(`patchbay: unknown command '${first}'.${guess ? ` Did you mean '${guess}'?` : ''} Run 'patchbay --help' for the list.`);
    return ExitCode.usage;
  }

  let command: Command;
  try {
    ({ command } = await entry.load());
  } catch (err) {
    io.err(`patchbay ${first}: this command failed to load: ${err instanceof Error ? err.message : String(err)}`);
    return ExitCode.failure;
  }
  const options = { ...command.options, ...GLOBAL_OPTIONS };
  let parsed: { values: OptionValues; positionals: string[] };
  try {
    parsed = parseArgs({
      args: rest,
      options: parseArgsOptions(options),
      strict: true,
      allowPositionals: command.allowPositionals ?? false,
    });
  } catch (err) {
    io.err(`patchbay ${first}: ${describeParseError(err, options)}`);
    io.err(`Run 'patchbay ${first} --help' for usage.`);
    return ExitCode.usage;
  }
  if (parsed.values.help === true) {
    io.out(commandHelp(first, command, options));
    return ExitCode.ok;
  }

  const values = parsed.values;
  const list = (name: string): string[] => {
    const v = values[name];
    return (Array.isArray(v) ? v : v === undefined ? [] : [v]).filter((x): x is string => typeof x === 'string');
  };
  let config: PatchbayConfig | null = null;
  const configFile = list('config').at(-1);
  try {
    return await command.run({
      name: first,
      values,
      positionals: parsed.positionals,
      option: (name) => list(name).at(-1),
      list,
      flag: (name) => values[name] === true,
      env: io.env,
      config: () => (config ??= loadConfig({ env: io.env, ...(configFile !== undefined && { file: configFile }) })),
      out: io.out,
      err: io.err,
    });
  } catch (err) {
    if (err instanceof ConfigError) {
      const { withBridgeProblems } = await import('./hostOptions.js');
      io.err(`patchbay ${first}: ${(await withBridgeProblems(err)).message}`);
      return ExitCode.config;
    }
    // A registration file named by the configuration is part of it: same exit status, no stack trace.
    if (err instanceof RegistrationError) {
      io.err(`patchbay ${first}: ${err.message}`);
      return ExitCode.config;
    }
    if (err instanceof PreflightError) {
      io.err(`patchbay ${first}: ${err.message}`);
      return ExitCode.failure;
    }
    if (err instanceof UsageError) {
      io.err(`patchbay ${first}: ${err.message}`);
      io.err(`Run 'patchbay ${first} --help' for usage.`);
      return ExitCode.usage;
    }
    throw err;
  }
}

function parseArgsOptions(options: Record<string, CommandOption>): NonNullable<ParseArgsConfig['options']> {
  const out: NonNullable<ParseArgsConfig['options']> = {};
  for (const [name, o] of Object.entries(options)) {
    out[name] = { type: o.type, ...(o.short && { short: o.short }), ...(o.multiple && { multiple: true }) };
  }
  return out;
}

function describeParseError(err: unknown, options: Record<string, CommandOption>): string {
  const code = (err as { code?: string }).code;
  const message = err instanceof Error ? err.message : String(err);
  const flag = /'(-{1,2}[^'\s]+)'/.exec(message)?.[1];
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && flag) {
    const guess = didYouMean(flag.replace(/^-+/, ''), Object.keys(options));
    return `unknown option '${flag}'.${guess ? ` Did you mean '--${guess}'?` : ''}`;
  }
  if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
    const word = /'([^']*)'/.exec(message)?.[1];
    return `unexpected argument${word !== undefined ? ` '${word}'` : ''} (this command takes only options).`;
  }
  const long = /--([A-Za-z0-9][\w-]*)/.exec(message)?.[1];
  const option = long !== undefined ? options[long] : undefined;
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && option) {
    return option.type === 'string'
      ? `option --${long} needs a value: --${long} ${option.valueName ?? 'VALUE'}.`
      : `option --${long} takes no value.`;
  }
  return message;
}

function mainHelp(): string {
  const width = Math.max(...Object.keys(commandTable).map((n) => n.length)) + 2;
  return [
    'Usage: patchbay <command> [options]',
    '',
    'Patchbay bridges IRC, SIP and email into Matrix.',
    '',
    'Commands:',
    ...Object.entries(commandTable).map(([name, e]) => `  ${name.padEnd(width)}${e.summary}`),
    '',
    "Every command takes --config FILE (or PATCHBAY_CONFIG=FILE) and --help. Run 'patchbay <command> --help' for its options.",
  ].join('\n');
}

function commandHelp(name: string, command: Command, options: Record<string, CommandOption>): string {
  const rows = Object.entries(options).map(([long, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : '    '}--${long}${o.type === 'string' ? ` ${o.valueName ?? 'VALUE'}` : ''}`;
    return [flag, `${o.description}${o.multiple ? ' (repeatable)' : ''}`] as const;
  });
  const width = Math.max(...rows.map(([flag]) => flag.length)) + 2;
  return [
    `Usage: patchbay ${name} ${command.usage}`.trimEnd(),
    '',
    command.description,
    '',
    'Options:',
    ...rows.map(([flag, text]) => `  ${flag.padEnd(width)}${text}`),
  ].join('\n');
}

function packageVersion(): string {
  const manifest = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version?: string };
  return manifest.version ?? 'unknown';
}
