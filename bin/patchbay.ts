#!/usr/bin/env node
// The `patchbay` CLI: the composition root that wires config, homeserver, core and bridges into
// processes. Commands live in bin/commands/ and are listed in bin/commandTable.ts.
import { runCli } from './runCli.js';

const code = await runCli(process.argv.slice(2), {
  env: process.env,
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
});
process.exitCode = code;
// A server command resolves only once it has stopped; should a stray handle still hold the event loop
// open, do not hang on it.
setTimeout(() => process.exit(code), 2000).unref();
