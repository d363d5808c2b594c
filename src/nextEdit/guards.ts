// What next-edit refuses to watch, to predict for, or to show. Plain data in, a reason out (the
// reason is logged at trace level; the user never sees a dialog for any of these).
import type { DocumentChange, NextEditSuggestion, Position } from './types';

/** Documents larger than this are not watched: copying their text on every keystroke costs too much. */
export const MAX_DOCUMENT_CHARS = 500_000;
export const MAX_DOCUMENT_LINES = 20_000;
/** A line longer than this near the cursor (minified code, data) means no prediction there. */
export const MAX_LINE_CHARS = 2_000;
/** How many lines either side of the cursor the long-line check looks at (the model's region). */
export const LINE_CHECK_RADIUS = 30;
/** One change event bigger than this (a paste of thousands of lines, a formatter's rewrite) is a storm. */
export const STORM_CHARS = 20_000;
export const STORM_CHANGES = 100;
/** A suggestion inserting more than this is not shown: nobody reviews it from a decoration. */
export const MAX_SUGGESTION_CHARS = 5_000;
export const MAX_SUGGESTION_EDITS = 20;

/** What the shell knows about a document, read without copying its text. */
export interface DocumentFacts {
  scheme: string;
  readOnly: boolean;
  length: number;
  lineCount: number;
}

/** Schemes a user types into: a file on disk or a new unsaved one (not output, git:, notebook cells). */
const WATCHED_SCHEMES = new Set(['file', 'untitled']);

export function watchRefusal(doc: DocumentFacts): string | undefined {
  if (!WATCHED_SCHEMES.has(doc.scheme)) return `scheme ${doc.scheme}`;
  if (doc.readOnly) return 'read-only';
  if (doc.length > MAX_DOCUMENT_CHARS) return `${doc.length} characters`;
  if (doc.lineCount > MAX_DOCUMENT_LINES) return `${doc.lineCount} lines`;
  return undefined;
}

/** Whether one change event is too big to predict after (it is still recorded). */
export function isEditStorm(change: Pick<DocumentChange, 'changes'>): boolean {
  if (change.changes.length > STORM_CHANGES) return true;
  let chars = 0;
  for (const c of change.changes) chars += c.rangeLength + c.text.length;
  return chars > STORM_CHARS;
}

/** A line near the cursor too long to send (minified code): refuse rather than cut it. */
export function longLineNear(lineLength: (line: number) => number, lineCount: number, cursor: Position): number | undefined {
  const first = Math.max(0, cursor.line - LINE_CHECK_RADIUS);
  const last = Math.min(lineCount - 1, cursor.line + LINE_CHECK_RADIUS);
  for (let line = first; line <= last; line++) if (lineLength(line) > MAX_LINE_CHARS) return line;
  return undefined;
}

/**
 * Why a predictor's answer must not be shown for this document (undefined: it may). Checks the
 * contract of NextEditSuggestion rather than trusting it: a wrong version, ranges outside the
 * document, overlapping or unsorted edits, no-ops, or more text than a decoration can show.
 */
export function suggestionRefusal(
  suggestion: NextEditSuggestion,
  doc: {
    uri: string;
    version: number;
    lineCount: number;
    lineLength(line: number): number;
    textIn(range: NextEditSuggestion['edits'][number]['range']): string;
  },
): string | undefined {
  if (suggestion.uri !== doc.uri) return 'another document';
  if (suggestion.version !== doc.version) return 'stale';
  if (!Array.isArray(suggestion.edits) || suggestion.edits.length === 0) return 'no edits';
  if (suggestion.edits.length > MAX_SUGGESTION_EDITS) return `${suggestion.edits.length} edits`;
  let inserted = 0;
  let previousEnd: Position | undefined;
  for (const edit of suggestion.edits) {
    const { start, end } = edit.range;
    if (!validPosition(start, doc) || !validPosition(end, doc) || compare(start, end) > 0) return 'range outside the document';
    if (previousEnd && compare(start, previousEnd) < 0) return 'edits overlap or are unsorted';
    previousEnd = end;
    inserted += edit.newText.length;
    if (doc.textIn(edit.range) === edit.newText) return 'an edit changes nothing';
  }
  if (inserted > MAX_SUGGESTION_CHARS) return `${inserted} characters inserted`;
  return undefined;
}

function validPosition(p: Position, doc: { lineCount: number; lineLength(line: number): number }): boolean {
  return (
    Number.isInteger(p.line) &&
    Number.isInteger(p.character) &&
    p.line >= 0 &&
    p.line < doc.lineCount &&
    p.character >= 0 &&
    p.character <= doc.lineLength(p.line)
  );
}

export function compare(a: Position, b: Position): number {
  return a.line !== b.line ? a.line - b.line : a.character - b.character;
}
