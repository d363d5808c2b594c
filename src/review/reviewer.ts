// Runs a review over any Backend, file by file. A file's findings are committed only when all of
// its requests have answered, so a cancelled or failed review never leaves half a file behind.
import { EngineError, type Backend, type ChatMessage, type EngineInfo, type StructuredResult } from '../engine/protocol';
import { nullLogger, type Logger } from '../logger';
import { chunkFile, type ReviewChunk } from './chunking';
import { generatedByPath, selectReviewable, splitLines, type FileDiff, type SkippedFile } from './diff';
import { countBySeverity, dedupeFindings, placeFindings, sortFindings, type Finding } from './findings';
import { DEFAULT_LIMITS, findingsSchema, validateReviewOutput, type SchemaOptions } from './schema';
import { errorMessage } from '../util';
import { fitRules, RULES_CONTEXT_SHARE, systemWithRules, type RulesText } from '../rules/prompt';

export interface ReviewInput {
  /** What is reviewed, in words: "uncommitted changes", "src/a.ts". */
  title: string;
  files: readonly FileDiff[];
  /** Files already known to be skipped (e.g. an untracked binary). */
  skipped?: readonly SkippedFile[];
  /** The reviewed version of a file (for surrounding code and line counts); undefined if unknown. */
  readFile(path: string): Promise<string | undefined>;
  /** Reviewed-version line → current-file line, for reviews of a version that is not on disk. */
  lineMapper?(path: string): Promise<((line: number) => number | undefined) | undefined>;
}

export interface ReviewOptions {
  maxTokens: number;
  contextLines: number;
  temperature?: number;
  seed?: number;
  /** Lines beyond a change a finding may reach and still count as on it (default 3). */
  tolerance?: number;
  /** Findings beyond the changed lines: dropped (default) or kept and flagged. */
  outside?: 'drop' | 'flag';
  /** Token budget for the code of one request; default: what the context leaves. */
  budgetTokens?: number;
  schemaLimits?: Pick<SchemaOptions, 'maxFindings' | 'minFindings' | 'maxMessageChars' | 'maxReplacementChars'>;
  signal?: AbortSignal;
  onProgress?(progress: ReviewProgress): void;
  /** Called once per file, after all its requests answered, with that file's findings. */
  onFileReviewed?(path: string, findings: readonly Finding[]): void;
  logger?: Logger;
  /** The project's rules files (AGENTS.md, …): they go into every request's instructions. */
  rules?: RulesText;
}

export interface ReviewProgress {
  file: string;
  fileIndex: number;
  fileCount: number;
  request: number;
  requestCount: number;
}

export interface ReviewResult {
  title: string;
  findings: Finding[];
  reviewed: string[];
  skipped: SkippedFile[];
  failed: { path: string; error: string }[];
  counts: { error: number; warning: number; info: number };
  /** Findings the model gave that were left out (off the change, malformed, gone). */
  dropped: number;
  cancelled: boolean;
  requests: number;
  /** Added lines in the reviewed files. */
  changedLines: number;
  durationMs: number;
  promptTokens: number;
  generatedTokens: number;
  /** Generated tokens per second of decoding (from the first token to the last, summed over requests). */
  tokensPerSecond: number;
  /** Prompt tokens per second of prompt evaluation (request start to first token). */
  promptTokensPerSecond: number;
}

/** Errors after which no further request can succeed: stop the review and tell the user. */
const FATAL: ReadonlySet<string> = new Set(['ENGINE_UNAVAILABLE', 'ENGINE_CRASHED', 'MODEL_NOT_FOUND', 'MODEL_INVALID', 'MODEL_TOO_LARGE']);

/**
 * How a request is retried after an answer that did not fit in maxTokens or did not parse: first
 * one short finding without a replacement, then the same sampled rather than greedy (a greedy
 * retry of the same prompt tends to repeat itself). node-llama-cpp 3.21's grammar counts a
 * string's length in code points but its parser in UTF-16 units, so a string at its length limit
 * that ends in an emoji fails to parse; a different sample usually does not.
 */
const SHORT_ANSWER = { maxFindings: 1, maxMessageChars: 60, maxReplacementChars: 0 };
const RETRIES: (undefined | { limits: typeof SHORT_ANSWER; temperature?: number })[] = [
  undefined,
  { limits: SHORT_ANSWER },
  { limits: SHORT_ANSWER, temperature: 0.8 },
];

export const SYSTEM_PROMPT = [
  'You are a meticulous code reviewer. You are shown a change to one file: numbered lines of the new file,',
  'lines marked "+" were added or changed, lines marked "-" were removed (they have no number).',
  'Report real problems in the changed lines: bugs, security issues, performance problems, unclear style, missing tests.',
  'Cite the line numbers shown on the left. Severity: error = wrong behaviour, warning = risky, info = minor.',
  'Give "replacement" only when you can write the exact new text of lines startLine..endLine; otherwise null.',
  'Answer with JSON {"findings": [...]}; an empty list when the change is fine.',
].join('\n');

export function reviewMessages(chunk: ReviewChunk, rules?: RulesText): ChatMessage[] {
  return [
    { role: 'system', content: systemWithRules(SYSTEM_PROMPT, rules) },
    { role: 'user', content: `${chunk.text}\n\nReview the lines marked "+" above.` },
  ];
}

/**
 * Tokens left for the code of one request: the context of one sequence (node-llama-cpp gives
 * every sequence its own `contextSize`) less the answer, the instructions and a margin for the
 * chat template.
 */
export function codeBudget(info: Pick<EngineInfo, 'contextSize'>, maxTokens: number, instructionTokens: number): number {
  return Math.max(128, info.contextSize - maxTokens - instructionTokens - 64);
}

export async function runReview(backend: Backend, input: ReviewInput, options: ReviewOptions): Promise<ReviewResult> {
  const started = performance.now();
  const log = options.logger ?? nullLogger;
  const signal = options.signal;
  const result: ReviewResult = {
    title: input.title,
    findings: [],
    reviewed: [],
    skipped: [...(input.skipped ?? [])],
    failed: [],
    counts: { error: 0, warning: 0, info: 0 },
    dropped: 0,
    cancelled: false,
    requests: 0,
    changedLines: 0,
    durationMs: 0,
    promptTokens: 0,
    generatedTokens: 0,
    tokensPerSecond: 0,
    promptTokensPerSecond: 0,
  };
  let decodeMs = 0;
  let prefillMs = 0;
  const finish = (): ReviewResult => {
    result.findings = sortFindings(result.findings);
    result.counts = countBySeverity(result.findings);
    result.durationMs = performance.now() - started;
    result.tokensPerSecond = decodeMs > 0 ? (result.generatedTokens * 1000) / decodeMs : 0;
    result.promptTokensPerSecond = prefillMs > 0 ? (result.promptTokens * 1000) / prefillMs : 0;
    return result;
  };

  const contents = new Map<string, string | undefined>();
  for (const file of input.files) {
    if (signal?.aborted) {
      result.cancelled = true;
      return finish();
    }
    // Binary and lockfile-like files are skipped by their diff or name alone: not worth reading.
    if (!file.binary && file.newPath && !generatedByPath(file.path)) contents.set(file.path, await input.readFile(file.path));
  }
  const { review, skipped } = selectReviewable(input.files, (path) => {
    const text = contents.get(path);
    return text === undefined ? undefined : splitLines(text.slice(0, 64 * 1024)).slice(0, 50);
  });
  result.skipped.push(...skipped);
  if (!review.length) return finish();

  const info = await backend.info();
  const rules = await fitRules(options.rules, Math.floor(info.contextSize * RULES_CONTEXT_SHARE), (text) => backend.countTokens(text));
  const instructionTokens = await backend.countTokens(
    reviewMessages({ path: '', text: '', tokens: 0, shownLines: [], changed: [] }, rules)
      .map((m) => m.content)
      .join('\n'),
  );
  const budgetTokens = options.budgetTokens ?? codeBudget(info, options.maxTokens, instructionTokens);
  const count = (text: string) => backend.countTokens(text);
  const tolerance = options.tolerance ?? 3;

  for (const [fileIndex, file] of review.entries()) {
    if (signal?.aborted) {
      result.cancelled = true;
      break;
    }
    const text = contents.get(file.path);
    const lines = text === undefined ? undefined : splitLines(text);
    const fileFindings: Finding[] = [];
    try {
      const chunks = await chunkFile(file, lines, { contextLines: options.contextLines, budgetTokens, countTokens: count });
      const mapLine = await input.lineMapper?.(file.path);
      const lineCount = lines?.length ?? Math.max(0, ...chunks.flatMap((c) => c.shownLines));
      for (const [i, chunk] of chunks.entries()) {
        signal?.throwIfAborted();
        options.onProgress?.({ file: file.path, fileIndex, fileCount: review.length, request: i, requestCount: chunks.length });
        // The grammar lets the model cite only lines it was shown that are on (or near) the change.
        const citable = chunk.shownLines.filter((n) => chunk.changed.some((r) => n >= r.start - tolerance && n <= r.end + tolerance));
        if (citable.length === 0) continue;
        const requested: SchemaOptions = { ...DEFAULT_LIMITS, ...options.schemaLimits, files: [file.path], lines: citable };
        let schemaOptions = requested;
        let answer: StructuredResult | undefined;
        for (const [attempt, retry] of RETRIES.entries()) {
          if (retry)
            schemaOptions = { ...requested, ...retry.limits, minFindings: Math.min(requested.minFindings ?? 0, retry.limits.maxFindings) };
          try {
            answer = await backend.generateStructured(
              {
                messages: reviewMessages(chunk, rules),
                schema: findingsSchema(schemaOptions),
                maxTokens: options.maxTokens,
                temperature: retry?.temperature ?? options.temperature ?? 0,
                seed: options.seed ?? (retry ? 1 : undefined),
              },
              { signal },
            );
            break;
          } catch (err) {
            if (
              signal?.aborted ||
              (err instanceof EngineError && (FATAL.has(err.code) || err.code === 'CANCELLED')) ||
              attempt === RETRIES.length - 1
            )
              throw err;
            log.warn(`${file.path}: ${errorMessage(err)}; asking again for a shorter answer`);
          }
        }
        if (!answer) throw new Error('no answer');
        signal?.throwIfAborted();
        result.requests++;
        result.promptTokens += answer.stats.promptTokens;
        result.generatedTokens += answer.stats.generatedTokens;
        prefillMs += answer.stats.timeToFirstTokenMs;
        decodeMs += Math.max(0, answer.stats.totalMs - answer.stats.timeToFirstTokenMs);
        const valid = validateReviewOutput(answer.value, schemaOptions);
        if (valid.errors.length) log.warn(`${file.path}: the answer did not match the schema: ${valid.errors.slice(0, 3).join('; ')}`);
        const placed = placeFindings(valid.findings, {
          path: file.path,
          changed: chunk.changed,
          lineCount,
          tolerance,
          mapLine,
          outside: options.outside ?? 'drop',
        });
        const answered = (answer.value as { findings?: unknown } | null)?.findings;
        const malformed = Array.isArray(answered) ? answered.length - valid.findings.length : 0;
        result.dropped += malformed + Object.values(placed.dropped).reduce((a, b) => a + b, 0);
        fileFindings.push(...placed.findings);
      }
    } catch (err) {
      if (signal?.aborted) {
        result.cancelled = true;
        break;
      }
      if (err instanceof EngineError && FATAL.has(err.code)) throw err;
      const message = errorMessage(err);
      log.warn(`${file.path}: review failed: ${message}`);
      result.failed.push({ path: file.path, error: message });
      continue;
    }
    // The commit point: everything for this file answered.
    const committed = dedupeFindings(fileFindings);
    result.findings.push(...committed);
    result.reviewed.push(file.path);
    result.changedLines += file.additions;
    options.onFileReviewed?.(file.path, committed);
  }
  return finish();
}
