// Turns what the model generated into what is worth showing as ghost text.

export interface PostprocessContext {
  /** The cursor's line up to the cursor. */
  linePrefix: string;
  /** The cursor's line after the cursor. */
  lineSuffix: string;
  /** Text after the cursor's line (a few lines are enough). */
  nextText: string;
  /** Lines above the cursor's line (used to detect tabs vs spaces). */
  prefix: string;
  maxLines: number;
  tabSize?: number;
}

const closers = /^\s*(\}|\)|\]|end\b|fi\b|done\b|esac\b|<\/)/;
const opensBlock = /[{([:]\s*$|\b(do|then|begin)\s*$|=>\s*$/;

function indentWidth(line: string, tabSize: number): number {
  let width = 0;
  for (const ch of line) {
    if (ch === ' ') width++;
    else if (ch === '\t') width += tabSize;
    else break;
  }
  return width;
}

function leadingWhitespace(line: string): string {
  return line.slice(0, line.length - line.trimStart().length);
}

/** 'tab' when the document indents with tabs, else 'space' (undefined when it cannot tell). */
function indentStyle(prefix: string): 'tab' | 'space' | undefined {
  let tabs = 0;
  let spaces = 0;
  for (const line of prefix.split('\n').slice(-200)) {
    if (line.startsWith('\t')) tabs++;
    else if (line.startsWith('  ')) spaces++;
  }
  if (tabs === 0 && spaces === 0) return undefined;
  return tabs > spaces ? 'tab' : 'space';
}

/** Re-indents lines after the first with the document's indentation character. */
export function matchIndentation(lines: string[], style: 'tab' | 'space' | undefined, tabSize: number): string[] {
  if (!style) return lines;
  return lines.map((line, i) => {
    if (i === 0) return line;
    const lead = leadingWhitespace(line);
    if (style === 'tab' && lead.includes(' ')) {
      const width = indentWidth(line, tabSize);
      return '\t'.repeat(Math.floor(width / tabSize)) + ' '.repeat(width % tabSize) + line.slice(lead.length);
    }
    if (style === 'space' && lead.includes('\t')) return ' '.repeat(indentWidth(line, tabSize)) + line.slice(lead.length);
    return line;
  });
}

/** Cuts a multi-line completion where the block it opened ends, or where it leaves its own block. */
export function stopAtBlockEnd(lines: string[], baseIndent: number, tabSize: number): string[] {
  if (lines.length < 2) return lines;
  const opened = opensBlock.test(lines[0]);
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    if (line.trim() === '') continue;
    const width = indentWidth(line, tabSize);
    if (width < baseIndent) return lines.slice(0, i);
    if (width === baseIndent) {
      if (opened && closers.test(line)) return lines.slice(0, i + 1);
      if (opened) return lines.slice(0, i);
    }
  }
  return lines;
}

/** Drops the end of `text` that the text right of the cursor already has (e.g. a closing bracket). */
export function trimSuffixOverlap(text: string, lineSuffix: string): string {
  const right = lineSuffix.trimEnd();
  if (!right) return text;
  const trimmedText = text.trimEnd();
  for (let k = Math.min(right.length, trimmedText.length); k > 0; k--) {
    if (trimmedText.endsWith(right.slice(0, k))) return trimmedText.slice(0, trimmedText.length - k);
  }
  return text;
}

/** Cuts the completion where it starts repeating the lines that follow the cursor. */
export function trimRepeatedNextLines(lines: string[], nextText: string): string[] {
  const next = nextText
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0)
    .slice(0, 3);
  if (next.length === 0) return lines;
  for (let i = 1; i < lines.length; i++) {
    const trimmed = lines[i].trim();
    if (trimmed.length >= 3 && trimmed === next[0]) return lines.slice(0, i);
  }
  return lines;
}

/**
 * The completion to show, or '' when nothing is worth showing. Rules, in order: single line when
 * there is code right of the cursor; stop where the block the completion opened ends; stop where
 * it repeats the following lines; at most `maxLines`; the document's indentation; no text the
 * suffix already has; never whitespace only or a copy of the next line.
 */
export function postprocess(raw: string, ctx: PostprocessContext): string {
  const tabSize = ctx.tabSize ?? 4;
  if (raw.trim() === '') return '';
  const codeOnRight = ctx.lineSuffix.trim().length > 0;
  let lines = raw.replace(/\r\n/g, '\n').split('\n');
  if (codeOnRight) lines = lines.slice(0, 1);
  else {
    lines = stopAtBlockEnd(lines, indentWidth(ctx.linePrefix + lines[0], tabSize), tabSize);
    lines = trimRepeatedNextLines(lines, ctx.nextText);
    lines = lines.slice(0, Math.max(1, ctx.maxLines));
    lines = matchIndentation(lines, indentStyle(ctx.prefix), tabSize);
  }
  while (lines.length > 1 && lines[lines.length - 1].trim() === '') lines.pop();
  let text = lines.join('\n').trimEnd();
  if (codeOnRight) text = trimSuffixOverlap(text, ctx.lineSuffix);
  if (text.trim() === '') return '';

  const nextLine =
    ctx.nextText
      .split('\n')
      .find((l) => l.trim().length > 0)
      ?.trim() ?? '';
  const wholeLine = (ctx.linePrefix + text).trim();
  if (!codeOnRight && nextLine && (wholeLine === nextLine || text.trim() === nextLine)) return '';
  if (codeOnRight && ctx.lineSuffix.trim().startsWith(text.trim())) return '';
  return text;
}
