// The CLI's commands. A new command is a file in bin/commands/ exporting `command: Command`, plus one
// line here. Modules load only when their command runs, so one command's imports cannot break another.
import type { Command } from './Command.js';

export interface CommandEntry {
  /** One line for `patchbay --help`. */
  summary: string;
  load(): Promise<{ command: Command }>;
}

export const commandTable: Record<string, CommandEntry> = {
  start: { summary: 'run everything in one process: Redis, homeserver, appservice host, workers, bridges', load: () => import('./commands/start.js') },
  host: { summary: 'run the appservice host alone (ingest; events go to patchbay worker processes)', load: () => import('./commands/host.js') },
  worker: { summary: 'run event workers and the bridges (several may share a Redis)', load: () => import('./commands/worker.js') },
  doctor: { summary: 'check the config, Redis, registration, homeserver and host work together', load: () => import('./commands/doctor.js') },
  homeserver: { summary: 'run the embedded homeserver alone', load: () => import('./commands/homeserver.js') },
  'federation-key': { summary: 'show the federation signing key, or --rotate it (old key kept as old_verify_keys)', load: () => import('./commands/federationKey.js') },
  register: { summary: 'write (or --check) an appservice registration file', load: () => import('./commands/register.js') },
  'dead-letters': { summary: 'list, show, replay or drop the events the bridges could not handle', load: () => import('./commands/deadLetters.js') },
};
