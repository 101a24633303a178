// What one CLI command is: its options (for util.parseArgs and for --help) and what it runs.
import type { PatchbayConfig } from '../config/index.js';

export interface CommandOption {
  type: 'string' | 'boolean';
  short?: string;
  /** The option may be given several times; its value is then a list. */
  multiple?: boolean;
  /** Placeholder shown in --help: `--out FILE`. */
  valueName?: string;
  description: string;
}

export type OptionValues = Record<string, string | boolean | Array<string | boolean> | undefined>;

export interface CommandContext {
  /** The command's name as typed: `register`. */
  name: string;
  values: OptionValues;
  positionals: string[];
  /** A string option's value (the last one if repeated). */
  option(name: string): string | undefined;
  /** A repeatable string option's values, in order ([] when absent). */
  list(name: string): string[];
  /** A boolean option. */
  flag(name: string): boolean;
  env: NodeJS.ProcessEnv;
  /** Loads --config / PATCHBAY_CONFIG over the defaults (once); throws ConfigError. */
  config(): PatchbayConfig;
  /** Human-readable output (one line per call). */
  out(line: string): void;
  err(line: string): void;
}

export interface Command {
  /** Usage after `patchbay <name>`, e.g. `--id ID --url URL [--bridge SPEC ...]`. */
  usage: string;
  /** A few lines for --help: what it does and what it writes. */
  description: string;
  options: Record<string, CommandOption>;
  /** Words that are not options; refused (exit 2) unless the command asks for them. */
  allowPositionals?: boolean;
  /** Resolves to the process exit code. */
  run(ctx: CommandContext): Promise<number>;
}

/** Wrong or missing arguments: the CLI prints the message and a pointer to --help, and exits 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** sysexits.h codes the CLI uses besides 0 and 1. */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  config: 78, // EX_CONFIG
} as const;
