// The user's recent edits across files, as the next-edit prompt shows them: whole-line hunks
// (old lines → new lines), one per burst of editing in one place, oldest first so that the part of
// the prompt that does not change between requests comes first (the engine reuses its KV cache).
//
// Decisions (bad input):
// - A document over `maxFileChars` (1 MB) is not followed at all (no snapshot, no hunks).
// - A hunk with a line over `maxLineChars` (10k, minified code) is not recorded: it would eat the
//   whole token budget and teaches the model nothing.
// - An edit storm — one change event touching more than `stormLines` lines (a formatter rewriting
//   the file, a paste of thousands of lines) — is dropped, not summarised: a summary line gives the
//   model no text to continue from, and the hunks it would push out are worth more. The storm ends
//   the current burst, so the next keystroke starts a new hunk against the new text.
import type { DocumentChange } from './types';

export interface EditHunk {
  uri: string;
  languageId: string;
  /** Zero-based line where the hunk starts, in the document as it was after the hunk. */
  startLine: number;
  /** The whole lines before the burst (no trailing newline; '' for an insertion into one line). */
  oldText: string;
  /** The same lines after it. */
  newText: string;
  /** Character offset of `newText` in the document right after the hunk's last change. */
  offset: number;
  /** When the burst last changed (ms). */
  at: number;
}

export interface EditHistoryOptions {
  /** Estimated-token budget of what `recent()` returns (chars / 4). */
  maxTokens?: number;
  /** Hunks kept at most (older ones are dropped). */
  maxHunks?: number;
  /** Documents followed at most (least recently changed ones are forgotten). */
  maxDocuments?: number;
  maxFileChars?: number;
  maxLineChars?: number;
  /** A change event touching more lines than this is an edit storm (not recorded). */
  stormLines?: number;
  /** A burst ends when it grows past this many lines or after this long without an edit there. */
  burstLines?: number;
  burstIdleMs?: number;
}

const defaults: Required<EditHistoryOptions> = {
  maxTokens: 1200,
  maxHunks: 64,
  maxDocuments: 32,
  maxFileChars: 1_000_000,
  maxLineChars: 10_000,
  stormLines: 200,
  burstLines: 24,
  burstIdleMs: 30_000,
};

/** Rough token count (~4 characters a token for code), used only to bound prompt sections. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

export class EditHistory {
  private readonly options: Required<EditHistoryOptions>;
  private readonly snapshots = new Map<string, string>();
  private hunks: EditHunk[] = [];
  /** The hunk of each document's burst in progress (it still grows while edits stay near it). */
  private readonly open = new Map<string, EditHunk>();

  constructor(options: EditHistoryOptions = {}) {
    this.options = { ...defaults, ...options };
  }

  record(change: DocumentChange, now = Date.now()): void {
    const o = this.options;
    const after = change.textAfter;
    const before = this.snapshots.get(change.uri) ?? reconstructBefore(change);
    if (after.length > o.maxFileChars) {
      this.forget(change.uri);
      return;
    }
    this.snapshots.delete(change.uri); // re-inserted last: the map's order is recency
    this.snapshots.set(change.uri, after);
    if (this.snapshots.size > o.maxDocuments) this.forget(this.snapshots.keys().next().value as string);
    if (before === undefined || before === after) return;

    const region = changedLines(before, after);
    if (countLines(region.oldText) > o.stormLines || countLines(region.newText) > o.stormLines) {
      this.open.delete(change.uri);
      return;
    }
    const burst = this.open.get(change.uri);
    const merged = burst && now - burst.at <= o.burstIdleMs ? mergeIntoBurst(burst, region, before, after) : undefined;
    const hunk: EditHunk = merged
      ? { ...merged, uri: change.uri, languageId: change.languageId, at: now }
      : {
          uri: change.uri,
          languageId: change.languageId,
          startLine: lineOf(after, region.start),
          oldText: region.oldText,
          newText: region.newText,
          offset: region.start,
          at: now,
        };
    if (merged) this.hunks = this.hunks.filter((h) => h !== burst);
    this.open.delete(change.uri);
    if (hunk.oldText === hunk.newText) {
      return; // typed and taken back: nothing happened
    }
    if (longestLine(hunk.oldText) > o.maxLineChars || longestLine(hunk.newText) > o.maxLineChars) return;
    this.hunks.push(hunk);
    if (countLines(hunk.newText) <= o.burstLines) this.open.set(change.uri, hunk);
    if (this.hunks.length > o.maxHunks) this.hunks.splice(0, this.hunks.length - o.maxHunks);
  }

  /** The newest hunks that fit the token budget, oldest first. */
  recent(maxTokens = this.options.maxTokens): EditHunk[] {
    const out: EditHunk[] = [];
    let used = 0;
    for (let i = this.hunks.length - 1; i >= 0; i--) {
      const h = this.hunks[i];
      const cost = estimateTokens(h.oldText) + estimateTokens(h.newText) + 16;
      if (used + cost > maxTokens) break;
      used += cost;
      out.push(h);
    }
    return out.reverse();
  }

  /** The newest hunk of a document (what the user just did there). */
  last(uri: string): EditHunk | undefined {
    for (let i = this.hunks.length - 1; i >= 0; i--) if (this.hunks[i].uri === uri) return this.hunks[i];
    return undefined;
  }

  /** The document's text as last seen (undefined when it is not followed). */
  textOf(uri: string): string | undefined {
    return this.snapshots.get(uri);
  }

  forget(uri: string): void {
    this.snapshots.delete(uri);
    this.open.delete(uri);
    this.hunks = this.hunks.filter((h) => h.uri !== uri);
  }

  clear(): void {
    this.snapshots.clear();
    this.open.clear();
    this.hunks = [];
  }
}

interface LineRegion {
  /** Offset of the first changed line's start (the same in both texts). */
  start: number;
  /** End of the last changed line in `before` (exclusive, before its newline). */
  oldEnd: number;
  newEnd: number;
  oldText: string;
  newText: string;
}

/** The whole lines that differ between two texts (common prefix and suffix trimmed). */
export function changedLines(before: string, after: string): LineRegion {
  const limit = Math.min(before.length, after.length);
  let prefix = 0;
  while (prefix < limit && before.charCodeAt(prefix) === after.charCodeAt(prefix)) prefix++;
  let suffix = 0;
  while (suffix < limit - prefix && before.charCodeAt(before.length - 1 - suffix) === after.charCodeAt(after.length - 1 - suffix)) suffix++;
  const start = prefix === 0 ? 0 : before.lastIndexOf('\n', prefix - 1) + 1;
  const lineEnd = (text: string, from: number): number => {
    const at = text.indexOf('\n', from);
    return at < 0 ? text.length : at;
  };
  const oldEnd = lineEnd(before, before.length - suffix);
  const newEnd = lineEnd(after, after.length - suffix);
  return { start, oldEnd, newEnd, oldText: before.slice(start, oldEnd), newText: after.slice(start, newEnd) };
}

/**
 * Extends the burst with a change when it touches the burst's lines or the line just above or
 * below; the merged hunk goes from the text before the burst to the text now.
 */
function mergeIntoBurst(burst: EditHunk, region: LineRegion, before: string, after: string): EditHunk | undefined {
  const burstStart = burst.offset;
  const burstEnd = burst.offset + burst.newText.length;
  // One line of slack on either side: the previous line's start, the next line's end.
  const slackStart = burstStart === 0 ? 0 : before.lastIndexOf('\n', burstStart - 2) + 1;
  const nextBreak = before.indexOf('\n', burstEnd + 1);
  const slackEnd = burstEnd >= before.length ? before.length : nextBreak < 0 ? before.length : nextBreak;
  if (region.start > slackEnd || region.oldEnd < slackStart) return undefined;
  if (before.slice(burstStart, burstEnd) !== burst.newText) return undefined; // the snapshot moved on
  const start = Math.min(burstStart, region.start);
  const endBefore = Math.max(burstEnd, region.oldEnd);
  const delta = after.length - before.length;
  return {
    ...burst,
    startLine: lineOf(after, start),
    offset: start,
    oldText: before.slice(start, burstStart) + burst.oldText + before.slice(burstEnd, endBefore),
    newText: after.slice(start, endBefore + delta),
  };
}

/**
 * The text before a change when no snapshot exists (the document's first recorded change): only
 * pure insertions can be undone without knowing what was deleted.
 */
function reconstructBefore(change: DocumentChange): string | undefined {
  if (change.changes.length !== 1) return undefined;
  const [c] = change.changes;
  if (c.rangeLength !== 0) return undefined;
  const start = offsetAt(change.textAfter, c.range.start.line, c.range.start.character);
  if (start === undefined || change.textAfter.slice(start, start + c.text.length) !== c.text) return undefined;
  return change.textAfter.slice(0, start) + change.textAfter.slice(start + c.text.length);
}

function offsetAt(text: string, line: number, character: number): number | undefined {
  let at = 0;
  for (let l = 0; l < line; l++) {
    const next = text.indexOf('\n', at);
    if (next < 0) return undefined;
    at = next + 1;
  }
  return at + character;
}

export function lineOf(text: string, offset: number): number {
  let line = 0;
  for (let at = text.indexOf('\n'); at >= 0 && at < offset; at = text.indexOf('\n', at + 1)) line++;
  return line;
}

export function countLines(text: string): number {
  let n = 1;
  for (let at = text.indexOf('\n'); at >= 0; at = text.indexOf('\n', at + 1)) n++;
  return n;
}

function longestLine(text: string): number {
  let longest = 0;
  let from = 0;
  for (;;) {
    const at = text.indexOf('\n', from);
    const end = at < 0 ? text.length : at;
    longest = Math.max(longest, end - from);
    if (at < 0) return longest;
    from = at + 1;
  }
}
