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
  constructor(private charsPerToken = 3.2) {}

  get ratio(): number {
    return this.charsPerToken;
  }

  estimate(text: string): number {
    return Math.ceil(text.length / this.charsPerToken);
  }

  /** Learn from a measured prompt; slow-moving so windows do not jitter between requests. */
  calibrate(chars: number, tokens: number): void {
    if (chars < 200 || tokens <= 0) return;
    const measured = Math.min(8, Math.max(1.5, chars / tokens));
    this.charsPerToken = this.charsPerToken * 0.8 + measured * 0.2;
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

export function buildPrompt(template: FimTemplate, doc: PromptDocument, budget: PromptBudget, estimator: TokenEstimator): BuiltPrompt {
  const { text, offset } = doc;
  const prefixBudget = Math.floor(budget.contextTokens * (budget.prefixShare ?? 0.75));
  const suffixBudget = budget.contextTokens - prefixBudget;
  const step = Math.max(1, budget.stepLines ?? 16);

  const lineStart = text.lastIndexOf('\n', offset - 1) + 1;
  const lineEndRaw = text.indexOf('\n', offset);
  const lineEnd = lineEndRaw === -1 ? text.length : lineEndRaw;
  const linePrefix = text.slice(lineStart, offset);
  const lineSuffix = text.slice(offset, lineEnd);

  // Prefix: whole lines above the cursor's line, back until the budget is spent.
  let used = estimator.estimate(linePrefix);
  let start = lineStart;
  let linesBack = 0;
  while (start > 0) {
    const previous = text.lastIndexOf('\n', start - 2) + 1;
    const cost = estimator.estimate(text.slice(previous, start));
    if (used + cost > prefixBudget) break;
    used += cost;
    start = previous;
    linesBack++;
  }
  const cursorLine = countNewlines(text, lineStart);
  let windowStartLine = cursorLine - linesBack;
  if (start > 0 && windowStartLine % step !== 0) {
    // Truncated: move the start forward to the next multiple of `step`.
    const snapped = Math.min(cursorLine, Math.ceil(windowStartLine / step) * step);
    for (; windowStartLine < snapped; windowStartLine++) start = text.indexOf('\n', start) + 1;
  }
  const prefix = text.slice(start, lineStart);
  const prefixTokens = start === lineStart ? estimator.estimate(linePrefix) : used;

  // Suffix: the rest of the cursor's line, then whole lines until the budget is spent.
  let suffixEnd = lineEnd;
  let suffixUsed = estimator.estimate(lineSuffix);
  while (suffixEnd < text.length) {
    const nextRaw = text.indexOf('\n', suffixEnd + 1);
    const next = nextRaw === -1 ? text.length : nextRaw;
    const cost = estimator.estimate(text.slice(suffixEnd, next));
    if (suffixUsed + cost > suffixBudget) break;
    suffixUsed += cost;
    suffixEnd = next;
  }
  // Keep the newline that ends the window's last line: the model sees where the line ends.
  const suffix = text.slice(offset, suffixEnd < text.length ? suffixEnd + 1 : suffixEnd);

  const files = budget.extraTokens > 0 ? selectFiles(doc.files, budget.extraTokens, estimator) : [];
  const prompt = template.build({
    prefix,
    linePrefix,
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
    files,
    estimatedTokens: prefixTokens + suffixUsed + filesTokens,
  };
}
