// How code is cut into search terms: identifiers whole and in their parts (camelCase, snake_case,
// kebab-case), lowercased, so "parseConfigFile" is found by "parse config", "config_file" or itself.

// English function words and keywords: in a third of all chunks or more, so they neither rank nor
// are searched (SearchIndex.queryTerms), and each costs a posting per chunk.
const STOP = new Set(
  'the and for this that with from are was were not but you your its has have had can will should would into then than when what which while return const let var function export import class public private static void new true false null undefined int string number to if is of in be or an as it by on no at else'.split(
    ' ',
  ),
);

/** The words of a text: runs of letters, digits, `_` and `$`. */
export function words(text: string): string[] {
  return text.match(/[A-Za-z0-9_$]+/g) ?? [];
}

const known = new Map<string, string[]>();
const none: string[] = [];

/** One word's search terms: the whole word and its parts, lowercased; none for stop words and noise. */
export function termsOf(word: string): string[] {
  if (word.length > 64 || word.length < 2) return none;
  // Identifiers repeat: each is split once (the cache is dropped when it grows large).
  const cached = known.get(word);
  if (cached) return cached;
  if (known.size > 50_000) known.clear();
  const terms = split(word);
  known.set(word, terms);
  return terms;
}

function split(word: string): string[] {
  // Number literals (42, 0x1f, 1e9, 100_000) are not names.
  if (/^\d/.test(word)) return none;
  if (/^[a-z0-9]+$/.test(word)) return STOP.has(word) ? none : [word];
  const whole = word.toLowerCase();
  const parts = word
    .split(/[_$]+|(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])/)
    .map((p) => p.toLowerCase())
    .filter((p) => p.length >= 2 && !/^\d+$/.test(p));
  const terms = new Set<string>();
  if (whole.length >= 2 && !/^\d+$/.test(whole) && !STOP.has(whole)) terms.add(whole);
  if (parts.length > 1) for (const p of parts) if (!STOP.has(p)) terms.add(p);
  return [...terms];
}

/** All the search terms of a text (repeats kept: term frequency counts). */
export function termsOfText(text: string): string[] {
  const out: string[] = [];
  for (const word of words(text)) for (const term of termsOf(word)) out.push(term);
  return out;
}

/** Drops the split cache (after a build: what it holds is only worth keeping while indexing). */
export function forgetSplits(): void {
  known.clear();
}
