// A user's search term as an FTS5 query. The term is words, never query syntax: each word becomes a quoted
// string (a `"` inside doubled) with a prefix star, and all must match, so `NEAR(`, `*`, `"`, `OR` or
// `col:x` search for themselves (or for nothing) instead of failing the query.

/** Words looked at per term; more add little to a chat search and cost a posting-list merge each. */
const MAX_WORDS = 16;

export interface SearchTerms {
  /** The FTS5 MATCH expression, or null when the term has no words (nothing can match). */
  match: string | null;
  /** The words, lower-cased, for the response's `highlights`. */
  words: string[];
}

// What FTS5's unicode61 tokenizer keeps as token characters: letters, numbers, and private-use.
const WORD = /[\p{L}\p{N}\p{M}\p{Co}]+/gu;

export function searchTerms(term: string): SearchTerms {
  const words = [...new Set((term.match(WORD) ?? []).map((w) => w.toLowerCase()))].slice(0, MAX_WORDS);
  if (words.length === 0) return { match: null, words: [] };
  return { match: words.map((w) => `"${w.replaceAll('"', '""')}"*`).join(' AND '), words };
}
