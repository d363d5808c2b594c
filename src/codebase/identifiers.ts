// Which names near the cursor are worth looking up: the identifiers on the cursor's line and a few
// lines around it, nearest first, without keywords, numbers or what sits in comments and strings.

/** Words every language reserves: looking them up finds nothing (or the language's own lib). */
const KEYWORDS = new Set(
  (
    'abstract as async await boolean break case catch class const constructor continue def default delete do elif else enum ' +
    'export extends false final finally fn for from func function get go if impl implements import in instanceof interface ' +
    'is let match mod module mut namespace new nil none not null number object of or and package private protected pub ' +
    'public readonly return self set static string struct super switch this throw true try type typeof undefined use var ' +
    'void while with yield lambda pass raise global nonlocal assert del print int float str bool dict list tuple any unknown ' +
    'never symbol bigint char byte long short double unsigned signed sizeof include define elsif end begin then'
  ).split(' '),
);

export interface NearIdentifier {
  name: string;
  /** Offset of the identifier's first character in the text. */
  offset: number;
}

export interface NearOptions {
  /** Lines above the cursor's line to look at. */
  linesBefore?: number;
  /** Lines below it. */
  linesAfter?: number;
  /** Most identifiers returned. */
  max?: number;
  /** Shortest name worth a lookup. */
  minLength?: number;
  /** '#' starts a comment (Python, shell...), not a private field or a directive. */
  hashComments?: boolean;
}

/** Blanks out comments and string literals (same length), so their words are not taken for code. */
export function maskCommentsAndStrings(text: string, hashComments = false): string {
  const pattern = hashComments ? HASH_LANGUAGE : C_LIKE;
  return text.replace(pattern, (m) => m.replace(/[^\n]/g, ' '));
}

const STRINGS = /"(?:[^"\\\n]|\\.)*"?|'(?:[^'\\\n]|\\.)*'?|`(?:[^`\\]|\\.)*`?/.source;
const C_LIKE = new RegExp(/\/\/[^\n]*|\/\*[\s\S]*?(?:\*\/|$)|/.source + STRINGS, 'g');
const HASH_LANGUAGE = new RegExp(/#[^\n]*|/.source + STRINGS, 'g');

/** Languages whose line comments start with '#'. */
export const HASH_COMMENT_LANGUAGES = new Set([
  'python',
  'shellscript',
  'ruby',
  'perl',
  'r',
  'yaml',
  'toml',
  'makefile',
  'dockerfile',
  'powershell',
  'elixir',
]);

/**
 * The identifiers within a few lines of `offset`, nearest first (by line distance, then by column
 * distance), each name once, at most `max`. The partial word the cursor is in is left out: it is
 * still being typed.
 */
export function identifiersNear(text: string, offset: number, options: NearOptions = {}): NearIdentifier[] {
  const linesBefore = options.linesBefore ?? 3;
  const linesAfter = options.linesAfter ?? 1;
  const max = options.max ?? 8;
  const minLength = options.minLength ?? 3;
  const hashComments = options.hashComments ?? false;

  let start = text.lastIndexOf('\n', offset - 1) + 1;
  for (let i = 0; i < linesBefore && start > 0; i++) start = text.lastIndexOf('\n', start - 2) + 1;
  let end = text.indexOf('\n', offset);
  if (end === -1) end = text.length;
  for (let i = 0; i < linesAfter && end < text.length; i++) {
    const next = text.indexOf('\n', end + 1);
    end = next === -1 ? text.length : next;
  }
  // Bounded: a minified file's single line must not cost a scan of megabytes.
  start = Math.max(start, offset - 2000);
  end = Math.min(end, offset + 1000);
  const window = maskCommentsAndStrings(text.slice(start, end), hashComments);
  const cursor = offset - start;
  const cursorLine = lineOf(window, cursor);

  const found = new Map<string, { offset: number; score: number }>();
  for (const match of window.matchAll(/[A-Za-z_$][\w$]*/g)) {
    const name = match[0];
    const at = match.index;
    if (name.length < minLength || KEYWORDS.has(name) || KEYWORDS.has(name.toLowerCase())) continue;
    if (at <= cursor && at + name.length >= cursor) continue; // the word being typed
    const line = lineOf(window, at);
    const score = Math.abs(line - cursorLine) * 1000 + Math.abs(at - cursor) / 1000;
    const seen = found.get(name);
    if (!seen || score < seen.score) found.set(name, { offset: start + at, score });
  }
  return [...found.entries()]
    .sort((a, b) => a[1].score - b[1].score)
    .slice(0, max)
    .map(([name, { offset }]) => ({ name, offset }));
}

function lineOf(text: string, offset: number): number {
  let line = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) line++;
  return line;
}
