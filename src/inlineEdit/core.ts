// Inline edit without vscode: which lines an edit rewrites, the prompt around them, the model's
// answer cleaned of markdown, and the rewrite as line hunks (the `diff` library's LCS) that can be
// accepted or rejected one by one. The shell (index.ts, session.ts) only renders and applies.
import { diffArrays } from 'diff';

import type { ChatMessage } from '../engine/protocol';
import { systemWithRules, type RulesText } from '../rules/prompt';

/** Lines [start, end] of the document (0-based, inclusive) that an edit rewrites. */
export interface LineRegion {
  start: number;
  end: number;
}

/** A selection as the editor gives it (0-based positions). */
export interface SelectionLike {
  startLine: number;
  startCharacter: number;
  endLine: number;
  endCharacter: number;
}

/**
 * The whole lines an edit rewrites. A selection is widened to whole lines (a selection ending at
 * column 0 of a later line leaves that line out); an empty one takes the block at the cursor.
 */
export function editRegion(lines: readonly string[], selection: SelectionLike): LineRegion {
  const empty = selection.startLine === selection.endLine && selection.startCharacter === selection.endCharacter;
  if (empty) return blockAt(lines, selection.startLine);
  const end = selection.endCharacter === 0 && selection.endLine > selection.startLine ? selection.endLine - 1 : selection.endLine;
  return { start: selection.startLine, end };
}

const indentOf = (line: string): number => /^\s*/.exec(line)![0].length;
const CLOSER = /^\s*([}\])]|end\b|fi\b|done\b|esac\b)/;

/**
 * The cursor's line, and when it opens a block (the next non-blank line is indented deeper) the
 * whole block, with the closing line at the opening line's indentation (`}`, `end`, `)`).
 */
export function blockAt(lines: readonly string[], line: number): LineRegion {
  const at = Math.max(0, Math.min(line, lines.length - 1));
  const head = lines[at] ?? '';
  if (head.trim() === '') return { start: at, end: at };
  const base = indentOf(head);
  let next = at + 1;
  while (next < lines.length && lines[next].trim() === '') next++;
  if (next >= lines.length || indentOf(lines[next]) <= base) return { start: at, end: at };
  let end = next;
  for (let n = next + 1; n < lines.length; n++) {
    if (lines[n].trim() === '') continue;
    if (indentOf(lines[n]) > base) {
      end = n;
      continue;
    }
    if (indentOf(lines[n]) === base && CLOSER.test(lines[n])) end = n;
    break;
  }
  return { start: at, end };
}

/** Rough tokens of a text for budgeting context (code runs ~3–4 characters a token; 3 errs short). */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 3);
}

export interface EditBudget {
  /** Most tokens the region may have: its rewrite must fit in the context beside it. */
  maxRegionTokens: number;
  /** Tokens of surrounding file shown before and after the region together. */
  contextTokens: number;
}

/**
 * How a context of `contextSize` tokens is shared: the region appears twice (in the prompt and
 * rewritten, a bit longer), the rest of the file gets what is left, at most a quarter.
 */
export function editBudget(contextSize: number, regionTokens: number): EditBudget {
  const overhead = 400;
  const maxRegionTokens = Math.max(0, Math.floor((contextSize - overhead) / 2.5));
  const left = contextSize - overhead - Math.ceil(regionTokens * 2.5);
  return { maxRegionTokens, contextTokens: Math.max(0, Math.min(Math.floor(contextSize / 4), left)) };
}

/** Tokens to allow the rewrite: the region's size with room to grow, within what the context leaves. */
export function maxRewriteTokens(contextSize: number, promptTokens: number, regionTokens: number): number {
  const wanted = Math.ceil(regionTokens * 1.5) + 256;
  return Math.max(16, Math.min(wanted, contextSize - promptTokens - 16));
}

/** The file's lines just before and just after the region, nearest first, within `budgetTokens`. */
export function surroundingCode(lines: readonly string[], region: LineRegion, budgetTokens: number): { before: string; after: string } {
  const before: string[] = [];
  const after: string[] = [];
  let left = budgetTokens;
  let up = region.start - 1;
  let down = region.end + 1;
  // Alternate: two lines above for each below (the code above says more about intent).
  while (left > 0 && (up >= 0 || down < lines.length)) {
    let took = false;
    for (let i = 0; i < 2 && up >= 0; i++, up--) {
      const cost = estimateTokens(lines[up]) + 1;
      if (cost > left) {
        up = -1;
        break;
      }
      before.unshift(lines[up]);
      left -= cost;
      took = true;
    }
    if (down < lines.length) {
      const cost = estimateTokens(lines[down]) + 1;
      if (cost <= left) {
        after.push(lines[down]);
        left -= cost;
        down++;
        took = true;
      } else down = lines.length;
    }
    if (!took) break;
  }
  return { before: before.join('\n'), after: after.join('\n') };
}

export interface InlineEditPromptInput {
  path: string;
  languageId: string;
  instruction: string;
  region: string;
  before: string;
  after: string;
  /** The project's rules files (AGENTS.md, …), already cut to fit; undefined when none or turned off. */
  rules?: RulesText;
}

const FENCE = '```';

export function inlineEditMessages(input: InlineEditPromptInput): ChatMessage[] {
  const system = systemWithRules(
    [
      'You edit code in an editor. Rewrite the region the user marks, following the instruction.',
      'Reply with the rewritten region only: the complete replacement lines, keeping the file’s indentation and style.',
      'No explanations, no markdown fences, nothing before or after the code.',
    ].join('\n'),
    input.rules,
  );
  const block = (text: string) => `${FENCE}${input.languageId}\n${text}\n${FENCE}`;
  const user = [
    `File: ${input.path}`,
    input.before ? `Code before the region:\n${block(input.before)}` : 'The region starts the file.',
    `Region to rewrite:\n${block(input.region)}`,
    input.after ? `Code after the region:\n${block(input.after)}` : 'The region ends the file.',
    `Instruction: ${input.instruction}`,
    'Reply with the rewritten region only.',
  ].join('\n\n');
  return [
    { role: 'system', content: system },
    { role: 'user', content: user },
  ];
}

const FENCE_LINE = /^\s*```[\w+#.-]*\s*$/;

/**
 * The code in a model's answer: an opening fence (and any prose before it) and a closing fence
 * (and anything after it) are dropped. While the answer is still streaming (`final` false) its
 * unfinished last line is held back (it may yet become a fence).
 */
export function extractCode(answer: string, final: boolean): string[] {
  let lines = answer.replace(/\r\n/g, '\n').split('\n');
  if (!final) lines = lines.slice(0, -1);
  const fence = lines.findIndex((l) => FENCE_LINE.test(l));
  if (fence >= 0) {
    const before = lines.slice(0, fence).filter((l) => l.trim() !== '');
    // An answer opening with a fence, or with a line or two of prose ending in a colon ("Here is
    // the code:"), holds the code inside the fences; a fence after code only closes it.
    const opens = before.length === 0 || (before.length <= 3 && before[before.length - 1].trimEnd().endsWith(':'));
    if (opens) {
      lines = lines.slice(fence + 1);
      const close = lines.findIndex((l) => FENCE_LINE.test(l));
      if (close >= 0) lines = lines.slice(0, close);
    } else lines = lines.slice(0, fence);
  }
  if (final) {
    // A trailing newline ends the last line; it is not an empty line of its own.
    while (lines.length > 0 && lines[lines.length - 1].trim() === '') lines.pop();
  }
  return lines;
}

/** One changed stretch: `oldLines` at `oldStart` (0-based, within the region) become `newLines`. */
export interface EditHunk {
  oldStart: number;
  oldLines: string[];
  newLines: string[];
}

/** The rewrite as hunks: each run of removed and added lines between unchanged ones. */
export function lineHunks(oldLines: readonly string[], newLines: readonly string[]): EditHunk[] {
  const hunks: EditHunk[] = [];
  let oldIndex = 0;
  let current: EditHunk | undefined;
  for (const change of diffArrays([...oldLines], [...newLines])) {
    if (!change.added && !change.removed) {
      current = undefined;
      oldIndex += change.count;
      continue;
    }
    current ??= hunks[hunks.push({ oldStart: oldIndex, oldLines: [], newLines: [] }) - 1];
    if (change.removed) {
      current.oldLines.push(...change.value);
      oldIndex += change.count;
    } else current.newLines.push(...change.value);
  }
  return hunks;
}

/**
 * The hunks of a rewrite still being written: the new lines so far compared with the old ones;
 * old lines after the last one the answer has reached are not shown as removed yet (the rest of
 * the answer may keep them).
 */
export function streamingHunks(oldLines: readonly string[], newLinesSoFar: readonly string[]): EditHunk[] {
  const hunks = lineHunks(oldLines, newLinesSoFar);
  const last = hunks[hunks.length - 1];
  if (last && last.oldStart + last.oldLines.length === oldLines.length) {
    if (last.newLines.length === 0) hunks.pop();
    else last.oldLines = [];
  }
  return hunks;
}

/** The region's lines with the hunks whose index is in `accepted` applied and the others left out. */
export function applyHunks(oldLines: readonly string[], hunks: readonly EditHunk[], accepted: ReadonlySet<number>): string[] {
  const result: string[] = [];
  let next = 0;
  hunks.forEach((hunk, index) => {
    result.push(...oldLines.slice(next, hunk.oldStart));
    result.push(...(accepted.has(index) ? hunk.newLines : hunk.oldLines));
    next = hunk.oldStart + hunk.oldLines.length;
  });
  result.push(...oldLines.slice(next));
  return result;
}
