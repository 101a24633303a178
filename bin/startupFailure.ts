// How a server command reports a start that failed: configuration and registration problems go to the CLI
// (one per line, exit 78); anything else is one line on stderr, with the full error in the log (exit 1).
import type { Logger } from 'pino';
import { ConfigError } from '../config/index.js';
import { RegistrationError } from '../registration/index.js';
import { ExitCode, type CommandContext } from './Command.js';
import { PreflightError } from './PreflightError.js';

/** Rethrows what the CLI prints itself; otherwise prints `patchbay <command>: <message>` and returns 1. */
export function startupFailure(ctx: CommandContext, logger: Logger, err: unknown, expected = false): number {
  if (err instanceof ConfigError || err instanceof RegistrationError || err instanceof PreflightError) throw err;
  if (!expected) logger.error({ err }, 'start failed');
  ctx.err(`patchbay ${ctx.name}: ${err instanceof Error ? err.message : String(err)}`);
  return ExitCode.failure;
}
