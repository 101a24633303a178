/** A literal string as a regular expression (RegExp.escape exists only from Node 24). */
export function escapeRegex(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');
}
