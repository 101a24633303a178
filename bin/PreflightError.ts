/** A start that cannot work (bin/Preflight.ts): `problems` are printed one per line, exit status 1. */
export class PreflightError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(['cannot start:', ...problems.map((p) => `  ${p}`)].join('\n'));
    this.name = 'PreflightError';
  }
}
