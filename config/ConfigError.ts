/**
 * The configuration could not be loaded. `problems` holds one self-contained line per problem (key
 * path, bad value, fix); the message is a header and those lines, ready to print as is.
 */
export class ConfigError extends Error {
  readonly problems: readonly string[];
  /** What was read: `defaults + my.yaml`, or `bridges`. */
  readonly source: string | undefined;
  /**
   * When the file's own keys were wrong: its `bridges` section as written (relative module paths
   * resolved), so the bridges' checks can run as well and every problem is listed in one go.
   */
  readonly bridges: Readonly<Record<string, unknown>> | null;

  constructor(problems: readonly string[], source?: string, bridges: Readonly<Record<string, unknown>> | null = null) {
    const header = `Invalid configuration${source ? ` (${source})` : ''}:`;
    super([header, ...problems.map((p) => `  ${p}`)].join('\n'));
    this.name = 'ConfigError';
    this.problems = problems;
    this.source = source;
    this.bridges = bridges;
  }
}
