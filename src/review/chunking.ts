// Splits a file's changes into review requests that fit a token budget. Each request shows the
// changed lines with some surrounding code from the new file, every line numbered as in the new
// file so findings can cite it; the hunks of one file share a request while they fit.
import { changedLines, mergeRanges, type FileDiff, type LineRange } from './diff';

export type TokenCounter = (text: string) => number | Promise<number>;

export interface ChunkOptions {
  /** Lines of unchanged code shown around each change. */
  contextLines: number;
  /** Most tokens the code part of one request may take. */
  budgetTokens: number;
  countTokens: TokenCounter;
}

export interface ReviewChunk {
  path: string;
  /** The request's code: a file header, then numbered windows of the new file. */
  text: string;
  tokens: number;
  /** New-file lines shown in this request (sorted) — the only lines a finding may cite. */
  shownLines: number[];
  /** Changed new-file lines inside this request. */
  changed: LineRange[];
}

interface RenderedLine {
  /** New-file line, or undefined for a deleted line (shown, not citable). */
  line?: number;
  mark: '+' | '-' | ' ';
  text: string;
}

interface Window {
  lines: RenderedLine[];
  changed: LineRange[];
  tokens: number;
}

/**
 * Builds the requests for one file. `newContent` is the new file's text (for the surrounding
 * code); without it only the diff's own lines are shown.
 */
export async function chunkFile(file: FileDiff, newContent: readonly string[] | undefined, options: ChunkOptions): Promise<ReviewChunk[]> {
  const header = fileHeader(file);
  const headerTokens = await options.countTokens(header);
  const budget = options.budgetTokens - headerTokens;
  if (budget <= 0) throw new Error(`The review token budget (${options.budgetTokens}) is too small for even a file header.`);

  const windows: Window[] = [];
  for (const lines of renderWindows(file, newContent, options.contextLines)) {
    const tokens = await options.countTokens(renderWindow(lines));
    if (tokens <= budget) windows.push({ lines, changed: changedIn(lines, file), tokens });
    else windows.push(...(await splitWindow(lines, budget, options.countTokens, file)));
  }

  const chunks: ReviewChunk[] = [];
  let group: Window[] = [];
  let groupTokens = 0;
  const flush = () => {
    if (!group.length) return;
    const text = [header, ...group.map((w) => renderWindow(w.lines))].join('\n');
    const shownLines = group.flatMap((w) => w.lines.map((l) => l.line).filter((n): n is number => n !== undefined));
    chunks.push({
      path: file.path,
      text,
      tokens: headerTokens + groupTokens,
      shownLines: [...new Set(shownLines)].sort((a, b) => a - b),
      changed: mergeRanges(group.flatMap((w) => w.changed)),
    });
    group = [];
    groupTokens = 0;
  };
  for (const w of windows) {
    // +1: the newline joining windows.
    if (group.length && groupTokens + w.tokens + 1 > budget) flush();
    group.push(w);
    groupTokens += w.tokens + (group.length > 1 ? 1 : 0);
  }
  flush();
  return chunks;
}

export function fileHeader(file: FileDiff): string {
  const from = file.status === 'renamed' && file.oldPath ? `, renamed from ${file.oldPath}` : '';
  return `File: ${file.path} (${file.status}${from})`;
}

/**
 * One window per group of nearby changes: the changed new-file lines plus `contextLines` either
 * side (windows that touch are merged), with deleted lines shown where they were.
 */
function renderWindows(file: FileDiff, newContent: readonly string[] | undefined, contextLines: number): RenderedLine[][] {
  const deletedBefore = new Map<number, string[]>();
  const diffText = new Map<number, string>();
  for (const hunk of file.hunks) {
    let nextNew = hunk.newStart === 0 ? 1 : hunk.newStart;
    for (const l of hunk.lines) {
      if (l.kind === 'del') {
        const at = deletedBefore.get(nextNew) ?? [];
        at.push(l.text);
        deletedBefore.set(nextNew, at);
      } else {
        diffText.set(l.newLine!, l.text);
        nextNew = l.newLine! + 1;
      }
    }
  }
  const addedLines = new Set(file.hunks.flatMap((h) => h.lines.filter((l) => l.kind === 'add').map((l) => l.newLine!)));
  const lineCount = newContent ? newContent.length : Math.max(0, ...diffText.keys());
  const textOf = (n: number) => newContent?.[n - 1] ?? diffText.get(n);
  const spans = mergeRanges(
    changedLines(file).map((r) => ({
      start: Math.max(1, r.start - contextLines),
      end: Math.min(Math.max(lineCount, 1), r.end + contextLines),
    })),
  );
  return spans.map((span) => {
    const lines: RenderedLine[] = [];
    for (let n = span.start; n <= span.end; n++) {
      for (const text of deletedBefore.get(n) ?? []) lines.push({ mark: '-', text });
      const text = textOf(n);
      if (text !== undefined) lines.push({ line: n, mark: addedLines.has(n) ? '+' : ' ', text });
    }
    // Deletions at the very end of the file sit after the last line.
    if (span.end === lineCount) for (const text of deletedBefore.get(lineCount + 1) ?? []) lines.push({ mark: '-', text });
    return lines;
  });
}

function renderWindow(lines: readonly RenderedLine[]): string {
  const numbered = lines.filter((l) => l.line !== undefined).map((l) => l.line!);
  const title = numbered.length ? `@@ lines ${numbered[0]}-${numbered[numbered.length - 1]} @@` : '@@ removed lines @@';
  const width = String(numbered[numbered.length - 1] ?? 0).length;
  return [
    title,
    ...lines.map((l) => `${l.mark} ${l.line === undefined ? ' '.repeat(width) : String(l.line).padStart(width)} | ${l.text}`),
  ].join('\n');
}

function changedIn(lines: readonly RenderedLine[], file: FileDiff): LineRange[] {
  const shown = new Set(lines.map((l) => l.line).filter((n): n is number => n !== undefined));
  return changedLines(file)
    .flatMap((r) => {
      const inside: LineRange[] = [];
      for (let n = r.start; n <= r.end; n++) if (shown.has(n)) inside.push({ start: n, end: n });
      return inside;
    })
    .reduce<LineRange[]>((acc, r) => mergeRanges([...acc, r]), []);
}

/** Cuts a window too big for the budget into consecutive pieces that fit (a line never splits). */
async function splitWindow(lines: readonly RenderedLine[], budget: number, count: TokenCounter, file: FileDiff): Promise<Window[]> {
  const pieces: Window[] = [];
  let current: RenderedLine[] = [];
  let tokens = 0;
  const titleTokens = 16;
  const flush = () => {
    if (current.length) pieces.push({ lines: current, changed: changedIn(current, file), tokens: tokens + titleTokens });
    current = [];
    tokens = 0;
  };
  for (const line of lines) {
    const t = (await count(renderWindow([line]))) + 1;
    if (current.length && tokens + t + titleTokens > budget) flush();
    // A single line longer than the budget is cut to fit rather than dropped.
    current.push(t + titleTokens > budget ? { ...line, text: line.text.slice(0, Math.max(16, budget * 2)) } : line);
    tokens += Math.min(t, budget - titleTokens);
  }
  flush();
  return pieces;
}
