// The inline-completion logic over plain data: a document, a cursor and a Backend in, items to show
// out. The vscode provider is a thin shell over this; the engine tests and the benchmark drive it
// directly. It times its own work (everything but the engine call and the debounce wait).
// The keystroke path (cache, debounce, supersede, call, post-process, prefetch) and the warm-up are
// one sequence over shared per-document state, so they stay here; the request and outcome types
// (request.ts), the prompts and engine requests (documentPrompts.ts), the model's FIM view
// (modelView.ts) and the one engine call in flight (engineCall.ts) live beside it.
import type { Backend, FimRequest, RequestStats } from '../engine/protocol';
import { nullLogger, type Logger } from '../logger';
import { CompletionCache } from './cache';
import type { ExtraContextRing } from './extraContext';
import { AdaptiveDebounce, systemClock, type Clock } from './debounce';
import { DocumentPrompts, fimRequest, requestVariants, shownText } from './documentPrompts';
import { EngineCallSlot, untilAborted, type EngineCallDone } from './engineCall';
import type { CharsPerTokenEstimator, WindowHint } from './prompt';
import {
  defaultCompletionSettings,
  type CompletionContextSource,
  type CompletionEvent,
  type CompletionOutcome,
  type CompletionRequest,
  type CompletionSettings,
  type CompletionSource,
} from './request';
import { ModelViewCache, type ModelView } from './modelView';
import { errorMessage } from '../util';

export {
  defaultCompletionSettings,
  type CompletionContextSource,
  type CompletionEvent,
  type CompletionItem,
  type CompletionOutcome,
  type CompletionRequest,
  type CompletionSettings,
  type CompletionSource,
} from './request';

/** The key of a warm-up's engine call (then the document's URI). */
const WARM = 'warm:';

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

export class CompletionCore {
  readonly cache: CompletionCache;
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
  private readonly models: ModelViewCache;
  private current?: AbortController;
  private readonly engineCall: EngineCallSlot;
  private prefetchKey?: string;
  private readonly prompts: DocumentPrompts;
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
    this.engineCall = new EngineCallSlot(() => options.backend(), this.clock);
    this.prompts = new DocumentPrompts(options);
    this.models = new ModelViewCache(() => options.backend());
  }

  /** The chars-per-token estimator for documents of `languageId`. */
  estimatorFor(languageId: string): CharsPerTokenEstimator {
    return this.prompts.estimatorFor(languageId);
  }

  /** Where the last prompt for `uri` put its windows (the next prompt keeps them while they fit). */
  windowHint(uri: string): WindowHint | undefined {
    return this.prompts.windowHint(uri);
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
        model = await this.models.get();
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
      const settled = await this.engineCall.settle(request.uri, key, controller.signal, this.options.cancelSuperseded !== false);
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
        const draft = this.prompts.build(model.template, request, text, offset, settings, false);
        try {
          estimator.calibrate(draft.prompt.length, await this.options.backend().countTokens(draft.prompt));
        } catch {
          // The default ratio then; the first call's measurement calibrates it.
        }
        outcome.modelMs += this.clock.now() - measureStarted;
        if (controller.signal.aborted) return finish('cancelled');
      }
      const built = this.prompts.build(model.template, request, text, offset, settings);
      const variants = requestVariants(request.trigger, built, model.template, settings);
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
            const shown = shownText(done.result.text, built, settings, request);
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
    // Never in the way of the user's keystrokes; a warm-up in flight is for a place the user left,
    // so this one replaces it.
    const blocked = () => this.current !== undefined || (this.engineCall.busy && !this.engineCall.key?.startsWith(WARM));
    if (blocked()) return undefined;
    const { text, offset } = request;
    if (this.skipReason(text, offset)) return undefined;
    const full: CompletionRequest = { ...request, trigger: 'automatic' };
    // Whatever the first keystroke's prompt will hold: the lookups it would start, the same windows.
    await this.options.contextSource?.prepare(full, text, offset, new AbortController().signal).catch(() => undefined);
    const model = await this.models.get().catch(() => undefined);
    if (!model || blocked()) return undefined;
    const settings = this.settings();
    const estimator = this.estimatorFor(request.languageId);
    if (!estimator.calibrated) {
      const draft = this.prompts.build(model.template, full, text, offset, settings, false);
      estimator.calibrate(
        draft.prompt.length,
        await this.options
          .backend()
          .countTokens(draft.prompt)
          .catch(() => 0),
      );
      if (blocked()) return undefined;
    }
    await this.engineCall.cancel((key) => key.startsWith(WARM));
    if (blocked()) return undefined;
    const key = WARM + request.uri;
    const built = this.prompts.build(model.template, full, text, offset, settings);
    const [variant] = requestVariants('automatic', built, model.template, settings);
    const fim = { ...fimRequest(request.uri, built, variant, settings), maxTokens: 0 };
    return this.callEngine(request.uri, key, fim, estimator).then(
      ({ result }) => result.stats,
      () => undefined,
    );
  }

  /** Forgets the model view (call after the engine restarted or the model changed). */
  resetModel(): void {
    this.models.reset();
  }

  dispose(): void {
    this.current?.abort();
    this.engineCall.abort();
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

  /**
   * Starts an engine call as the one in flight. The debounce and the token estimate learn from its
   * result whoever is still waiting for it.
   */
  private callEngine(
    uri: string,
    key: string,
    fim: FimRequest,
    estimator: CharsPerTokenEstimator,
    signal?: AbortSignal,
  ): Promise<EngineCallDone> {
    return this.engineCall.start(uri, key, fim, signal, ({ result, elapsedMs }) => {
      estimator.calibrate(fim.prompt.length, result.stats.promptTokens);
      // A warm-up's time is not a completion's: the debounce and the status bar do not see it.
      if (key.startsWith(WARM)) return;
      this.debounce.record(elapsedMs);
      const seconds = result.stats.totalMs / 1000;
      this.options.onEvent?.({
        kind: 'done',
        latencyMs: elapsedMs,
        tokensPerSecond: seconds > 0 ? result.stats.generatedTokens / seconds : 0,
      });
    });
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
    if (this.engineCall.busy || this.prefetchKey === key || this.cache.has(key) || this.skipReason(acceptedText, acceptedOffset)) return;
    const built = this.prompts.build(model.template, request, acceptedText, acceptedOffset, settings);
    const [variant] = requestVariants('automatic', built, model.template, settings);
    this.counters.prefetchCalls++;
    this.prefetchKey = key;
    this.callEngine(request.uri, key, fimRequest(request.uri, built, variant, settings), this.estimatorFor(request.languageId))
      .then(({ result }) => {
        const next = shownText(result.text, built, settings, request);
        if (next) this.cache.set(key, [next]);
      })
      .catch(() => {});
  }
}
