// The inline-completion logic over plain data: a document, a cursor and a Backend in, items to show
// out. The vscode provider is a thin shell over this; the engine tests and the benchmark drive it
// directly. It times its own work (everything but the engine call and the debounce wait).
// Over 400 lines: the keystroke path (cache, debounce, supersede, call, post-process, prefetch) is
// one sequence over shared per-document state; its pure parts already live in the sibling modules.
import type { Backend, EngineInfo, FimRequest, GenerationResult, RequestStats } from '../engine/protocol';
import { nullLogger, type Logger } from '../logger';
import { NUMBER_SETTINGS, OTHER_DEFAULTS, type ConfigSnapshot } from '../settings';
import { CompletionCache } from './cache';
import type { ExtraContextRing } from './extraContext';
import { AdaptiveDebounce, systemClock, type Clock } from './debounce';
import { postprocess } from './postprocess';
import { buildPrompt, CharsPerTokenEstimator, type BuiltPrompt, type WindowHint } from './prompt';
import { fimTemplate, noFimMessage, type FileChunk, type FimTemplate } from './templates';
import { errorMessage } from '../util';

/** What the core reads of the completion settings (settings.ts defines them; the shell decides the rest). */
export type CompletionSettings = Omit<ConfigSnapshot['completion'], 'enabled' | 'languages' | 'warmOnOpen' | 'definitions'>;

/** The engine request for one prompt and one length variant. */
function fimRequest(
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

/** The settings' defaults (settings.ts holds them, package.json states the same). */
export const defaultCompletionSettings: CompletionSettings = {
  maxLines: NUMBER_SETTINGS['completion.maxLines'].default,
  maxTokens: NUMBER_SETTINGS['completion.maxTokens'].default,
  maxTimeMs: NUMBER_SETTINGS['completion.maxTimeMs'].default,
  contextTokens: NUMBER_SETTINGS['completion.contextTokens'].default,
  extraContext: OTHER_DEFAULTS['completion.extraContext'],
  debounceMs: NUMBER_SETTINGS['completion.debounceMs'].default,
  speculative: OTHER_DEFAULTS['completion.speculative'],
};

export interface CompletionRequest {
  text: string;
  offset: number;
  languageId: string;
  /** Document URI: the engine's KV sequence key and the key for leaving the file out of extra context. */
  uri: string;
  /** Path shown to the model (workspace-relative when possible); defaults to the URI's last segment. */
  path?: string;
  repoName?: string;
  trigger: 'automatic' | 'manual';
  /** The suggest widget's selected item (offsets into `text`): completions extend it. */
  selected?: { start: number; end: number; text: string };
  tabSize?: number;
}

/** Insert `text` replacing document offsets [start, end). */
export interface CompletionItem {
  text: string;
  start: number;
  end: number;
}

export type CompletionSource = 'model' | 'cache' | 'typeThrough' | 'skipped' | 'cancelled' | 'error';

export interface CompletionOutcome {
  items: CompletionItem[];
  source: CompletionSource;
  /** The extension's own time: total minus engine calls, debounce wait and waiting for model info. */
  overheadMs: number;
  modelMs: number;
  debounceMs: number;
  totalMs: number;
  modelCalls: number;
  /** Engine stats of the (last) model call. */
  stats?: RequestStats;
  /** Characters the user typed along a cached suggestion (type-through). */
  typed?: number;
  error?: string;
  /** Why an automatic trigger was skipped. */
  reason?: string;
}

export type CompletionEvent =
  { kind: 'generating' } | { kind: 'done'; latencyMs: number; tokensPerSecond: number } | { kind: 'error'; message: string };

export interface CoreCounters {
  requests: number;
  modelCalls: number;
  prefetchCalls: number;
  cacheHits: number;
  typeThroughHits: number;
  skipped: number;
  cancelled: number;
  errors: number;
}

export interface CompletionCoreOptions {
  backend: () => Backend;
  settings?: () => CompletionSettings;
  ring?: ExtraContextRing;
  log?: Logger;
  /** After showing a suggestion, compute the completion for the state where it was accepted. */
  prefetchAccepted?: boolean;
  /** Prefetch as soon as a suggestion shows only while engine calls take at most this long (default 150 ms). */
  eagerPrefetchMaxLatencyMs?: number;
  onEvent?: (event: CompletionEvent) => void;
  /** Most characters right of the cursor for an automatic trigger to go ahead. */
  maxRightChars?: number;
  cacheSize?: number;
  /**
   * A newer keystroke cancels the engine call in flight for its document (llama.vscode's way; the
   * engine hands the successor the sequence with the cancelled call's KV cache). Default true;
   * false waits for the call instead (its answer may then serve the keystroke by type-through).
   */
  cancelSuperseded?: boolean;
  /** Timing and the debounce wait (default the real clock; unit tests pass a manual one). */
  clock?: Clock;
  /** More chunks for the prompt after the ring's (definitions near the cursor, index hits). */
  contextSource?: CompletionContextSource;
}

/**
 * A source of prompt chunks that may need a moment (a language server): `prepare` starts with the
 * request and is awaited before the prompt is built, so it must settle within its own small budget;
 * `chunks` answers at once with what it has.
 */
export interface CompletionContextSource {
  prepare(request: CompletionRequest, text: string, offset: number, signal: AbortSignal): Promise<void>;
  chunks(request: CompletionRequest, text: string, offset: number): readonly FileChunk[];
}

interface ModelView {
  info: EngineInfo;
  template: FimTemplate;
  key: string;
}

export class CompletionCore {
  readonly cache: CompletionCache;
  /** Characters per token differ between languages (C headers, Python, JSON...): one estimator each. */
  private readonly estimators = new Map<string, CharsPerTokenEstimator>();
  readonly counters: CoreCounters = {
    requests: 0,
    modelCalls: 0,
    prefetchCalls: 0,
    cacheHits: 0,
    typeThroughHits: 0,
    skipped: 0,
    cancelled: 0,
    errors: 0,
  };
  private debounce: AdaptiveDebounce;
  private debounceSetting: number;
  private model?: { backend: Backend; view: Promise<ModelView>; unsubscribe: () => void; stale: boolean; resolved: boolean };
  private current?: AbortController;
  /** The engine call in flight (at most one: calls for one document must not overlap in the engine). */
  private engineCall?: { uri: string; key: string; controller: AbortController; settled: Promise<unknown> };
  private prefetchKey?: string;
  /** Each document's last prompt windows (most recent last), kept while they fit the budget. */
  private readonly windows = new Map<string, WindowHint>();
  private readonly log: Logger;
  private readonly settings: () => CompletionSettings;
  private readonly clock: Clock;

  constructor(private readonly options: CompletionCoreOptions) {
    this.log = options.log ?? nullLogger;
    this.clock = options.clock ?? systemClock;
    this.settings = options.settings ?? (() => defaultCompletionSettings);
    this.cache = new CompletionCache(options.cacheSize ?? 256);
    this.debounceSetting = this.settings().debounceMs;
    this.debounce = new AdaptiveDebounce({ fixedMs: this.debounceSetting });
  }

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

  /** The delay an automatic request waits now. */
  get debounceDelayMs(): number {
    return this.debounce.delayMs();
  }

  async provide(request: CompletionRequest, signal?: AbortSignal): Promise<CompletionOutcome> {
    const started = this.clock.now();
    const outcome: CompletionOutcome = { items: [], source: 'model', overheadMs: 0, modelMs: 0, debounceMs: 0, totalMs: 0, modelCalls: 0 };
    let waitedForInfo = 0;
    const finish = (source: CompletionSource, extra: Partial<CompletionOutcome> = {}) => {
      Object.assign(outcome, extra, { source });
      outcome.totalMs = this.clock.now() - started;
      outcome.overheadMs = Math.max(0, outcome.totalMs - outcome.modelMs - outcome.debounceMs - waitedForInfo);
      if (source === 'cancelled') this.counters.cancelled++;
      if (source === 'skipped') this.counters.skipped++;
      if (source === 'error') this.counters.errors++;
      return outcome;
    };
    this.counters.requests++;
    this.current?.abort();
    const controller = new AbortController();
    this.current = controller;
    const onAbort = () => controller.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      if (signal?.aborted) return finish('cancelled');
      const settings = this.settings();
      if (settings.debounceMs !== this.debounceSetting) {
        this.debounceSetting = settings.debounceMs;
        this.debounce = new AdaptiveDebounce({ fixedMs: settings.debounceMs });
      }

      // The suggest widget's selected item counts as typed: complete after it, replace its range.
      const selected = request.selected;
      const text = selected ? request.text.slice(0, selected.start) + selected.text + request.text.slice(selected.end) : request.text;
      const offset = selected ? selected.start + selected.text.length : request.offset;
      const replace = selected
        ? { start: selected.start, end: selected.end, lead: selected.text }
        : { start: request.offset, end: request.offset, lead: '' };
      const toItems = (texts: string[]) => texts.map((t) => ({ text: replace.lead + t, start: replace.start, end: replace.end }));

      if (request.trigger === 'automatic') {
        const reason = this.skipReason(text, offset);
        if (reason) return finish('skipped', { reason });
      }

      // Started now, so the lookups run during the model-info and debounce waits.
      const preparing = this.options.contextSource?.prepare(request, text, offset, controller.signal).catch(() => undefined);

      const infoStarted = this.clock.now();
      let model: ModelView;
      try {
        model = await this.modelView();
      } catch (err) {
        waitedForInfo = this.clock.now() - infoStarted;
        const message = errorMessage(err);
        this.options.onEvent?.({ kind: 'error', message });
        return finish('error', { error: message });
      }
      waitedForInfo = this.clock.now() - infoStarted;
      if (controller.signal.aborted) return finish('cancelled');

      const hit = this.cache.lookup(model.key, text, offset);
      if (hit) {
        if (hit.typed > 0) this.counters.typeThroughHits++;
        else this.counters.cacheHits++;
        // The user is typing along a suggestion, or is where an accepted one left them: compute
        // what follows the suggestion now, so accepting it is answered from the cache too.
        if (this.options.prefetchAccepted !== false)
          setImmediate(() => this.startPrefetch(model, request, text, offset, hit.texts[0], settings));
        return finish(hit.typed > 0 ? 'typeThrough' : 'cache', { items: toItems(hit.texts), typed: hit.typed });
      }
      if (request.trigger === 'automatic') {
        const delay = this.debounce.delayMs();
        const debounceStarted = this.clock.now();
        const waited = await this.clock.sleep(delay, controller.signal);
        outcome.debounceMs = this.clock.now() - debounceStarted;
        if (!waited) return finish('cancelled');
      }

      // One engine call at a time. A call still running (an earlier keystroke's, or a prefetch) is
      // cancelled, and this one starts once the backend has confirmed that it ended (the local engine
      // answers a cancel when it has left the document's sequence, KV cache kept, for this call).
      // The editor's cancel-or-wait policy lives here (with cancelSuperseded false it is waited for);
      // the engine hands the sequence over and needs no timed wait.
      const waitStarted = this.clock.now();
      const key = this.cache.key(model.key, text, offset);
      const settled = await this.settleEngine(request.uri, key, controller.signal);
      outcome.modelMs += this.clock.now() - waitStarted;
      if (!settled) return finish('cancelled');
      const late = this.cache.lookup(model.key, text, offset);
      if (late) {
        if (late.typed > 0) this.counters.typeThroughHits++;
        else this.counters.cacheHits++;
        return finish(late.typed > 0 ? 'typeThrough' : 'cache', { items: toItems(late.texts), typed: late.typed });
      }

      if (preparing) await preparing;
      if (controller.signal.aborted) return finish('cancelled');
      const estimator = this.estimatorFor(request.languageId);
      if (!estimator.calibrated) {
        // The first prompt in this language: size the windows with the model's real token count (one
        // tokenize call), or the next keystroke would re-fit them and re-evaluate everything.
        const measureStarted = this.clock.now();
        const draft = this.build(model, request, text, offset, settings, false);
        try {
          estimator.calibrate(draft.prompt.length, await this.options.backend().countTokens(draft.prompt));
        } catch {
          // The default ratio then; the first call's measurement calibrates it.
        }
        outcome.modelMs += this.clock.now() - measureStarted;
        if (controller.signal.aborted) return finish('cancelled');
      }
      const built = this.build(model, request, text, offset, settings);
      const variants = this.variants(request.trigger, built, model.template, settings);
      const texts: string[] = [];
      for (const variant of variants) {
        this.options.onEvent?.({ kind: 'generating' });
        outcome.modelCalls++;
        this.counters.modelCalls++;
        const fim = fimRequest(request.uri, built, variant, settings);
        // An automatic call outlives a cancelled keystroke (its answer is cached for type-through);
        // a manual one is cancelled with its request.
        const call = this.callEngine(request.uri, key, fim, estimator, request.trigger === 'manual' ? controller.signal : undefined).then(
          (done) => {
            const shown = this.postprocess(done.result.text, built, settings, request);
            if (request.trigger === 'automatic') {
              this.cache.set(key, shown ? [shown] : []);
              if (shown && this.prefetchEagerly()) this.startPrefetch(model, request, text, offset, shown, settings);
            }
            return { ...done, shown };
          },
        );
        const callStarted = this.clock.now();
        let done;
        try {
          done = await untilAborted(call, controller.signal);
        } catch (err) {
          outcome.modelMs += this.clock.now() - callStarted;
          if (controller.signal.aborted) return finish('cancelled');
          const message = errorMessage(err);
          this.log.warn(`completion failed: ${message}`);
          this.options.onEvent?.({ kind: 'error', message });
          return finish('error', { error: message });
        }
        outcome.modelMs += this.clock.now() - callStarted;
        outcome.stats = done.result.stats;
        if (done.shown && !texts.includes(done.shown)) texts.push(done.shown);
      }
      if (request.trigger === 'manual') {
        this.cache.set(key, texts);
        if (texts.length > 0 && this.prefetchEagerly()) this.startPrefetch(model, request, text, offset, texts[0], settings);
      }
      return finish('model', { items: toItems(texts) });
    } finally {
      signal?.removeEventListener('abort', onAbort);
      if (this.current === controller) this.current = undefined;
    }
  }

  /**
   * Warms the engine for a document opened or switched to: evaluates the prompt for the cursor's
   * place into the document's cache, generating nothing, so the first keystroke there evaluates
   * only what it changed. Idle work: skipped while the user's own call runs, cancelled by the next
   * keystroke (what was evaluated by then stays cached). The engine's stats when it evaluated the
   * prompt, undefined when skipped or cancelled.
   */
  async warm(request: Omit<CompletionRequest, 'trigger' | 'selected'>): Promise<RequestStats | undefined> {
    if (this.engineCall || this.current) return undefined;
    const { text, offset } = request;
    if (this.skipReason(text, offset)) return undefined;
    const full: CompletionRequest = { ...request, trigger: 'automatic' };
    // Whatever the first keystroke's prompt will hold: the lookups it would start, the same windows.
    await this.options.contextSource?.prepare(full, text, offset, new AbortController().signal).catch(() => undefined);
    const model = await this.modelView().catch(() => undefined);
    if (!model || this.engineCall || this.current) return undefined;
    const settings = this.settings();
    const estimator = this.estimatorFor(request.languageId);
    if (!estimator.calibrated) {
      const draft = this.build(model, full, text, offset, settings, false);
      estimator.calibrate(
        draft.prompt.length,
        await this.options
          .backend()
          .countTokens(draft.prompt)
          .catch(() => 0),
      );
      if (this.engineCall || this.current) return undefined;
    }
    const built = this.build(model, full, text, offset, settings);
    const [variant] = this.variants('automatic', built, model.template, settings);
    const fim = { ...fimRequest(request.uri, built, variant, settings), maxTokens: 0 };
    return this.callEngine(request.uri, `warm:${request.uri}`, fim, estimator, undefined, true).then(
      ({ result }) => result.stats,
      () => undefined,
    );
  }

  /** Forgets the model view (call after the engine restarted or the model changed). */
  resetModel(): void {
    this.model?.unsubscribe();
    this.model = undefined;
  }

  dispose(): void {
    this.current?.abort();
    this.engineCall?.controller.abort();
    this.resetModel();
  }

  /**
   * Whether to compute the accepted state as soon as a suggestion is shown. Only on a fast engine:
   * on a slow one that call would hold up the next keystroke's (calls for a document do not
   * overlap), so it waits until the user starts typing along the suggestion.
   */
  private prefetchEagerly(): boolean {
    return this.options.prefetchAccepted !== false && (this.debounce.latencyMs ?? 0) <= (this.options.eagerPrefetchMaxLatencyMs ?? 150);
  }

  /** Why an automatic trigger would not help here, or undefined when it may. */
  skipReason(text: string, offset: number): string | undefined {
    const lineEnd = text.indexOf('\n', offset);
    const right = text.slice(offset, lineEnd === -1 ? text.length : lineEnd);
    if (/^\w/.test(right)) return 'cursor inside a word';
    if (right.trim().length > (this.options.maxRightChars ?? 8)) return 'code right of the cursor';
    return undefined;
  }

  private modelView(): Promise<ModelView> {
    const backend = this.options.backend();
    if (this.model?.backend === backend && !this.model.stale) return this.model.view;
    this.resetModel();
    const view = backend.info().then((info) => {
      if (!info.fimFamily) throw new Error(noFimMessage(info.modelName || info.modelPath));
      const adapters = info.adapters.map((a) => `${a.path}@${a.scale}`).join(',');
      return { info, template: fimTemplate(info.fimFamily), key: `${info.modelPath}|${adapters}` };
    });
    const entry = { backend, view, unsubscribe: () => {}, stale: false, resolved: false };
    // A reload (new model, new adapters, restart) after the view was read makes it stale.
    entry.unsubscribe = backend.onState((state) => {
      if (state.kind !== 'ready' && entry.resolved) entry.stale = true;
    });
    view.then(
      () => (entry.resolved = true),
      () => (entry.stale = true),
    );
    this.model = entry;
    return view;
  }

  /** Builds the prompt within the document's previous windows when they still fit; `remember` the new ones. */
  private build(
    model: ModelView,
    request: CompletionRequest,
    text: string,
    offset: number,
    settings: CompletionSettings,
    remember = true,
  ): BuiltPrompt {
    const ringFiles = settings.extraContext && this.options.ring ? this.options.ring.chunks(request.uri) : [];
    const sourced = settings.extraContext ? (this.options.contextSource?.chunks(request, text, offset) ?? []) : [];
    // The ring's chunks first: they change least, and the prompt's head keeps its KV cache.
    const files = sourced.length ? [...ringFiles, ...sourced] : ringFiles;
    const built = buildPrompt(
      model.template,
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
    if (this.windows.size > 64) this.windows.delete(this.windows.keys().next().value as string);
    return built;
  }

  private variants(trigger: CompletionRequest['trigger'], built: BuiltPrompt, template: FimTemplate, settings: CompletionSettings) {
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

  private postprocess(raw: string, built: BuiltPrompt, settings: CompletionSettings, request: CompletionRequest): string {
    return postprocess(raw, {
      linePrefix: built.linePrefix,
      lineSuffix: built.lineSuffix,
      nextText: built.suffix.slice(built.lineSuffix.length + 1),
      prefix: built.prefix,
      maxLines: settings.maxLines,
      tabSize: request.tabSize,
    });
  }

  /**
   * Starts an engine call as the one in flight. The result comes with the call's own timing; the
   * debounce and the token estimate learn from it whoever is still waiting for it.
   */
  private callEngine(
    uri: string,
    key: string,
    fim: FimRequest,
    estimator: CharsPerTokenEstimator,
    signal?: AbortSignal,
    /** A warm-up: its time is not a completion's (the debounce and the status bar do not see it). */
    warming = false,
  ): Promise<{ result: GenerationResult; elapsedMs: number }> {
    const controller = new AbortController();
    const onAbort = () => controller.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    const call = { uri, key, controller, settled: Promise.resolve() as Promise<unknown> };
    const finished = () => {
      signal?.removeEventListener('abort', onAbort);
      if (this.engineCall === call) this.engineCall = undefined;
    };
    const started = this.clock.now();
    const promise = this.options
      .backend()
      .completeFim(fim, { signal: controller.signal })
      .then(
        (result) => {
          finished();
          const elapsedMs = this.clock.now() - started;
          if (controller.signal.aborted || result.stats.stopReason === 'abort') throw new Error('cancelled');
          estimator.calibrate(fim.prompt.length, result.stats.promptTokens);
          if (warming) return { result, elapsedMs };
          this.debounce.record(elapsedMs);
          const seconds = result.stats.totalMs / 1000;
          this.options.onEvent?.({
            kind: 'done',
            latencyMs: elapsedMs,
            tokensPerSecond: seconds > 0 ? result.stats.generatedTokens / seconds : 0,
          });
          return { result, elapsedMs };
        },
        (err: unknown) => {
          finished();
          throw err;
        },
      );
    call.settled = promise.catch(() => undefined);
    this.engineCall = call;
    return promise;
  }

  /**
   * Ends the engine call in flight: cancels it (and waits for the backend to confirm, no timer),
   * or waits for it when it computes this very state
   * (`key`: a re-request at the same position, an accepted suggestion's prefetch) or, with
   * cancelSuperseded false, anything for the same document; false if `signal` aborted first.
   */
  private async settleEngine(uri: string, key: string, signal: AbortSignal): Promise<boolean> {
    for (let call = this.engineCall; call; call = this.engineCall) {
      const wait = call.uri === uri && (call.key === key || this.options.cancelSuperseded === false);
      if (!wait) {
        call.controller.abort();
        await call.settled;
        continue;
      }
      try {
        await untilAborted(call.settled, signal);
      } catch {
        return false;
      }
    }
    return !signal.aborted;
  }

  /** Computes and caches the completion for the document as it will be once `shown` is accepted. */
  private startPrefetch(
    model: ModelView,
    request: CompletionRequest,
    text: string,
    offset: number,
    shown: string,
    settings: CompletionSettings,
  ): void {
    const acceptedText = text.slice(0, offset) + shown + text.slice(offset);
    const acceptedOffset = offset + shown.length;
    const key = this.cache.key(model.key, acceptedText, acceptedOffset);
    if (this.engineCall || this.prefetchKey === key || this.cache.has(key) || this.skipReason(acceptedText, acceptedOffset)) return;
    const built = this.build(model, request, acceptedText, acceptedOffset, settings);
    const [variant] = this.variants('automatic', built, model.template, settings);
    this.counters.prefetchCalls++;
    this.prefetchKey = key;
    this.callEngine(request.uri, key, fimRequest(request.uri, built, variant, settings), this.estimatorFor(request.languageId))
      .then(({ result }) => {
        const next = this.postprocess(result.text, built, settings, request);
        if (next) this.cache.set(key, [next]);
      })
      .catch(() => {});
  }
}

/** `promise`, or a rejection as soon as `signal` aborts (the work itself goes on). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new Error('cancelled'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new Error('cancelled'));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}
