// The engine itself: node-llama-cpp in this process — one model (+ optional draft model), one
// context with several sequences used as an LRU prompt cache, an own greedy decoding loop for FIM
// with speculative decoding (draft model or prompt lookup, verified token-for-token), chat and
// JSON-schema structured output through the model's own chat template, LoRA switching on the
// loaded model. Runs inside the engine process (worker.ts); benchmarks also call it directly.
import * as os from 'node:os';

import type {
  ChatHistoryItem,
  Llama,
  LlamaContext,
  LlamaContextSequence,
  LlamaGrammar,
  LlamaModel,
  Token,
} from 'node-llama-cpp' with { 'resolution-mode': 'import' };

import { GgufError, readGgufHeader, type GgufHeader } from '../gguf';
import { validateAdapter } from './adapterValidation';
import { schemaMismatch } from './jsonSchemaCheck';
import type { Logger } from '../logger';
import { nullLogger } from '../logger';
import {
  emptyMetrics,
  EngineError,
  type AdapterSpec,
  type AdapterSwitchResult,
  type Backend,
  type ChatMessage,
  type ChatRequest,
  type EngineInfo,
  type EngineMetrics,
  type EngineSettings,
  type EngineState,
  type FimFamily,
  type FimRequest,
  type GenerationResult,
  type RequestOptions,
  type RequestStats,
  type SpeculativeMode,
  type StructuredRequest,
  type StructuredResult,
} from './protocol';
import { Scheduler, type JobClass } from './scheduler';

type NodeLlamaCpp = typeof import('node-llama-cpp', { with: { 'resolution-mode': 'import' } });
let nodeLlamaCpp: Promise<NodeLlamaCpp> | undefined;

/** node-llama-cpp is ESM with top-level await: it can only be loaded with a dynamic import. */
export function loadNodeLlamaCpp(): Promise<NodeLlamaCpp> {
  return (nodeLlamaCpp ??= import('node-llama-cpp'));
}

export interface RuntimeOptions {
  logger?: Logger;
  onProgress?: (progress: { progress: number; file: string }) => void;
  /** Requests that may run at once (≤ sequences); default min(sequences, 4). */
  parallel?: number;
}

/** Threads for inference when the setting is 0: all cores but one for the editor, at most 8. */
export function defaultThreads(cores = os.availableParallelism()): number {
  return Math.max(1, Math.min(8, cores > 2 ? cores - 1 : cores === 2 ? 1 : 1));
}

interface AdaptiveDraft {
  /** Tokens to draft next round: grows while drafts are accepted. */
  draftLength: number;
  /** Plain tokens still to decode before the next draft attempt. */
  cooldown: number;
  /** The next cooldown after a fully rejected draft (doubles, up to 128). */
  plainStretch: number;
}

interface Slot {
  seq: LlamaContextSequence;
  draft?: LlamaContextSequence;
  adaptive: { draft?: AdaptiveDraft; lookup?: AdaptiveDraft };
  key: string | null;
  lastUsed: number;
  busy: boolean;
  /** Called when the slot is released (requests waiting to reuse it). */
  waiters: Array<() => void>;
}

interface GreedyOptions {
  maxTokens: number;
  deadline: number;
  stop: string[];
  mode: SpeculativeMode;
  signal: AbortSignal;
  onText?: (chunk: string) => void;
}

interface GreedyOutcome {
  text: string;
  tokens: Token[];
  evaluated: number;
  reused: number;
  draftAccepted: number;
  draftRejected: number;
  firstTokenAt: number;
  stopReason: RequestStats['stopReason'];
}

interface SchemaGrammar {
  sampling: LlamaGrammar;
  parse(text: string): unknown;
}

const MAX_DRAFT = { draft: 8, lookup: 10 } as const;
/** How long a completion waits for the cancelled request it superseded to free the document's sequence. */
const SUPERSEDED_WAIT_MS = 250;
const greedyNext = { generateNext: { token: true } } as const;

export class EngineRuntime implements Backend {
  readonly kind = 'local' as const;
  private readonly scheduler: Scheduler;
  private readonly logger: Logger;
  private slots: Slot[] = [];
  private context!: LlamaContext;
  private draftContext?: LlamaContext;
  private adapters: AdapterSpec[] = [];
  private readonly grammars = new Map<string, SchemaGrammar>();
  private readonly counters: EngineMetrics = emptyMetrics();
  private disposed = false;
  readonly fimFamily: FimFamily | null;

  private constructor(
    private readonly nlc: NodeLlamaCpp,
    private readonly llama: Llama,
    private readonly model: LlamaModel,
    private readonly draftModel: LlamaModel | undefined,
    private readonly settings: EngineSettings,
    private readonly threads: number,
    private loadTimeMs: number,
    options: RuntimeOptions,
  ) {
    this.logger = options.logger ?? nullLogger;
    this.scheduler = new Scheduler({ concurrency: Math.min(settings.sequences, options.parallel ?? 4) });
    this.fimFamily = detectFimFamily(model);
  }

  /** Loads the model (and draft model) and creates the context; throws EngineError with a code. */
  static async load(settings: EngineSettings, options: RuntimeOptions = {}): Promise<EngineRuntime> {
    const logger = options.logger ?? nullLogger;
    const started = performance.now();
    const nlc = await loadNodeLlamaCpp();
    const threads = settings.threads > 0 ? settings.threads : defaultThreads();
    const llama = await nlc.getLlama({
      gpu: settings.gpu === 'cpu' ? false : 'auto',
      build: 'never',
      maxThreads: threads,
      logLevel: nlc.LlamaLogLevel.error,
      logger: (level, message) => {
        const line = message.trimEnd();
        if (line) logger.debug(`llama.cpp ${level}: ${line}`);
      },
    });
    await checkGgufFile(settings.modelPath, 'model');
    if (settings.draftModelPath) await checkGgufFile(settings.draftModelPath, 'draft model');

    const model = await loadModelFile(llama, settings.modelPath, (p) => options.onProgress?.({ progress: p, file: settings.modelPath }));
    let draftModel: LlamaModel | undefined;
    try {
      if (settings.draftModelPath) {
        draftModel = await loadModelFile(llama, settings.draftModelPath, (p) =>
          options.onProgress?.({ progress: p, file: settings.draftModelPath! }),
        );
        const mismatch = vocabularyMismatch(model, draftModel);
        if (mismatch) {
          throw new EngineError(
            'DRAFT_MISMATCH',
            `The draft model ${settings.draftModelPath} cannot draft for ${settings.modelPath}: ${mismatch}. ` +
              'Choose a draft model from the same family (same tokenizer), or clear enclave.model.draftPath.',
          );
        }
      }
      const runtime = new EngineRuntime(nlc, llama, model, draftModel, settings, threads, 0, options);
      await runtime.createContexts(settings.adapters);
      runtime.loadTimeMs = performance.now() - started;
      logger.info(
        `loaded ${settings.modelPath} in ${Math.round(runtime.loadTimeMs)} ms (gpu ${llama.gpu || 'cpu'}, ` +
          `${model.gpuLayers}/${model.fileInsights.totalLayers} layers offloaded, ${threads} threads)`,
      );
      return runtime;
    } catch (err) {
      await draftModel?.dispose().catch(() => undefined);
      await model.dispose().catch(() => undefined);
      throw err;
    }
  }

  private async createContexts(adapters: AdapterSpec[]): Promise<void> {
    for (const adapter of adapters) await this.checkAdapter(adapter);
    const { settings } = this;
    const context = await this.model
      .createContext({
        sequences: settings.sequences,
        contextSize: settings.contextSize,
        batchSize: settings.batchSize,
        threads: this.threads,
        lora: adapters.length > 0 ? { adapters: adapters.map((a) => ({ filePath: a.path, scale: a.scale })) } : undefined,
      })
      .catch((err: unknown) => {
        throw mapLoadError(err, settings.modelPath, 'context');
      });
    if (this.draftModel && !this.draftContext) {
      this.draftContext = await this.draftModel.createContext({
        sequences: settings.sequences,
        contextSize: settings.contextSize,
        batchSize: settings.batchSize,
        threads: this.threads,
      });
    }
    const old = this.context;
    this.context = context;
    this.adapters = adapters.map((a) => ({ ...a }));
    const drafts = this.slots.map((s) => s.draft);
    this.slots = Array.from({ length: settings.sequences }, (_, i) => ({
      seq: context.getSequence(),
      draft: drafts[i] ?? this.draftContext?.getSequence(),
      key: null,
      lastUsed: 0,
      busy: false,
      adaptive: {},
      waiters: [],
    }));
    await old?.dispose();
  }

  private async checkAdapter(adapter: AdapterSpec): Promise<void> {
    const result = await validateAdapter(adapter.path, this.settings.modelPath);
    if (!result.ok) throw new EngineError('ADAPTER_MISMATCH', `LoRA adapter ${adapter.path} cannot be used with ${this.settings.modelPath}: ${result.reason}`);
  }

  // ------------------------------------------------------------------ requests

  info(): Promise<EngineInfo> {
    return this.buildInfo();
  }

  async completeFim(request: FimRequest, options: RequestOptions = {}): Promise<GenerationResult> {
    if (!this.fimFamily) {
      throw new EngineError('NO_FIM', `${this.settings.modelPath} has no fill-in-the-middle tokens; choose a coder base model (e.g. Qwen2.5-Coder) for inline completions.`);
    }
    validateFim(request);
    return this.track('completion', options, request.documentKey, async (signal, queuedMs) => {
      const started = performance.now();
      const tokens = this.model.tokenize(request.prompt, true);
      if (tokens.length >= this.context.contextSize - 1) {
        throw new EngineError(
          'BAD_REQUEST',
          `The FIM prompt (${tokens.length} tokens) does not fit the context size ${this.context.contextSize}; send a shorter prompt or raise enclave.engine.contextSize.`,
        );
      }
      // A request that superseded one for the same document finds that request's sequence still
      // busy until its cancel lands (within one decode step): wait for it, so the KV cache of the
      // document's prompt is reused rather than evaluated again on another sequence.
      const slot = await this.acquireSlotWhenReleased(`fim:${request.documentKey}`, signal, SUPERSEDED_WAIT_MS);
      try {
        const mode = this.resolveMode(request.speculative ?? this.settings.speculative);
        const out = await this.generateGreedy(slot, tokens, {
          // Generation stops when the sequence is full rather than shifting the prompt away.
          maxTokens: Math.min(request.maxTokens, this.context.contextSize - tokens.length - 1),
          deadline: request.maxTimeMs !== undefined ? started + request.maxTimeMs : Infinity,
          stop: request.stop ?? [],
          mode,
          signal,
          onText: options.onText,
        });
        const totalMs = performance.now() - started;
        const stats: RequestStats = {
          promptTokens: tokens.length,
          evaluatedTokens: out.evaluated,
          reusedTokens: out.reused,
          generatedTokens: out.tokens.length,
          timeToFirstTokenMs: (out.firstTokenAt || performance.now()) - started,
          totalMs,
          queuedMs,
          stopReason: out.stopReason,
        };
        if (mode !== 'off') stats.draft = { accepted: out.draftAccepted, rejected: out.draftRejected };
        return { text: out.text, stats };
      } finally {
        this.releaseSlot(slot);
      }
    });
  }

  async chat(request: ChatRequest, options: RequestOptions = {}): Promise<GenerationResult> {
    validateMessages(request.messages, request.maxTokens);
    return this.track('chat', options, undefined, async (signal, queuedMs) => {
      const out = await this.runChat('chat', request.messages, {
        maxTokens: request.maxTokens,
        temperature: request.temperature ?? 0,
        signal,
        onText: options.onText,
      });
      out.stats.queuedMs = queuedMs;
      return out;
    });
  }

  async generateStructured(request: StructuredRequest, options: RequestOptions = {}): Promise<StructuredResult> {
    validateMessages(request.messages, request.maxTokens);
    return this.track('structured', options, undefined, async (signal, queuedMs) => {
      const grammar = await this.grammarFor(request.schema);
      const out = await this.runChat('structured', request.messages, {
        maxTokens: request.maxTokens,
        temperature: request.temperature ?? 0,
        seed: request.seed,
        grammar: grammar.sampling,
        signal,
        onText: options.onText,
      });
      out.stats.queuedMs = queuedMs;
      let value: unknown;
      try {
        value = grammar.parse(out.text);
      } catch (err) {
        // node-llama-cpp 3.21's grammar bounds a string's length in code points but its parser
        // checks UTF-16 units, so a string at its limit holding an emoji is rejected although the
        // grammar produced it: check such JSON again, counting code points.
        const reparsed = parseJson(out.text);
        const mismatch = reparsed.ok ? schemaMismatch(reparsed.value, request.schema) : 'not JSON';
        if (mismatch !== null) {
          throw new EngineError(
            'INTERNAL',
            `Structured output did not parse: ${JSON.stringify(out.text.slice(0, 200))} (${out.stats.stopReason === 'maxTokens' ? `cut off at maxTokens ${request.maxTokens}` : errorMessage(err)}).`,
          );
        }
        this.logger.debug(`structured output accepted on code-point lengths (node-llama-cpp: ${errorMessage(err)})`);
        value = reparsed.ok ? reparsed.value : undefined;
      }
      return { ...out, value };
    });
  }

  async countTokens(text: string): Promise<number> {
    return this.model.tokenize(text, true).length;
  }

  /** Switches LoRA adapters on the loaded model: a new context, the base model stays loaded. */
  async setAdapters(adapters: AdapterSpec[]): Promise<AdapterSwitchResult> {
    for (const adapter of adapters) await this.checkAdapter(adapter);
    const { value } = await this.scheduler.run('exclusive', async () => {
      const started = performance.now();
      await this.createContexts(adapters);
      const switchMs = performance.now() - started;
      this.logger.info(`adapters switched in ${Math.round(switchMs)} ms: ${adapters.map((a) => `${a.path}×${a.scale}`).join(', ') || 'none'}`);
      return { adapters: this.adapters.map((a) => ({ ...a })), switchMs, modelReloaded: false };
    });
    return value;
  }

  async metrics(): Promise<EngineMetrics> {
    return { ...this.counters };
  }

  /** In process the engine is ready once loaded; it reports no further states. */
  onState(listener: (state: EngineState) => void): () => void {
    listener(this.disposed ? { kind: 'stopped' } : { kind: 'ready' });
    return () => undefined;
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.scheduler.cancelAll(new EngineError('ENGINE_UNAVAILABLE', 'The engine is shutting down.'));
    await this.context?.dispose().catch(() => undefined);
    await this.draftContext?.dispose().catch(() => undefined);
    await this.draftModel?.dispose().catch(() => undefined);
    await this.model.dispose().catch(() => undefined);
  }

  // ------------------------------------------------------------------ bookkeeping

  private async track<T extends GenerationResult>(
    cls: JobClass,
    options: RequestOptions,
    key: string | undefined,
    work: (signal: AbortSignal, queuedMs: number) => Promise<T>,
  ): Promise<T> {
    if (this.disposed) throw new EngineError('ENGINE_UNAVAILABLE', 'The engine has been shut down.');
    const enqueued = performance.now();
    this.counters.requests++;
    try {
      const { value } = await this.scheduler.run(cls, (signal) => work(signal, performance.now() - enqueued), { signal: options.signal, key });
      const { stats } = value;
      this.counters.promptTokens += stats.promptTokens;
      this.counters.evaluatedTokens += stats.evaluatedTokens;
      this.counters.reusedTokens += stats.reusedTokens;
      this.counters.generatedTokens += stats.generatedTokens;
      this.counters.draftAccepted += stats.draft?.accepted ?? 0;
      this.counters.draftRejected += stats.draft?.rejected ?? 0;
      this.counters.lastLatencyMs = stats.totalMs;
      const genMs = stats.totalMs - stats.timeToFirstTokenMs;
      if (stats.generatedTokens > 1 && genMs > 0) this.counters.lastTokensPerSecond = ((stats.generatedTokens - 1) * 1000) / genMs;
      return value;
    } catch (err) {
      const mapped = err instanceof EngineError ? err : options.signal?.aborted ? new EngineError('CANCELLED', 'Request cancelled.') : new EngineError('INTERNAL', errorMessage(err));
      if (mapped.code === 'CANCELLED') this.counters.cancelled++;
      else this.counters.failed++;
      throw mapped;
    }
  }

  /** The LRU prompt cache: the free sequence last used for `key`, else the least recently used one. */
  private acquireSlot(key: string): Slot {
    const free = this.slots.filter((s) => !s.busy);
    if (free.length === 0) throw new EngineError('INTERNAL', 'No free sequence (scheduler concurrency exceeds sequences).');
    // The most recent one when a fallback left the key on two sequences.
    let slot = free.filter((s) => s.key === key).reduce<Slot | undefined>((a, b) => (a && a.lastUsed >= b.lastUsed ? a : b), undefined);
    if (!slot) {
      slot = free.reduce((a, b) => (b.key === null && a.key !== null ? b : a.key === null && b.key !== null ? a : b.lastUsed < a.lastUsed ? b : a));
      if (slot.key !== null) {
        this.counters.sequenceEvictions++;
        this.logger.debug(`prompt cache: ${slot.key} evicted for ${key}`);
      }
      slot.key = key;
      slot.adaptive = {};
    }
    slot.busy = true;
    slot.lastUsed = performance.now();
    return slot;
  }

  /** acquireSlot, after waiting up to `maxWaitMs` for a busy sequence that holds `key` to be released. */
  private async acquireSlotWhenReleased(key: string, signal: AbortSignal, maxWaitMs: number): Promise<Slot> {
    const deadline = performance.now() + maxWaitMs;
    for (;;) {
      throwIfAborted(signal);
      const held = this.slots.find((s) => s.busy && s.key === key);
      const left = deadline - performance.now();
      if (!held || left <= 0) break;
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          const i = held.waiters.indexOf(done);
          if (i >= 0) held.waiters.splice(i, 1);
          resolve();
        };
        const timer = setTimeout(done, left);
        held.waiters.push(done);
        signal.addEventListener('abort', done, { once: true });
      });
    }
    const slot = this.acquireSlot(key);
    if (slot.key === key && this.slots.some((s) => s !== slot && s.busy && s.key === key)) {
      this.logger.debug(`prompt cache: ${key} still busy after ${maxWaitMs} ms; using another sequence`);
    }
    return slot;
  }

  private releaseSlot(slot: Slot): void {
    slot.busy = false;
    slot.lastUsed = performance.now();
    for (const wake of slot.waiters.splice(0)) wake();
  }

  private resolveMode(mode: SpeculativeMode): SpeculativeMode {
    if (mode === 'auto') return this.draftModel ? 'draft' : 'lookup';
    if (mode === 'draft' && !this.draftModel) return 'lookup';
    return mode;
  }

  private async grammarFor(schema: object): Promise<SchemaGrammar> {
    const key = JSON.stringify(schema);
    let grammar = this.grammars.get(key);
    if (!grammar) {
      try {
        const schemaGrammar = (await this.llama.createGrammarForJsonSchema(schema as never)) as LlamaGrammar & { parse(text: string): unknown };
        // node-llama-cpp's number rules allow exponents of up to 16 digits, so an "integer" can come
        // out as 5E955 (Infinity) and fail its own validation: sample with sane number rules.
        const text = saneNumberRules(schemaGrammar.grammar);
        const sampling = text === schemaGrammar.grammar ? schemaGrammar : await this.llama.createGrammar({ grammar: text });
        grammar = { sampling, parse: (json) => schemaGrammar.parse(json) };
      } catch (err) {
        throw new EngineError('BAD_REQUEST', `The JSON schema is not supported: ${errorMessage(err)}`);
      }
      if (this.grammars.size > 32) this.grammars.clear();
      this.grammars.set(key, grammar);
    }
    return grammar;
  }

  // ------------------------------------------------------------------ FIM: own greedy loop

  /**
   * Makes `seq` hold every token of `tokens` but the last (the divergent tail erased, only the
   * missing tokens evaluated, batch by batch so a cancel is noticed between batches) and returns
   * how many were reused plus the tokens left for the first generation step (the last one).
   * The prompt is always evaluated apart from generation so that plain and speculative decoding
   * see bit-identical KV states (llama.cpp's matmul results depend on the batch composition).
   */
  private async syncPrefix(seq: LlamaContextSequence, tokens: Token[], signal: AbortSignal): Promise<{ reused: number; rest: Token[] }> {
    const held = seq.contextTokens;
    let common = 0;
    const last = tokens.length - 1;
    const limit = Math.min(held.length, last);
    while (common < limit && held[common] === tokens[common]) common++;
    if (common < seq.nextTokenIndex) await seq.eraseContextTokenRanges([{ start: common, end: seq.nextTokenIndex }]);
    const batch = this.settings.batchSize;
    for (let start = common; start < last; start += batch) {
      throwIfAborted(signal);
      await seq.evaluateWithoutGeneratingNewTokens(tokens.slice(start, Math.min(start + batch, last)));
    }
    return { reused: common, rest: tokens.slice(last) };
  }

  private async generateGreedy(slot: Slot, prompt: Token[], o: GreedyOptions): Promise<GreedyOutcome> {
    const { seq } = slot;
    const model = this.model;
    const { reused, rest } = await this.syncPrefix(seq, prompt, o.signal);
    const all = prompt.slice();
    const generated: Token[] = [];
    const out: GreedyOutcome = {
      text: '',
      tokens: generated,
      evaluated: prompt.length - reused,
      reused,
      draftAccepted: 0,
      draftRejected: 0,
      firstTokenAt: 0,
      stopReason: 'maxTokens',
    };
    /** Tokens not yet in the KV cache; the next decode evaluates them and predicts what follows. */
    let pending: Token[] = rest;
    let emitted = 0;
    let done = false;
    const maxHold = Math.max(0, ...o.stop.map((s) => s.length - 1));

    /** Takes one generated token; returns false when generation is over. */
    const take = (token: Token): boolean => {
      if (done) return false;
      if (!out.firstTokenAt) out.firstTokenAt = performance.now();
      if (model.isEogToken(token) || model.isSpecialToken(token)) {
        out.stopReason = 'eos';
        done = true;
        return false;
      }
      generated.push(token);
      all.push(token);
      let text = model.detokenize(generated, false);
      let stopAt = -1;
      for (const s of o.stop) {
        if (!s) continue;
        const at = text.indexOf(s, Math.max(0, emitted - s.length));
        if (at >= 0 && (stopAt < 0 || at < stopAt)) stopAt = at;
      }
      if (stopAt >= 0) {
        text = text.slice(0, stopAt);
        out.stopReason = 'stop';
        done = true;
      } else if (generated.length >= o.maxTokens) {
        out.stopReason = 'maxTokens';
        done = true;
      } else if (performance.now() >= o.deadline) {
        out.stopReason = 'maxTime';
        done = true;
      }
      out.text = text;
      if (o.onText && !o.signal.aborted) {
        let safe = done ? text.length : text.length - holdBack(text, o.stop, maxHold);
        if (!done && text.endsWith('\uFFFD')) safe = Math.min(safe, text.length - 1);
        if (safe > emitted) {
          o.onText(text.slice(emitted, safe));
          emitted = safe;
        }
      }
      return !done;
    };

    // Adaptive draft length: grows while drafts are accepted, backs off (plain decoding for a
    // growing stretch) while they are not, so a poor draft costs little.
    const mode = o.mode;
    // The state lives on the slot, so a document whose drafts keep failing starts its next
    // request already backed off.
    const adapt = (slot.adaptive[mode === 'lookup' ? 'lookup' : 'draft'] ??= { draftLength: mode === 'draft' ? 4 : 6, cooldown: 0, plainStretch: 4 });

    const spec = async (): Promise<boolean> => {
      const room = o.maxTokens - generated.length - 1;
      const k = Math.min(adapt.draftLength, room);
      if (k <= 0) return false;
      const draft = mode === 'lookup' ? lookupDraft(all, k) : await this.draftTokens(slot, all, k, o.signal);
      if (draft.length === 0) return false;
      throwIfAborted(o.signal);
      const head = pending.length - 1;
      const results = await seq.controlledEvaluate([
        ...pending.slice(0, head),
        [pending[head], greedyNext],
        ...draft.map((t) => [t, greedyNext] as [Token, typeof greedyNext]),
      ]);
      let accepted = 0;
      while (accepted < draft.length && results[head + accepted]?.next.token === draft[accepted]) accepted++;
      const next = results[head + accepted]?.next.token;
      if (accepted < draft.length) {
        const end = seq.nextTokenIndex;
        await seq.eraseContextTokenRanges([{ start: end - (draft.length - accepted), end }]);
      }
      out.draftAccepted += accepted;
      out.draftRejected += draft.length - accepted;
      if (accepted === draft.length) adapt.draftLength = Math.min(MAX_DRAFT[mode === 'lookup' ? 'lookup' : 'draft'], adapt.draftLength + 2);
      else adapt.draftLength = Math.max(2, accepted + 1);
      if (mode === 'draft') {
        if (accepted === 0) {
          adapt.cooldown = adapt.plainStretch;
          adapt.plainStretch = Math.min(128, adapt.plainStretch * 2);
        } else adapt.plainStretch = 4;
      }
      for (let i = 0; i < accepted; i++) if (!take(draft[i])) return true;
      if (next === undefined || next === null) {
        out.stopReason = 'eos';
        done = true;
        return true;
      }
      if (!take(next)) return true;
      pending = [next];
      return true;
    };

    while (!done) {
      throwIfAborted(o.signal);
      if (mode !== 'off' && (mode === 'lookup' || adapt.cooldown <= 0)) {
        if (await spec()) continue;
      }
      // A plain stretch on node-llama-cpp's evaluate loop (one sampler, no per-token setup); it
      // breaks out as soon as prompt lookup has a proposal or the draft cooldown is over.
      const iterator = seq.evaluate(pending, { temperature: 0 });
      let last: Token | undefined;
      for await (const token of iterator) {
        last = token;
        if (!take(token) || o.signal.aborted) break;
        pending = [token];
        if (mode === 'draft' && --adapt.cooldown <= 0) break;
        if (mode === 'lookup' && lookupDraft(all, 1).length > 0) break;
      }
      if (last === undefined) {
        out.stopReason = 'eos';
        done = true;
      }
      if (o.signal.aborted) break;
    }
    throwIfAborted(o.signal);
    return out;
  }

  /** Drafts up to k tokens after `all` with the draft model, keeping its sequence in step (KV reuse). */
  private async draftTokens(slot: Slot, all: Token[], k: number, signal: AbortSignal): Promise<Token[]> {
    const seq = slot.draft;
    if (!seq) return [];
    const { rest } = await this.syncPrefix(seq, all, signal);
    const draft: Token[] = [];
    for await (const token of seq.evaluate(rest, { temperature: 0 })) {
      if (this.model.isEogToken(token)) break;
      draft.push(token);
      if (draft.length >= k) break;
    }
    return draft;
  }

  // ------------------------------------------------------------------ chat and structured

  private async runChat(
    cls: 'chat' | 'structured',
    messages: ChatMessage[],
    o: { maxTokens: number; temperature: number; seed?: number; grammar?: LlamaGrammar; signal: AbortSignal; onText?: (chunk: string) => void },
  ): Promise<GenerationResult> {
    const started = performance.now();
    const slot = this.acquireSlot(cls);
    const chat = new this.nlc.LlamaChat({ contextSequence: slot.seq, chatWrapper: 'auto', autoDisposeSequence: false });
    try {
      const before = slot.seq.contextTokens;
      const inputBefore = slot.seq.tokenMeter.usedInputTokens;
      const outputBefore = slot.seq.tokenMeter.usedOutputTokens;
      let firstTokenAt = 0;
      const history: ChatHistoryItem[] = messages.map((m) =>
        m.role === 'system' ? { type: 'system', text: m.content } : m.role === 'user' ? { type: 'user', text: m.content } : { type: 'model', response: [m.content] },
      );
      history.push({ type: 'model', response: [] });
      let aborted = false;
      const response = await chat.generateResponse(history, {
        maxTokens: o.maxTokens,
        temperature: o.temperature,
        seed: o.seed,
        grammar: o.grammar,
        signal: o.signal,
        stopOnAbortSignal: true,
        onTextChunk: (chunk) => {
          if (!firstTokenAt) firstTokenAt = performance.now();
          if (o.signal.aborted) aborted = true;
          else if (chunk) o.onText?.(chunk);
        },
      });
      if (aborted || o.signal.aborted) throw new EngineError('CANCELLED', 'Request cancelled.');
      const after = slot.seq.contextTokens;
      const generatedTokens = slot.seq.tokenMeter.usedOutputTokens - outputBefore;
      const evaluatedInputs = slot.seq.tokenMeter.usedInputTokens - inputBefore;
      // The sequence now holds the prompt plus the generated tokens but the last.
      const promptTokens = Math.max(0, after.length - Math.max(0, generatedTokens - 1));
      let reused = 0;
      while (reused < before.length && reused < promptTokens && before[reused] === after[reused]) reused++;
      const evaluatedTokens = Math.max(0, Math.min(promptTokens - reused, evaluatedInputs));
      const stopReason: RequestStats['stopReason'] = response.metadata.stopReason === 'maxTokens' ? 'maxTokens' : response.metadata.stopReason === 'abort' ? 'abort' : 'eos';
      return {
        text: response.response,
        stats: {
          promptTokens,
          evaluatedTokens,
          reusedTokens: promptTokens - evaluatedTokens,
          generatedTokens,
          timeToFirstTokenMs: (firstTokenAt || performance.now()) - started,
          totalMs: performance.now() - started,
          queuedMs: 0,
          stopReason,
        },
      };
    } finally {
      chat.dispose({ disposeSequence: false });
      this.releaseSlot(slot);
    }
  }

  // ------------------------------------------------------------------ info

  private async buildInfo(): Promise<EngineInfo> {
    const vram = await this.llama.getVramState().catch(() => ({ total: 0, used: 0, free: 0 }));
    const total = os.totalmem();
    const free = os.freemem();
    const metadata = this.model.fileInfo.metadata as unknown as { general?: { name?: string; architecture?: string } };
    return {
      backend: 'local',
      gpu: this.llama.gpu || 'cpu',
      gpuDeviceNames: await this.llama.getGpuDeviceNames().catch(() => []),
      layersOffloaded: this.model.gpuLayers,
      totalLayers: this.model.fileInsights.totalLayers,
      vram: { total: vram.total, used: vram.used, free: vram.free },
      ram: { total, used: total - free, free },
      cpuCores: os.availableParallelism(),
      threads: this.threads,
      contextSize: this.context.contextSize,
      sequences: this.settings.sequences,
      modelPath: this.settings.modelPath,
      modelName: metadata.general?.name ?? this.settings.modelPath.split(/[\\/]/).pop() ?? '',
      architecture: metadata.general?.architecture ?? String(this.model.fileInfo.metadata.general?.architecture ?? ''),
      modelSizeBytes: this.model.size,
      fimFamily: this.fimFamily,
      draftModelPath: this.settings.draftModelPath || undefined,
      speculative: this.settings.speculative,
      adapters: this.adapters.map((a) => ({ ...a })),
      loadTimeMs: this.loadTimeMs,
    };
  }
}

// -------------------------------------------------------------------- helpers

/** Prompt lookup: the continuation after the latest earlier occurrence of the last n tokens. */
export function lookupDraft(tokens: readonly Token[], k: number, maxNgram = 4, minNgram = 2): Token[] {
  const n = tokens.length;
  for (let size = Math.min(maxNgram, n - 1); size >= minNgram; size--) {
    const start = n - size;
    for (let i = start - 1; i >= 0; i--) {
      let match = true;
      for (let j = 0; j < size; j++) {
        if (tokens[i + j] !== tokens[start + j]) {
          match = false;
          break;
        }
      }
      if (match && i + size < n) return tokens.slice(i + size, Math.min(n, i + size + k)) as Token[];
    }
  }
  return [];
}

/** Integers without exponents; other numbers with exponents of at most two digits. */
export function saneNumberRules(grammar: string): string {
  const exponent = ' ([eE] [-+]? ("0" | [1-9] [0-9]{0,15}))?';
  return grammar
    .split('\n')
    .map((line) => {
      if (!line.includes(exponent)) return line;
      if (line.startsWith('integer-number-rule ::=')) return line.replace(exponent, '');
      return line.replace(exponent, ' ([eE] [-+]? [0-9]{1,2})?');
    })
    .join('\n');
}

/** Characters at the end of `text` that could be the start of a stop string. */
function holdBack(text: string, stops: string[], maxHold: number): number {
  for (let len = Math.min(maxHold, text.length); len > 0; len--) {
    const tail = text.slice(text.length - len);
    if (stops.some((s) => s.startsWith(tail))) return len;
  }
  return 0;
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw new EngineError('CANCELLED', 'Request cancelled.');
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function validateFim(request: FimRequest): void {
  if (typeof request.prompt !== 'string' || request.prompt.length === 0) throw new EngineError('BAD_REQUEST', 'FIM request without a prompt.');
  if (!(request.maxTokens >= 1)) throw new EngineError('BAD_REQUEST', 'FIM request needs maxTokens ≥ 1.');
}

function validateMessages(messages: ChatMessage[], maxTokens: number): void {
  if (!Array.isArray(messages) || messages.length === 0) throw new EngineError('BAD_REQUEST', 'Chat request without messages.');
  if (!(maxTokens >= 1)) throw new EngineError('BAD_REQUEST', 'Chat request needs maxTokens ≥ 1.');
}

const fimFamilies: Array<[FimFamily, RegExp]> = [
  ['qwen', /^<\|fim_prefix\|>$/],
  ['deepseek', /fim.begin/],
  ['codestral', /^\[PREFIX\]$/],
  ['codellama', /<PRE>/],
  ['starcoder', /^<fim_prefix>$/],
];

function detectFimFamily(model: LlamaModel): FimFamily | null {
  const { infill } = model.tokens;
  if (infill.prefix === null || infill.suffix === null || infill.middle === null) return null;
  const text = (infill.prefixString ?? '').trim();
  return fimFamilies.find(([, pattern]) => pattern.test(text))?.[0] ?? null;
}

/** Why the draft cannot draft for the target, or null when the vocabularies agree. */
function vocabularyMismatch(target: LlamaModel, draft: LlamaModel): string | null {
  const targetSize = vocabularySize(target);
  const draftSize = vocabularySize(draft);
  if (Math.abs(targetSize - draftSize) > 128) return `its vocabulary has ${draftSize} tokens, the model's ${targetSize}`;
  if (target.tokens.eos !== draft.tokens.eos) return 'its end-of-sequence token differs';
  const sample = 'function fim(a, b) {\n  return a + b; // ünïcode 中文\n}';
  const a = target.tokenize(sample, false);
  const b = draft.tokenize(sample, false);
  if (a.length !== b.length || a.some((t, i) => t !== b[i])) return 'it tokenizes text differently';
  const step = Math.max(1, Math.floor(Math.min(targetSize, draftSize) / 1000));
  for (let id = 0; id < Math.min(targetSize, draftSize); id += step) {
    if (target.detokenize([id as Token], true) !== draft.detokenize([id as Token], true)) return `token ${id} differs`;
  }
  return null;
}

function vocabularySize(model: LlamaModel): number {
  const tokens = (model.fileInfo.metadata as unknown as { tokenizer?: { ggml?: { tokens?: unknown[] } } }).tokenizer?.ggml?.tokens;
  return Array.isArray(tokens) ? tokens.length : 0;
}

/** The model file's header, read and checked for truncation before llama.cpp sees the file. */
async function checkGgufFile(filePath: string, what: string): Promise<GgufHeader> {
  if (!filePath) throw new EngineError('MODEL_NOT_FOUND', `No ${what} file is set. Choose a GGUF model (enclave.model.path).`);
  try {
    return await readGgufHeader(filePath);
  } catch (err) {
    if (!(err instanceof GgufError)) throw err;
    switch (err.problem) {
      case 'missing':
        throw new EngineError('MODEL_NOT_FOUND', `The ${what} file ${filePath} does not exist. Check the path in the settings or download the model again.`);
      case 'not-a-file':
        throw new EngineError('MODEL_NOT_FOUND', `The ${what} path ${filePath} is not a file. Point enclave.model.path at a .gguf file.`);
      case 'not-gguf':
        throw new EngineError('MODEL_INVALID', `The ${what} file ${filePath} is not a GGUF file. Enclave needs a llama.cpp GGUF model (*.gguf).`);
      default:
        throw new EngineError('MODEL_INVALID', `The ${what} file ${filePath} is damaged or truncated (${err.message}). Download it again.`);
    }
  }
}

async function loadModelFile(llama: Llama, modelPath: string, onProgress: (p: number) => void): Promise<LlamaModel> {
  try {
    return await llama.loadModel({ modelPath, gpuLayers: 'auto', onLoadProgress: onProgress });
  } catch (err) {
    throw mapLoadError(err, modelPath, 'model');
  }
}

function mapLoadError(err: unknown, modelPath: string, what: 'model' | 'context'): EngineError {
  if (err instanceof EngineError) return err;
  const message = errorMessage(err);
  if (/insufficient|not enough|too large|out of memory|InsufficientMemory/i.test(message) || (err as Error)?.name === 'InsufficientMemoryError') {
    return new EngineError(
      'MODEL_TOO_LARGE',
      `${modelPath} does not fit in this machine's memory (${message}). Choose a smaller model or quantisation, or a smaller enclave.engine.contextSize.`,
    );
  }
  return new EngineError('MODEL_INVALID', `Could not load the ${what} for ${modelPath}: ${message}. The file may be damaged or not a supported model; download it again.`);
}
