// The part of a definition worth showing the model: its doc comment and its signature — the whole
// declaration when it is short (an interface, a type, a small function), else the lines up to where
// its body opens. Bounded in lines and characters, so one huge class cannot eat the prompt.

export interface SnippetOptions {
  /** Most lines of the declaration itself (doc comment not counted). */
  maxLines?: number;
  /** Most doc-comment lines kept above it. */
  maxDocLines?: number;
  /** Hard cap on the snippet's characters. */
  maxChars?: number;
}

export interface DefinitionSnippet {
  text: string;
  /** First line of the snippet (doc comment included), 0-based. */
  startLine: number;
  /** Line after its last one. */
  endLine: number;
}

const isDocLine = (line: string) => /^\s*(\/\/|\/\*|\*|#(?!include|define|if|else|endif)|--|"""|''')/.test(line) || /^\s*@\w+/.test(line);

/** Counts `{`, `(` and `[` opened minus closed on a line, outside strings and line comments. */
function depthChange(line: string): number {
  let depth = 0;
  const code = line.replace(/\/\/.*$|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`(?:[^`\\]|\\.)*`/g, '');
  for (const ch of code) {
    if (ch === '{' || ch === '(' || ch === '[') depth++;
    else if (ch === '}' || ch === ')' || ch === ']') depth--;
  }
  return depth;
}

/** The snippet for a definition at `line` (0-based) of `text`. */
export function definitionSnippet(text: string, line: number, options: SnippetOptions = {}): DefinitionSnippet {
  const maxLines = options.maxLines ?? 12;
  const maxDocLines = options.maxDocLines ?? 8;
  const maxChars = options.maxChars ?? 1200;
  const lines = text.split('\n');
  const at = Math.max(0, Math.min(line, lines.length - 1));

  // Doc comment and decorators right above (no blank line between).
  let start = at;
  while (start > 0 && at - start < maxDocLines && lines[start - 1].trim() !== '' && isDocLine(lines[start - 1])) start--;
  // A Python-style declaration: `def f(...):` / `class C:` followed by an indented block.
  const indentOf = (s: string) => s.length - s.trimStart().length;
  const pythonic = /:\s*(#.*)?$/.test(lines[at]) && !/[{;]\s*$/.test(lines[at]);

  let end = at;
  let depth = 0;
  let opened = false;
  let complete = false;
  for (let i = at; i < lines.length && i - at < maxLines; i++) {
    const current = lines[i];
    if (pythonic && i > at) {
      // The block ends at the first non-blank line indented no deeper than the declaration.
      if (current.trim() !== '' && indentOf(current) <= indentOf(lines[at])) {
        complete = true;
        break;
      }
    }
    depth += depthChange(current);
    if (/[{([]/.test(current)) opened = true;
    end = i + 1;
    if (!pythonic && opened && depth <= 0) {
      complete = true;
      break;
    }
    if (!pythonic && !opened && /[;,]\s*$|^\s*$/.test(current)) {
      complete = true;
      break;
    }
  }
  if (pythonic && end - at >= maxLines) complete = false;
  if (!complete && !pythonic) {
    // Too long for the whole declaration: keep the signature, up to the line where the body opens.
    let depthToBody = 0;
    for (let i = at; i < end; i++) {
      depthToBody += depthChange(lines[i]);
      if (/\{\s*$/.test(lines[i]) || (depthToBody <= 1 && /\{/.test(lines[i]))) {
        end = i + 1;
        break;
      }
    }
  }
  while (end > at + 1 && lines[end - 1].trim() === '') end--;
  let snippet = lines.slice(start, end).join('\n');
  if (!complete) snippet += '\n' + ' '.repeat(indentOf(lines[at]) + 2) + '…';
  if (snippet.length > maxChars) snippet = snippet.slice(0, maxChars) + '…';
  return { text: snippet, startLine: start, endLine: end };
}
