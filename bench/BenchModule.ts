// What every benchmark module (bench/<name>.ts) exports: run() resolves to one JSON-serialisable
// object of measurements. Progress goes to stderr so stdout carries nothing but that JSON.
export type BenchResult = Record<string, unknown>;

export interface BenchModule {
  run(args: string[]): Promise<BenchResult>;
}

/** Progress for humans, on stderr, with the seconds since the process started (to place phases in a --cpu-prof profile). */
export function progress(message: string): void {
  process.stderr.write(`bench: [${(performance.now() / 1000).toFixed(1)} s] ${message}\n`);
}

/** Nearest-rank percentile of already sorted samples. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/** Rounds for display (measurements are noisy beyond this anyway). */
export function round(n: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
