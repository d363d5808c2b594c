import type { Backend, FimRequest, GenerationResult, RequestStats, StructuredRequest } from '../engine/protocol';
import { cursorAfter, isRewriteOf, normalize, regionEdits, toPlainEdits, withoutUndos, type EditableRegion } from './edits';
import {
  buildPrompt,
  detectFormat,
  REGION_LINES,
  type BuiltPrompt,
  type NextEditFormatName,
  type NextEditFormatSetting,
  type ParsedRegion,
} from './formats';
import { EditHistory, estimateTokens, type EditHistoryOptions } from './history';
import type { DocumentChange, NextEditPredictor, NextEditRequest, NextEditSuggestion, Position } from './types';

export interface NextEditPredictorOptions {
  /** The prompt format; 'auto' (default) detects it from the model's name. Read on every request. */
  format?: NextEditFormatSetting | (() => NextEditFormatSetting);
  /** Most tokens the model may write (the rewritten region; a truncated rewrite is discarded). */
  maxTokens?: number;
  /** Give up on a prediction after this long. */
  maxTimeMs?: number;
  /** Token budget of the edit history in the prompt. */
  historyTokens?: number;
  /** Lines of context shown above and below the editable region. */
  contextLines?: number;
  history?: EditHistoryOptions;
  /** The path the prompt names for a document (default: the URI's path). */
  pathOf?: (uri: string) => string;
  /**
   * Code from other files related to the cursor (definitions of the names near it), for the
   * formats with a slot for it; kept within `relatedTokens`. A source that fails or is slow costs
   * the excerpts, never the prediction.
   */
  related?: (request: NextEditRequest, signal: AbortSignal) => Promise<readonly RelatedExcerpt[]>;
  /** Token budget of the related excerpts in the prompt. */
  relatedTokens?: number;
  /** Detection runs again when this changes (the model files the engines load). */
  modelKey?: () => string;
  /** Called once per engine request (benchmarks and the eval read it). */
  onRequest?: (report: NextEditRequestReport) => void;
}

/** What one prediction cost and gave; extension overhead excludes the engine call. */
export interface NextEditRequestReport {
  uri: string;
  format: NextEditFormatName;
  /** The engine request as sent: a raw prompt, or chat messages under a JSON schema (instruct). */
  request: FimRequest | StructuredRequest;
  output: string;
  stats: RequestStats;
  /** Milliseconds spent here (history, prompt, parsing and diffing), not waiting for the engine. */
  overheadMs: number;
  suggestion: NextEditSuggestion | undefined;
}

export interface RelatedExcerpt {
  path: string;
  text: string;
}

const MAX_DOCUMENT_CHARS = 1_000_000;
const MAX_LINE_CHARS = 10_000;
/** Documents that are not files a user types into (notebook cells have their own documents). */
const UNSUPPORTED_SCHEMES = new Set(['vscode-notebook-cell', 'output', 'git', 'vscode-scm', 'comment', 'debug', 'walkThroughSnippet']);

/**
 * The predictor the editor uses: edit history, the model's prompt format, the engine, and the
 * model's rewrite turned into minimal edits. It never throws from `predict`: whatever it cannot
 * handle (huge or minified documents, notebook cells, an engine error, output that is not a rewrite
 * of the region) is no suggestion. A newer `predict` for the same document cancels the older one.
 * It runs on the next-edit model when one is set apart, else on the completion model: a next-edit
 * model's raw prompt through `completeFim` (its own KV sequence per document under the key
 * `nextedit:<uri>`, prompt-lookup drafting); the instruct fallback's chat messages through
 * `generateStructured`, the region answered under a JSON schema.
 */
export function createNextEditPredictor(backend: () => Backend, options: NextEditPredictorOptions = {}): NextEditPredictor {
  const history = new EditHistory(options.history);
  const inFlight = new Map<string, AbortController>();
  let detected: { backend: Backend; key: string; format: Promise<NextEditFormatName> } | undefined;
  let disposed = false;

  const formatFor = (b: Backend): Promise<NextEditFormatName> => {
    const setting = typeof options.format === 'function' ? options.format() : (options.format ?? 'auto');
    if (setting !== 'auto') return Promise.resolve(setting);
    const key = options.modelKey?.() ?? '';
    if (detected?.backend !== b || detected.key !== key) {
      // The model that serves next-edit requests: the next-edit model when one is set apart.
      const format = b.info('nextEdit').then(
        (info) => detectFormat([info.modelName, info.modelPath.split(/[\\/]/).pop() ?? '', ...(info.modelTags ?? [])]),
        () => {
          detected = undefined; // the engine was not ready: ask again next time
          return 'instruct' as const;
        },
      );
      detected = { backend: b, key, format };
    }
    return detected.format;
  };

  /** The related excerpts, whole ones in the order given until the token budget is spent. */
  const relatedFor = async (request: NextEditRequest, signal: AbortSignal): Promise<RelatedExcerpt[]> => {
    if (!options.related) return [];
    const own = (options.pathOf ?? defaultPath)(request.uri);
    const found = await options.related(request, signal).catch(() => [] as RelatedExcerpt[]);
    let budget = options.relatedTokens ?? 512;
    const kept: RelatedExcerpt[] = [];
    for (const excerpt of found) {
      if (excerpt.path === own || kept.some((k) => k.path === excerpt.path && k.text === excerpt.text)) continue;
      const cost = estimateTokens(excerpt.text) + estimateTokens(excerpt.path) + 4;
      if (cost > budget) continue;
      budget -= cost;
      kept.push({ path: excerpt.path, text: normalize(excerpt.text) });
    }
    return kept;
  };

  const predict = async (request: NextEditRequest, signal: AbortSignal): Promise<NextEditSuggestion | undefined> => {
    if (disposed || signal.aborted || !supported(request)) return undefined;
    inFlight.get(request.uri)?.abort();
    const controller = new AbortController();
    inFlight.set(request.uri, controller);
    const onAbort = (): void => controller.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      const engine = backend();
      const [format, related] = await Promise.all([formatFor(engine), relatedFor(request, controller.signal)]);
      if (controller.signal.aborted) return undefined;
      const started = performance.now();
      const prepared = prepare(request, format, related);
      if (!prepared) return undefined;
      let overheadMs = performance.now() - started;
      const maxTokens = options.maxTokens ?? Math.max(64, estimateTokens(prepared.region.text) * 2 + 32);
      const { sent, result, parsed } = await ask(engine, prepared.built, request.uri, maxTokens, controller.signal);
      const finishing = performance.now();
      // A rewrite cut off by the token or time limit would delete the rest of the region.
      const complete = result.stats.stopReason === 'stop' || result.stats.stopReason === 'eos';
      const suggestion = complete && parsed && !controller.signal.aborted ? toSuggestion(request, prepared, parsed) : undefined;
      overheadMs += performance.now() - finishing;
      options.onRequest?.({
        uri: request.uri,
        format,
        request: sent,
        output: result.text,
        stats: result.stats,
        overheadMs,
        suggestion,
      });
      return suggestion;
    } catch {
      return undefined; // cancelled, engine unavailable, no FIM tokens…: no suggestion
    } finally {
      signal.removeEventListener('abort', onAbort);
      if (inFlight.get(request.uri) === controller) inFlight.delete(request.uri);
    }
  };

  /** One engine request in the prompt's kind; the model's answer parsed into a region (or undefined). */
  const ask = async (
    engine: Backend,
    built: BuiltPrompt,
    uri: string,
    maxTokens: number,
    signal: AbortSignal,
  ): Promise<{ sent: FimRequest | StructuredRequest; result: GenerationResult; parsed: ParsedRegion | undefined }> => {
    if (built.kind === 'raw') {
      const sent: FimRequest = {
        documentKey: `nextedit:${uri}`,
        prompt: built.prompt,
        maxTokens,
        maxTimeMs: options.maxTimeMs ?? 4000,
        stop: built.stop,
        speculative: 'lookup',
        engine: 'nextEdit',
      };
      const result = await engine.completeFim(sent, { signal });
      return { sent, result, parsed: built.parse(result.text) };
    }
    // JSON escapes make the answer longer than the region's text.
    const sent: StructuredRequest = {
      messages: built.messages,
      schema: built.schema,
      maxTokens: maxTokens + 32,
      temperature: 0,
      engine: 'nextEdit',
      // The document's own KV sequence, as for raw prompts (not the one review shares).
      cacheKey: `nextedit:${uri}`,
    };
    const result = await engine.generateStructured(sent, { signal });
    return { sent, result, parsed: built.parse(result.value) };
  };

  const prepare = (request: NextEditRequest, format: NextEditFormatName, related: RelatedExcerpt[]) => {
    const text = normalize(request.text);
    const lines = text.split('\n');
    const cursorLine = request.cursor.line;
    if (cursorLine < 0 || cursorLine >= lines.length || request.cursor.character > lines[cursorLine].length) return undefined;
    const span = REGION_LINES[format];
    const first = Math.max(0, cursorLine - span.above);
    const end = Math.min(lines.length, cursorLine + span.below + 1);
    const regionLines = lines.slice(first, end);
    if (regionLines.some((l) => l.length > MAX_LINE_CHARS)) return undefined;
    const region: EditableRegion = { startLine: first, text: regionLines.join('\n') };
    let cursor = request.cursor.character;
    for (let l = first; l < cursorLine; l++) cursor += lines[l].length + 1;
    const context = options.contextLines ?? 10;
    const beforeLines = lines.slice(Math.max(0, first - context), first).filter((l) => l.length <= MAX_LINE_CHARS);
    const afterLines = lines.slice(end, end + context).filter((l) => l.length <= MAX_LINE_CHARS);
    const pathOf = options.pathOf ?? defaultPath;
    const built = buildPrompt(format, {
      path: pathOf(request.uri),
      languageId: request.languageId,
      region,
      cursor,
      before: beforeLines.join('\n'),
      after: afterLines.join('\n'),
      startOfFile: first - beforeLines.length === 0,
      history: history.recent(options.historyTokens),
      pathOf,
      related,
    });
    return { region, built, eol: request.text.includes('\r\n') ? ('\r\n' as const) : ('\n' as const) };
  };

  const toSuggestion = (request: NextEditRequest, prepared: NonNullable<ReturnType<typeof prepare>>, parsed: ParsedRegion) => {
    if (!isRewriteOf(prepared.region.text, parsed.text)) return undefined;
    const all = regionEdits(prepared.region.text, parsed.text);
    const kept = withoutUndos(prepared.region, all, history.last(request.uri));
    if (kept.length === 0) return undefined;
    const edits = toPlainEdits(prepared.region, kept, prepared.eol);
    const suggestion: NextEditSuggestion = { uri: request.uri, version: request.version, edits };
    // The predicted cursor is only meaningful when every predicted edit is shown.
    if (parsed.cursor !== undefined && kept.length === all.length) {
      suggestion.cursor = cursorAfter(prepared.region, parsed.text, parsed.cursor) satisfies Position;
    }
    return suggestion;
  };

  return {
    recordChange: (change: DocumentChange) => {
      if (disposed || !supportedUri(change.uri)) return;
      history.record(change);
    },
    predict,
    dispose: () => {
      disposed = true;
      for (const c of inFlight.values()) c.abort();
      inFlight.clear();
      history.clear();
    },
  };
}

function supportedUri(uri: string): boolean {
  const scheme = /^([a-zA-Z][\w+.-]*):/.exec(uri)?.[1];
  return scheme === undefined || !UNSUPPORTED_SCHEMES.has(scheme);
}

function supported(request: NextEditRequest): boolean {
  return supportedUri(request.uri) && request.text.length <= MAX_DOCUMENT_CHARS;
}

function defaultPath(uri: string): string {
  const match = /^[a-zA-Z][\w+.-]*:\/\/[^/]*(\/.*)$/.exec(uri);
  const path = match ? decodeURIComponent(match[1]) : uri;
  return path.replace(/^\/+/, '');
}
