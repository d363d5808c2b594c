// The FIM prompt for one cursor position: a prefix and a suffix window sized by a token budget,
// plus chunks of other files, laid out so the engine can reuse its KV cache across keystrokes.
// The prefix window starts on a line number that is a multiple of `stepLines`, so its start moves
// in steps of whole lines now and then instead of on every new line.
import type { FileChunk, FimTemplate } from './templates';

export interface TokenEstimator {
  estimate(text: string): number;
}

/**
 * Tokens ≈ characters / charsPerToken, calibrated from the engine's real prompt token counts.
 * The default (3.2) is what Qwen's tokenizer gives on typical source code.
 */
export class CharsPerTokenEstimator implements TokenEstimator {
  private measured = false;

  constructor(private charsPerToken = 3.2) {}

  get ratio(): number {
    return this.charsPerToken;
  }

  /** Whether a measurement has replaced the default. */
  get calibrated(): boolean {
    return this.measured;
  }

  estimate(text: string): number {
    return Math.ceil(text.length / this.charsPerToken);
  }

  /**
   * Learn from a measured prompt: the first measurement replaces the default outright (one window
   * move instead of one per call while an average converges), later ones move it slowly.
   */
  calibrate(chars: number, tokens: number): void {
    if (chars < 200 || tokens <= 0) return;
    const measured = Math.min(8, Math.max(1.5, chars / tokens));
    this.charsPerToken = this.measured ? this.charsPerToken * 0.8 + measured * 0.2 : measured;
    this.measured = true;
  }
}

export interface PromptBudget {
  /** Tokens for the prefix and suffix around the cursor. */
  contextTokens: number;
  /** Tokens for other files' chunks (0 = none). */
  extraTokens: number;
  /** Share of contextTokens given to the prefix. */
  prefixShare?: number;
  /** The prefix window's first line is a multiple of this. */
  stepLines?: number;
}

/**
 * Where the previous prompt for the same document put its windows. The windows stay there while
 * their estimated tokens stay between `keepFraction` of the budget and the budget, so a calibrating
 * estimator (or a line more or less) does not move a window's start and cost the engine a full
 * re-evaluation of the prompt. The budget is soft for a kept window: a fresh window fills at most
 * the budget, a kept one may run over it by a little (the context holds several times the budget).
 */
export interface WindowHint {
  /** The prefix window's first line (0-based). */
  startLine: number;
  /** Whole lines in the suffix window after the cursor's line. */
  suffixLines: number;
  /** The first line that went after the middle token (see BuiltPrompt.anchorLine). */
  anchorLine?: number;
}

/** Lines typed since the anchor line stay after the middle token until there are this many. */
export const maxAnchoredLines = 8;

/** A window kept from the previous prompt must still fill at least this share of its budget... */
export const keepFraction = 0.7;
/** ...and at most this share. */
export const keepOverrun = 1.15;

export interface PromptDocument {
  text: string;
  offset: number;
  languageId: string;
  path: string;
  repoName: string;
  /** Other files' chunks, most stable first. */
  files: readonly FileChunk[];
}

export interface BuiltPrompt {
  prompt: string;
  /** Whole lines above the cursor's line that are in the window. */
  prefix: string;
  /** The cursor's line up to the cursor. */
  linePrefix: string;
  /** The cursor's line after the cursor. */
  lineSuffix: string;
  /** Everything in the suffix window, the rest of the cursor's line included. */
  suffix: string;
  /** Line number of the first prefix line (0-based). */
  windowStartLine: number;
  /** Whole lines in the suffix window after the cursor's line. */
  suffixLines: number;
  /**
   * The first line of the text after the middle token: the cursor's line, or with a previous
   * prompt's anchor the line where typing started (up to maxAnchoredLines back). Lines the user
   * adds then only append to the prompt, and the suffix before them keeps its KV cache.
   */
  anchorLine: number;
  files: readonly FileChunk[];
  estimatedTokens: number;
}

function countNewlines(text: string, end: number): number {
  let count = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < end; i = text.indexOf('\n', i + 1)) count++;
  return count;
}

/** Picks the files (newest first until the budget is spent) but keeps them in ring order. */
export function selectFiles(files: readonly FileChunk[], budgetTokens: number, estimator: TokenEstimator): FileChunk[] {
  const chosen: boolean[] = new Array(files.length).fill(false);
  let used = 0;
  for (let i = files.length - 1; i >= 0; i--) {
    const cost = estimator.estimate(files[i].text) + estimator.estimate(files[i].path) + 2;
    if (used + cost > budgetTokens) continue;
    used += cost;
    chosen[i] = true;
  }
  return files.filter((_, i) => chosen[i]);
}

export function buildPrompt(
  template: FimTemplate,
  doc: PromptDocument,
  budget: PromptBudget,
  estimator: TokenEstimator,
  previous?: WindowHint,
): BuiltPrompt {
  const { text, offset } = doc;
  const prefixBudget = Math.floor(budget.contextTokens * (budget.prefixShare ?? 0.75));
  const suffixBudget = budget.contextTokens - prefixBudget;
  const step = Math.max(1, budget.stepLines ?? 16);

  const lineStart = text.lastIndexOf('\n', offset - 1) + 1;
  const lineEndRaw = text.indexOf('\n', offset);
  const lineEnd = lineEndRaw === -1 ? text.length : lineEndRaw;
  const linePrefix = text.slice(lineStart, offset);
  const lineSuffix = text.slice(offset, lineEnd);

  // Prefix: whole lines above the cursor's line — from the previous window's start when that still
  // fits the budget well, else back until the budget is spent.
  const cursorLine = countNewlines(text, lineStart);
  const linePrefixTokens = estimator.estimate(linePrefix);
  const back = (limit: number, maxLines: number) => {
    let used = linePrefixTokens;
    let start = lineStart;
    let lines = 0;
    while (start > 0 && lines < maxLines) {
      const previous = text.lastIndexOf('\n', start - 2) + 1;
      const cost = estimator.estimate(text.slice(previous, start));
      if (used + cost > limit) break;
      used += cost;
      start = previous;
      lines++;
    }
    return { used, start, lines };
  };
  let kept: ReturnType<typeof back> | undefined;
  if (previous && previous.startLine <= cursorLine) {
    const want = cursorLine - previous.startLine;
    const window = back(Math.floor(prefixBudget * keepOverrun), want);
    if (window.lines === want && (window.start === 0 || window.used >= keepFraction * prefixBudget)) kept = window;
  }
  const window = kept ?? back(prefixBudget, Infinity);
  const used = window.used;
  let start = window.start;
  let windowStartLine = cursorLine - window.lines;
  if (!kept && start > 0 && windowStartLine % step !== 0) {
    // Truncated: move the start forward to the next multiple of `step`.
    const snapped = Math.min(cursorLine, Math.ceil(windowStartLine / step) * step);
    for (; windowStartLine < snapped; windowStartLine++) start = text.indexOf('\n', start) + 1;
  }
  const prefix = text.slice(start, lineStart);
  const anchored = previous?.anchorLine;
  const anchorLine =
    anchored !== undefined && anchored >= windowStartLine && anchored <= cursorLine && cursorLine - anchored < maxAnchoredLines
      ? anchored
      : cursorLine;
  let anchorOffset = start;
  for (let line = windowStartLine; line < anchorLine; line++) anchorOffset = text.indexOf('\n', anchorOffset) + 1;
  const prefixTokens = start === lineStart ? linePrefixTokens : used;

  // Suffix: the rest of the cursor's line, then whole lines — as many as the previous window had
  // when they still fit the budget well, else until the budget is spent.
  const forward = (limit: number, maxLines: number) => {
    let end = lineEnd;
    let used = estimator.estimate(lineSuffix);
    let lines = 0;
    while (end < text.length && lines < maxLines) {
      const nextRaw = text.indexOf('\n', end + 1);
      const next = nextRaw === -1 ? text.length : nextRaw;
      const cost = estimator.estimate(text.slice(end, next));
      if (used + cost > limit) break;
      used += cost;
      end = next;
      lines++;
    }
    return { end, used, lines };
  };
  let keptSuffix: ReturnType<typeof forward> | undefined;
  if (previous) {
    const window = forward(Math.floor(suffixBudget * keepOverrun), previous.suffixLines);
    const complete = window.lines === previous.suffixLines || window.end >= text.length;
    if (complete && (window.end >= text.length || window.used >= keepFraction * suffixBudget)) keptSuffix = window;
  }
  const { end: suffixEnd, used: suffixUsed, lines: suffixLines } = keptSuffix ?? forward(suffixBudget, Infinity);
  // Keep the newline that ends the window's last line: the model sees where the line ends.
  const suffix = text.slice(offset, suffixEnd < text.length ? suffixEnd + 1 : suffixEnd);

  const files = budget.extraTokens > 0 ? selectFiles(doc.files, budget.extraTokens, estimator) : [];
  const prompt = template.build({
    prefix: text.slice(start, anchorOffset),
    linePrefix: text.slice(anchorOffset, offset),
    suffix,
    files,
    path: doc.path,
    repoName: doc.repoName,
    languageId: doc.languageId,
  });
  const filesTokens = files.reduce((sum, f) => sum + estimator.estimate(f.text), 0);
  return {
    prompt,
    prefix,
    linePrefix,
    lineSuffix,
    suffix,
    windowStartLine,
    suffixLines,
    anchorLine,
    files,
    estimatedTokens: prefixTokens + suffixUsed + filesTokens,
  };
}
