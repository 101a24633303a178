/**
 * A registration is invalid or unreadable. Each problem names the key; the message names the file
 * (or other source) once and then lists the problems, one per line.
 */
export class RegistrationError extends Error {
  readonly source: string;
  readonly problems: readonly string[];

  constructor(source: string, problems: readonly string[]) {
    super(problems.length === 1 ? `${source}: ${problems[0]}` : [`${source}:`, ...problems.map((p) => `  ${p}`)].join('\n'));
    this.name = 'RegistrationError';
    this.source = source;
    this.problems = problems;
  }
}
