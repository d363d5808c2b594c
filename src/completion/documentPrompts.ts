// The prompt a keystroke sends and the engine requests made of it. Each document keeps its last
// prompt windows (the next prompt stays inside them while they fit, so typing only appends and the
// engine's KV cache serves the rest) and each language its chars-per-token estimate.
import type { FimRequest } from '../engine/protocol';
import type { ExtraContextRing } from './extraContext';
import { postprocess } from './postprocess';
import { buildPrompt, CharsPerTokenEstimator, type BuiltPrompt, type WindowHint } from './prompt';
import type { CompletionContextSource, CompletionRequest, CompletionSettings } from './request';
import type { FimTemplate } from './templates';

/** Documents whose windows are remembered (the least recently prompted are forgotten). */
const MAX_DOCUMENTS = 64;

export class DocumentPrompts {
  /** Characters per token differ between languages (C headers, Python, JSON...): one estimator each. */
  private readonly estimators = new Map<string, CharsPerTokenEstimator>();
  /** Each document's last prompt windows (most recent last), kept while they fit the budget. */
  private readonly windows = new Map<string, WindowHint>();

  constructor(private readonly sources: { ring?: ExtraContextRing; contextSource?: CompletionContextSource }) {}

  /** The chars-per-token estimator for documents of `languageId`. */
  estimatorFor(languageId: string): CharsPerTokenEstimator {
    let estimator = this.estimators.get(languageId);
    if (!estimator) {
      estimator = new CharsPerTokenEstimator();
      this.estimators.set(languageId, estimator);
    }
    return estimator;
  }

  /** Where the last prompt for `uri` put its windows (the next prompt keeps them while they fit). */
  windowHint(uri: string): WindowHint | undefined {
    return this.windows.get(uri);
  }

  /** Builds the prompt within the document's previous windows when they still fit; `remember` the new ones. */
  build(
    template: FimTemplate,
    request: CompletionRequest,
    text: string,
    offset: number,
    settings: CompletionSettings,
    remember = true,
  ): BuiltPrompt {
    const ringFiles = settings.extraContext && this.sources.ring ? this.sources.ring.chunks(request.uri) : [];
    const sourced = settings.extraContext ? (this.sources.contextSource?.chunks(request, text, offset) ?? []) : [];
    // The ring's chunks first: they change least, and the prompt's head keeps its KV cache.
    const files = sourced.length ? [...ringFiles, ...sourced] : ringFiles;
    const built = buildPrompt(
      template,
      {
        text,
        offset,
        languageId: request.languageId,
        path: request.path ?? request.uri.slice(request.uri.lastIndexOf('/') + 1),
        repoName: request.repoName ?? '',
        files,
      },
      { contextTokens: settings.contextTokens, extraTokens: settings.extraContext ? Math.floor(settings.contextTokens / 2) : 0 },
      this.estimatorFor(request.languageId),
      this.windows.get(request.uri),
    );
    if (!remember) return built;
    this.windows.delete(request.uri);
    this.windows.set(request.uri, { startLine: built.windowStartLine, suffixLines: built.suffixLines, anchorLine: built.anchorLine });
    if (this.windows.size > MAX_DOCUMENTS) this.windows.delete(this.windows.keys().next().value as string);
    return built;
  }
}

/** The length variants to request: one for an automatic trigger or a single line, three for a manual one. */
export function requestVariants(
  trigger: CompletionRequest['trigger'],
  built: BuiltPrompt,
  template: FimTemplate,
  settings: CompletionSettings,
): Array<Pick<FimRequest, 'maxTokens' | 'maxTimeMs' | 'stop'>> {
  const singleLine = built.lineSuffix.trim().length > 0;
  const stop = singleLine ? [...template.stop, '\n'] : [...template.stop];
  const base = { maxTokens: settings.maxTokens, maxTimeMs: settings.maxTimeMs, stop };
  if (trigger === 'automatic' || singleLine) return [base];
  // Manual: alternatives that differ in length — the whole block, one line, a longer block.
  return [
    base,
    { maxTokens: Math.min(settings.maxTokens, 32), maxTimeMs: settings.maxTimeMs, stop: [...template.stop, '\n'] },
    { maxTokens: settings.maxTokens * 2, maxTimeMs: settings.maxTimeMs * 2, stop },
  ];
}

/** The engine request for one prompt and one length variant. */
export function fimRequest(
  documentKey: string,
  built: BuiltPrompt,
  variant: Pick<FimRequest, 'maxTokens' | 'maxTimeMs' | 'stop'>,
  settings: CompletionSettings,
): FimRequest {
  return {
    documentKey,
    prompt: built.prompt,
    maxTokens: variant.maxTokens,
    maxTimeMs: variant.maxTimeMs,
    stop: variant.stop,
    speculative: settings.speculative,
  };
}

/** What of the model's text is worth showing at the prompt's cursor. */
export function shownText(raw: string, built: BuiltPrompt, settings: CompletionSettings, request: CompletionRequest): string {
  return postprocess(raw, {
    linePrefix: built.linePrefix,
    lineSuffix: built.lineSuffix,
    nextText: built.suffix.slice(built.lineSuffix.length + 1),
    prefix: built.prefix,
    maxLines: settings.maxLines,
    tabSize: request.tabSize,
  });
}
