/**
 * The configuration could not be loaded. `problems` holds one self-contained line per problem (key
 * path, bad value, fix); the message is a header and those lines, ready to print as is.
 */
export class ConfigError extends Error {
  readonly problems: readonly string[];

  constructor(problems: readonly string[], source?: string) {
    const header = `Invalid configuration${source ? ` (${source})` : ''}:`;
    super([header, ...problems.map((p) => `  ${p}`)].join('\n'));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}
