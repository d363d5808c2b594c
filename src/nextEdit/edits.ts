// From the model's rewrite of the editable region to the minimal edits the editor shows: a line
// diff finds the changed blocks, a word diff inside each block keeps the edits small, and offsets
// in the region (newline-normalised text) become zero-based line/UTF-16 positions in the document.
import { diffLines, diffWordsWithSpace } from 'diff';

import type { EditHunk } from './history';
import type { PlainEdit, Position } from './types';

/** The region the model was asked to rewrite: whole lines, '\n' line ends, no trailing newline. */
export interface EditableRegion {
  /** Zero-based document line of the region's first line. */
  startLine: number;
  /** Lines after the region's last one start at `startLine + lineCount`. */
  text: string;
}

/** An edit in region offsets (before any edit is applied). */
export interface RegionEdit {
  start: number;
  end: number;
  newText: string;
}

/**
 * Whether `predicted` looks like a rewrite of `region` rather than something else (a chat answer,
 * the next file, a runaway repetition): most of the region's text is kept, and it did not balloon.
 */
export function isRewriteOf(region: string, predicted: string): boolean {
  if (predicted.length > region.length * 3 + 800) return false;
  if (region.trim().length < 24) return true; // too little text to judge by
  let kept = 0;
  for (const part of diffLines(region, predicted)) if (!part.added && !part.removed) kept += part.value.length;
  // Line-level kept text undercounts a rewrite that touches many lines: fall back to words then.
  if (kept >= region.length * 0.5) return true;
  kept = 0;
  for (const part of diffWordsWithSpace(region, predicted)) if (!part.added && !part.removed) kept += part.value.length;
  return kept >= region.length * 0.6;
}

/** Minimal edits that turn `region` into `predicted`, in region offsets, sorted, non-overlapping. */
export function regionEdits(region: string, predicted: string): RegionEdit[] {
  const edits: RegionEdit[] = [];
  let at = 0;
  const parts = diffLines(region, predicted);
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    if (!part.added && !part.removed) {
      at += part.value.length;
      continue;
    }
    // A changed block: removed lines and/or added lines next to each other.
    let removed = '';
    let added = '';
    while (i < parts.length && (parts[i].added || parts[i].removed)) {
      if (parts[i].removed) removed += parts[i].value;
      else added += parts[i].value;
      i++;
    }
    i--;
    edits.push(...wordEdits(removed, added, at));
    at += removed.length;
  }
  return edits.map((e) => wholeCodePoints(region, e)).filter((e) => e.end > e.start || e.newText.length > 0);
}

function wordEdits(removed: string, added: string, base: number): RegionEdit[] {
  if (!removed || !added) return [{ start: base, end: base + removed.length, newText: added }];
  const out: RegionEdit[] = [];
  let at = base;
  let current: RegionEdit | undefined;
  for (const part of diffWordsWithSpace(removed, added)) {
    if (!part.added && !part.removed) {
      if (current) out.push(current);
      current = undefined;
      at += part.value.length;
      continue;
    }
    current ??= { start: at, end: at, newText: '' };
    if (part.removed) {
      current.end += part.value.length;
      at += part.value.length;
    } else current.newText += part.value;
  }
  if (current) out.push(current);
  return out;
}

/** Widens an edit whose boundary falls inside a surrogate pair so it never splits a character. */
function wholeCodePoints(text: string, edit: RegionEdit): RegionEdit {
  let { start, end, newText } = edit;
  if (start > 0 && isHigh(text.charCodeAt(start - 1)) && isLow(text.charCodeAt(start))) {
    start--;
    newText = text[start] + newText;
    if (end < start + 1) end = start + 1;
  }
  if (end > 0 && end < text.length && isHigh(text.charCodeAt(end - 1)) && isLow(text.charCodeAt(end))) {
    newText += text[end];
    end++;
  }
  return { start, end, newText };
}

const isHigh = (c: number): boolean => c >= 0xd800 && c <= 0xdbff;
const isLow = (c: number): boolean => c >= 0xdc00 && c <= 0xdfff;

/** A region offset as a document position (the region starts at column 0 of `startLine`). */
export function positionIn(region: EditableRegion, offset: number): Position {
  let line = region.startLine;
  let lineStart = 0;
  for (let at = region.text.indexOf('\n'); at >= 0 && at < offset; at = region.text.indexOf('\n', at + 1)) {
    line++;
    lineStart = at + 1;
  }
  return { line, character: offset - lineStart };
}

/** Region edits as document edits; `eol` is the document's line end (new text is written with it). */
export function toPlainEdits(region: EditableRegion, edits: RegionEdit[], eol: '\n' | '\r\n'): PlainEdit[] {
  return edits.map((e) => ({
    range: { start: positionIn(region, e.start), end: positionIn(region, e.end) },
    newText: eol === '\n' ? e.newText : e.newText.replace(/\n/g, '\r\n'),
  }));
}

/** Where the cursor ends up: `offset` in the predicted region, as a position after the edits. */
export function cursorAfter(region: EditableRegion, predicted: string, offset: number): Position {
  return positionIn({ startLine: region.startLine, text: predicted }, offset);
}

/**
 * Drops edits that take back what the user just did: an edit on the lines of the user's last hunk
 * that deletes text the hunk added and puts back (at most) text it removed, or the reverse.
 */
export function withoutUndos(region: EditableRegion, edits: RegionEdit[], last: EditHunk | undefined): RegionEdit[] {
  if (!last) return edits;
  const typed: string[] = [];
  const deleted: string[] = [];
  for (const part of diffWordsWithSpace(normalize(last.oldText), normalize(last.newText))) {
    if (part.added) typed.push(part.value);
    else if (part.removed) deleted.push(part.value);
  }
  const typedText = typed.join('');
  const deletedText = deleted.join('');
  const hunkFirst = last.startLine;
  const hunkLast = last.startLine + normalize(last.newText).split('\n').length - 1;
  return edits.filter((e) => {
    if (positionIn(region, e.end).line < hunkFirst || positionIn(region, e.start).line > hunkLast) return true;
    const removes = region.text.slice(e.start, e.end);
    const puts = e.newText;
    const takesTypedAway = removes.trim().length > 0 && typedText.includes(removes);
    const putsDeletedBack = puts.trim().length > 0 && deletedText.includes(puts);
    if (takesTypedAway && (puts.trim() === '' || putsDeletedBack)) return false;
    if (putsDeletedBack && removes.trim() === '') return false;
    return true;
  });
}

export function normalize(text: string): string {
  return text.replace(/\r\n/g, '\n');
}
