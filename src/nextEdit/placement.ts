// Where a suggestion is shown: as ghost text at the cursor (only when it is a pure insertion there,
// the one kind of replacement an inline completion renders faithfully) or as decorations at its
// target line, reached with Tab. Also where the cursor lands after accepting.
import type { NextEditSuggestion, PlainEdit, Position } from './types';

export type Placement =
  | { kind: 'inline'; edit: PlainEdit }
  | {
      kind: 'decorations';
      /** Where Tab moves the cursor: the start of the first edit. */
      target: Position;
      /** The lines the edits touch (the cursor anywhere on them counts as "jumped"). */
      firstLine: number;
      lastLine: number;
    };

export function placeSuggestion(suggestion: NextEditSuggestion, cursor: Position, lineText: (line: number) => string): Placement {
  const edits = suggestion.edits;
  const only = edits.length === 1 ? edits[0] : undefined;
  if (only && isInsertionAtCursor(only, cursor, lineText)) return { kind: 'inline', edit: only };
  const first = edits[0];
  const last = edits[edits.length - 1];
  return { kind: 'decorations', target: first.range.start, firstLine: first.range.start.line, lastLine: last.range.end.line };
}

/** The edit keeps the text around the cursor and only adds at the cursor: ghost text can show it. */
function isInsertionAtCursor(edit: PlainEdit, cursor: Position, lineText: (line: number) => string): boolean {
  const { start, end } = edit.range;
  if (start.line !== cursor.line || end.line !== cursor.line) return false;
  if (start.character > cursor.character || end.character < cursor.character) return false;
  const line = lineText(cursor.line);
  const before = line.slice(start.character, cursor.character);
  const after = line.slice(cursor.character, end.character);
  return edit.newText.length > before.length + after.length && edit.newText.startsWith(before) && edit.newText.endsWith(after);
}

/** Whether the cursor is on the lines a decorated suggestion changes. */
export function cursorOnTarget(placement: Placement, cursor: Position): boolean {
  return placement.kind === 'decorations' && cursor.line >= placement.firstLine && cursor.line <= placement.lastLine;
}

/**
 * A position after all edits are applied (edits sorted, non-overlapping, each ending at or before
 * `p`). Walks the edits from last to first so each one's coordinates are still those it was made in.
 */
export function positionAfterEdits(edits: readonly PlainEdit[], p: Position): Position {
  let { line, character } = p;
  for (let i = edits.length - 1; i >= 0; i--) {
    const { range, newText } = edits[i];
    if (range.end.line > line || (range.end.line === line && range.end.character > character)) continue;
    const newLines = newText.split('\n');
    const addedLines = newLines.length - 1 - (range.end.line - range.start.line);
    if (range.end.line === line) {
      const tail = character - range.end.character;
      character = (newLines.length === 1 ? range.start.character + newText.length : newLines[newLines.length - 1].length) + tail;
    }
    line += addedLines;
  }
  return { line, character };
}

/** Where the cursor goes after accepting: the model's predicted position, else the end of the last edit. */
export function cursorAfterAccept(suggestion: NextEditSuggestion): Position {
  if (suggestion.cursor) return suggestion.cursor;
  const last = suggestion.edits[suggestion.edits.length - 1];
  return positionAfterEdits(suggestion.edits, last.range.end);
}
