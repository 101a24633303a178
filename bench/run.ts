// `npm run bench -- <name> [args]`: runs one benchmark and prints its result as one JSON object.
import type { BenchModule } from './BenchModule.js';

// One line per benchmark: its name and the module that implements it.
const BENCHMARKS: Record<string, () => Promise<BenchModule>> = {
  homeserver: () => import('./homeserver.js'),
  irc: () => import('./irc.js'),
  email: () => import('./email.js'),
  host: () => import('./host.js'),
  responses: () => import('./responses.js'),
  input: () => import('./input.js'),
  e2ee: () => import('./e2ee.js'),
  sip: () => import('./sip.js'),
  federation: () => import('./federation.js'),
};

async function main(): Promise<void> {
  const [name, ...args] = process.argv.slice(2);
  const load = name === undefined ? undefined : BENCHMARKS[name];
  if (load === undefined) {
    process.stderr.write(`usage: npm run bench -- <name> [args]\n  names: ${Object.keys(BENCHMARKS).join(', ')}\n`);
    process.exitCode = 2;
    return;
  }
  const started = performance.now();
  const result = await (await load()).run(args);
  const output = { bench: name, ...result, duration_s: Math.round((performance.now() - started) / 100) / 10 };
  process.stdout.write(JSON.stringify(output, null, 2) + '\n');
}

main().then(
  // Benchmarks may leave keep-alive sockets or timers behind; the result is out, so end here.
  () => process.exit(process.exitCode ?? 0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
