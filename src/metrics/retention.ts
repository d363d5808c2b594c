// How much of an accepted completion is still in the document a while later. The shell follows the
// inserted range through the edits made since (shiftRange) and compares what is there then with
// what was inserted (retainedChars).

/** A range of document offsets [start, end). */
export interface TrackedRange {
  start: number;
  end: number;
}

/** One document edit: the old text at [offset, offset + removed) replaced by `inserted` characters. */
export interface Edit {
  offset: number;
  removed: number;
  inserted: number;
}

/**
 * The range after `edit`: an edit before it moves it, an edit inside it grows or shrinks it, an edit
 * overlapping an end clips it at the edit (the user's new text there is not the completion's).
 */
export function shiftRange(range: TrackedRange, edit: Edit): TrackedRange {
  const editEnd = edit.offset + edit.removed;
  const delta = edit.inserted - edit.removed;
  if (editEnd <= range.start) return { start: range.start + delta, end: range.end + delta };
  if (edit.offset >= range.end) return range;
  if (edit.offset >= range.start && editEnd <= range.end) return { start: range.start, end: range.end + delta };
  // Overlaps a boundary: keep what survives outside the edit.
  const start = edit.offset < range.start ? edit.offset + edit.inserted : range.start;
  const end = editEnd > range.end ? Math.max(start, edit.offset) : range.end + delta;
  return { start, end: Math.max(start, end) };
}

/**
 * Characters of `accepted` still present in `now` (the text at the tracked range): the longest
 * common subsequence, so an edit in the middle costs what it changed, not everything after it.
 * Long texts are compared line by line to bound the work.
 */
export function retainedChars(accepted: string, now: string): number {
  if (accepted.length * now.length <= 4_000_000) return lcsLength([...accepted], [...now], () => 1);
  return lcsLength(accepted.split('\n'), now.split('\n'), (line) => line.length + 1) - 1;
}

function lcsLength<T>(a: readonly T[], b: readonly T[], weight: (item: T) => number): number {
  let previous = new Array<number>(b.length + 1).fill(0);
  for (let i = 1; i <= a.length; i++) {
    const row = new Array<number>(b.length + 1).fill(0);
    for (let j = 1; j <= b.length; j++)
      row[j] = a[i - 1] === b[j - 1] ? previous[j - 1] + weight(a[i - 1]) : Math.max(previous[j], row[j - 1]);
    previous = row;
  }
  return Math.max(0, previous[b.length]);
}

/** A suggestion on screen: where it starts and what it would insert. */
export interface ShownSuggestion {
  offset: number;
  text: string;
}

/**
 * Characters of `shown` that one edit accepted partly (VS Code's accept-word / accept-line insert a
 * leading part of the suggestion at its start in one edit), or 0. One typed character is typing,
 * all of it is a full acceptance (the item's command reports that).
 */
export function partlyAcceptedChars(shown: ShownSuggestion, edit: { offset: number; removed: number; text: string }): number {
  if (edit.removed !== 0 || edit.offset !== shown.offset) return 0;
  if (edit.text.length < 2 || edit.text.length >= shown.text.length) return 0;
  return shown.text.startsWith(edit.text) ? edit.text.length : 0;
}
