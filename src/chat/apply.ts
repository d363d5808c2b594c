// Where a code block from a reply goes when the user applies it to a file. Pure: works on text
// and offsets; the shell shows the result as a diff and applies it as one edit.

export interface Proposal {
  /** The whole file after the change (the right side of the diff). */
  text: string;
  /** The smallest single replacement that turns the old text into `text`. */
  edit: { start: number; end: number; text: string };
  /** How the block was placed. */
  mode: 'selection' | 'anchored' | 'whole';
}

export interface SelectionHint {
  start: number;
  end: number;
  /** The selected text when it was attached (to find it again if the file changed since). */
  text: string;
}

/**
 * Places `code` in `documentText`:
 * - over the selection that was attached to the question, when it is still there;
 * - else over the lines between the block's first and last lines, when both occur once in the
 *   file (the model rewrote a function it was shown);
 * - else in place of the whole file (the diff shows exactly what that means before accepting).
 */
export function proposeEdit(documentText: string, code: string, hint?: SelectionHint): Proposal {
  const eol = documentText.includes('\r\n') ? '\r\n' : '\n';
  let block = code.replace(/\r?\n/g, eol);
  let placed: { start: number; end: number; mode: Proposal['mode'] } | undefined;

  if (hint && hint.text.trim() !== '') {
    const selected = hint.text.replace(/\r?\n/g, eol);
    if (documentText.slice(hint.start, hint.end) === selected) placed = { start: hint.start, end: hint.end, mode: 'selection' };
    else {
      const at = documentText.indexOf(selected);
      if (at >= 0 && documentText.indexOf(selected, at + 1) < 0) placed = { start: at, end: at + selected.length, mode: 'selection' };
    }
    // Keep the selection's trailing newline when the block has none.
    if (placed && selected.endsWith(eol) && !block.endsWith(eol)) block += eol;
  }
  if (!placed) {
    placed = anchor(documentText, block, eol);
    if (placed) block = reindent(block.replace(/(\r?\n)+$/, ''), documentText.slice(placed.start, placed.end), eol);
  }
  if (!placed) {
    const whole = documentText.endsWith(eol) && !block.endsWith(eol) ? block + eol : block;
    placed = { start: 0, end: documentText.length, mode: 'whole' };
    block = whole;
  }
  const text = documentText.slice(0, placed.start) + block + documentText.slice(placed.end);
  return { text, edit: minimalEdit(documentText, text), mode: placed.mode };
}

function anchor(documentText: string, block: string, eol: string): { start: number; end: number; mode: 'anchored' } | undefined {
  const blockLines = block.split(eol).filter((l) => l.trim() !== '');
  if (blockLines.length < 2) return undefined;
  const lines = documentText.split(eol);
  const offsets: number[] = [];
  let offset = 0;
  for (const line of lines) {
    offsets.push(offset);
    offset += line.length + eol.length;
  }
  const firstKey = blockLines[0].trim();
  const lastKey = blockLines[blockLines.length - 1].trim();
  const firsts = lines.flatMap((l, i) => (l.trim() === firstKey ? [i] : []));
  if (firsts.length !== 1) return undefined;
  const from = firsts[0];
  // The first line after it that matches the block's last line, for a block ending in `}` the
  // nearest one at the same indentation as the first line.
  const indent = (l: string) => l.length - l.trimStart().length;
  let to = -1;
  for (let i = from + 1; i < lines.length; i++) {
    if (lines[i].trim() === lastKey && (lastKey.length > 2 || indent(lines[i]) === indent(lines[from]))) {
      to = i;
      break;
    }
  }
  if (to < 0) return undefined;
  const start = offsets[from];
  const end = offsets[to] + lines[to].length;
  return { start, end, mode: 'anchored' };
}

/** Shifts a block written at a shallower indentation to the indentation of the code it replaces. */
function reindent(block: string, replaced: string, eol: string): string {
  const leading = (s: string) => /^[ \t]*/.exec(s)?.[0] ?? '';
  const blockLines = block.split(eol);
  const firstBlock = blockLines.find((l) => l.trim() !== '') ?? '';
  const target = leading(replaced);
  const have = leading(firstBlock);
  if (target.length <= have.length || !target.startsWith(have)) return block;
  const extra = target.slice(have.length);
  return blockLines.map((l) => (l.trim() === '' ? l : extra + l)).join(eol);
}

/**
 * The text Insert puts at an empty cursor: a block inserted at the start of a line that has
 * code on it gets a line break, so it lands above that code instead of being glued to it.
 */
export function textToInsert(code: string, line: string, character: number, eol = '\n'): string {
  const block = code.replace(/\r?\n/g, eol);
  if (character === 0 && line.trim() !== '' && !block.endsWith(eol)) return block + eol;
  return block;
}

/** The one replacement between two texts: common prefix and suffix left alone. */
export function minimalEdit(before: string, after: string): { start: number; end: number; text: string } {
  let prefix = 0;
  const max = Math.min(before.length, after.length);
  while (prefix < max && before.charCodeAt(prefix) === after.charCodeAt(prefix)) prefix++;
  let suffix = 0;
  while (suffix < max - prefix && before.charCodeAt(before.length - 1 - suffix) === after.charCodeAt(after.length - 1 - suffix)) suffix++;
  return { start: prefix, end: before.length - suffix, text: after.slice(prefix, after.length - suffix) };
}
