import type { Backend, FimRequest, RequestStats } from '../engine/protocol';
import { cursorAfter, isRewriteOf, normalize, regionEdits, toPlainEdits, withoutUndos, type EditableRegion } from './edits';
import { buildPrompt, detectFormat, REGION_LINES, type NextEditFormatName, type NextEditFormatSetting } from './formats';
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
  /** Called once per engine request (benchmarks and the eval read it). */
  onRequest?: (report: NextEditRequestReport) => void;
}

/** What one prediction cost and gave; extension overhead excludes the engine call. */
export interface NextEditRequestReport {
  uri: string;
  format: NextEditFormatName;
  /** The engine request as sent (its prompt, stop strings, limits). */
  request: FimRequest;
  output: string;
  stats: RequestStats;
  /** Milliseconds spent here (history, prompt, parsing and diffing), not waiting for the engine. */
  overheadMs: number;
  suggestion: NextEditSuggestion | undefined;
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
 * It runs on the completion engine (`completeFim` with a raw prompt, its own KV sequence per
 * document under the key `nextedit:<uri>`, prompt-lookup drafting).
 */
export function createNextEditPredictor(backend: () => Backend, options: NextEditPredictorOptions = {}): NextEditPredictor {
  const history = new EditHistory(options.history);
  const inFlight = new Map<string, AbortController>();
  let detected: { backend: Backend; format: Promise<NextEditFormatName> } | undefined;
  let disposed = false;

  const formatFor = (b: Backend): Promise<NextEditFormatName> => {
    const setting = typeof options.format === 'function' ? options.format() : (options.format ?? 'auto');
    if (setting !== 'auto') return Promise.resolve(setting);
    if (detected?.backend !== b) {
      const format = b.info().then(
        (info) => detectFormat([info.modelName, info.modelPath.split(/[\\/]/).pop() ?? '']),
        () => 'instruct' as const,
      );
      detected = { backend: b, format };
    }
    return detected.format;
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
      const format = await formatFor(engine);
      if (controller.signal.aborted) return undefined;
      const started = performance.now();
      const prepared = prepare(request, format);
      if (!prepared) return undefined;
      let overheadMs = performance.now() - started;
      const fim: FimRequest = {
        documentKey: `nextedit:${request.uri}`,
        prompt: prepared.built.prompt,
        maxTokens: options.maxTokens ?? Math.max(64, estimateTokens(prepared.region.text) * 2 + 32),
        maxTimeMs: options.maxTimeMs ?? 4000,
        stop: prepared.built.stop,
        speculative: 'lookup',
      };
      const result = await engine.completeFim(fim, { signal: controller.signal });
      const finishing = performance.now();
      // A rewrite cut off by the token or time limit would delete the rest of the region.
      const complete = result.stats.stopReason === 'stop' || result.stats.stopReason === 'eos';
      const suggestion = complete && !controller.signal.aborted ? toSuggestion(request, prepared, result.text) : undefined;
      overheadMs += performance.now() - finishing;
      options.onRequest?.({
        uri: request.uri,
        format,
        request: fim,
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

  const prepare = (request: NextEditRequest, format: NextEditFormatName) => {
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
    });
    return { region, built, eol: request.text.includes('\r\n') ? ('\r\n' as const) : ('\n' as const) };
  };

  const toSuggestion = (request: NextEditRequest, prepared: NonNullable<ReturnType<typeof prepare>>, output: string) => {
    const parsed = prepared.built.parse(output);
    if (!parsed || !isRewriteOf(prepared.region.text, parsed.text)) return undefined;
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
