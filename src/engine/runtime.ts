// The engine itself: node-llama-cpp in this process — one model (+ optional draft model), one
// context whose sequences are an LRU prompt cache (slots.ts), FIM through Enclave's own greedy and
// speculative decoding loop (fimDecoding.ts), chat and JSON-schema structured output through the
// model's chat template (chatGeneration.ts), LoRA switching on the loaded model, all through one
// scheduler. Loading (node-llama-cpp, the model and the draft model) and file checks are in
// modelFiles.ts. Runs inside the engine process (worker.ts); benchmarks and the CLI server call it too.
import * as os from 'node:os';

import type { Llama, LlamaContext, LlamaModel } from 'node-llama-cpp' with { 'resolution-mode': 'import' };

import { validateAdapter } from './adapterValidation';
import { parseStructured, runChat, SchemaGrammars } from './chatGeneration';
import { EditorFirstGate, yieldingSequence } from './editorFirst';
import { EmbeddingModels } from './embeddings';
import { validateTools } from './toolCalls';
import { generateGreedy } from './fimDecoding';
import type { Logger } from '../logger';
import { nullLogger } from '../logger';
import { detectFimFamily, loadModels, mapLoadError, modelTags, type NodeLlamaCpp } from './modelFiles';
import {
  emptyMetrics,
  EngineError,
  type AdapterSpec,
  type AdapterSwitchResult,
  type Backend,
  type ChatMessage,
  type ChatRequest,
  type EmbedRequest,
  type EmbedResult,
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
import { errorMessage } from '../util';
import { Scheduler, type JobClass } from './scheduler';
import { SlotPool, type Slot } from './slots';

export { defaultThreads, loadNodeLlamaCpp } from './modelFiles';

export interface RuntimeOptions {
  logger?: Logger;
  onProgress?: (progress: { progress: number; file: string }) => void;
  /** Requests that may run at once (≤ sequences); default min(sequences, 4). */
  parallel?: number;
}

export class EngineRuntime implements Backend {
  readonly kind = 'local' as const;
  private readonly scheduler: Scheduler;
  /** Chat, review and API work pause between steps while an editor completion runs. */
  private readonly editorFirst = new EditorFirstGate();
  private readonly logger: Logger;
  private readonly slots: SlotPool;
  private context!: LlamaContext;
  private draftContext?: LlamaContext;
  private adapters: AdapterSpec[] = [];
  private readonly grammars: SchemaGrammars;
  private readonly counters: EngineMetrics = emptyMetrics();
  private disposed = false;
  private embeddings?: EmbeddingModels;
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
    this.grammars = new SchemaGrammars(llama);
    this.slots = new SlotPool((evicted, forKey) => {
      this.counters.sequenceEvictions++;
      this.logger.debug(`prompt cache: ${evicted} evicted for ${forKey}`);
    });
  }

  /** Loads the model (and draft model) and creates the context; throws EngineError with a code. */
  static async load(settings: EngineSettings, options: RuntimeOptions = {}): Promise<EngineRuntime> {
    const logger = options.logger ?? nullLogger;
    const started = performance.now();
    const { nlc, llama, threads, model, draftModel } = await loadModels(settings, logger, options.onProgress);
    try {
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
    this.slots.reset(context, this.draftContext, settings.sequences);
    await old?.dispose();
  }

  private async checkAdapter(adapter: AdapterSpec): Promise<void> {
    const result = await validateAdapter(adapter.path, this.settings.modelPath);
    if (!result.ok)
      throw new EngineError(
        'ADAPTER_MISMATCH',
        `LoRA adapter ${adapter.path} cannot be used with ${this.settings.modelPath}: ${result.reason}`,
      );
  }

  // ------------------------------------------------------------------ requests

  info(): Promise<EngineInfo> {
    return this.buildInfo();
  }

  async completeFim(request: FimRequest, options: RequestOptions = {}): Promise<GenerationResult> {
    // A next-edit prompt is raw text in the next-edit model's own format: no FIM tokens needed.
    if (!this.fimFamily && request.engine !== 'nextEdit') {
      throw new EngineError(
        'NO_FIM',
        `${this.settings.modelPath} has no fill-in-the-middle tokens; choose a coder base model (e.g. Qwen2.5-Coder) for inline completions.`,
      );
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
      // The scheduler starts a request only once the one it superseded for this document has
      // ended, so the document's sequence (and its KV cache) is free here.
      const slot = this.slots.acquire(`fim:${request.documentKey}`);
      const leave = request.yieldToEditor ? undefined : this.editorFirst.enter();
      try {
        const mode = this.resolveMode(request.speculative ?? this.settings.speculative);
        const seq = request.yieldToEditor ? yieldingSequence(slot.seq, this.editorFirst, signal) : slot.seq;
        const out = await generateGreedy(this.model, { ...slot, seq }, tokens, {
          batchSize: this.settings.batchSize,
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
        if (mode !== 'off')
          stats.draft = { accepted: out.draftAccepted, rejected: out.draftRejected, rounds: out.draftRounds, speedUp: out.draftSpeedUp };
        return { text: out.text, stats };
      } finally {
        leave?.();
        this.slots.release(slot);
      }
    });
  }

  async chat(request: ChatRequest, options: RequestOptions = {}): Promise<GenerationResult> {
    validateMessages(request.messages, request.maxTokens);
    validateTools(request.tools);
    const drafting = this.resolveMode(request.speculative ?? this.settings.speculative) === 'draft';
    return this.track('chat', options, undefined, async (signal, queuedMs) => {
      const out = await this.onSlot('chat', signal, (slot) =>
        runChat(this.nlc, slot.seq, request.messages, {
          maxTokens: request.maxTokens,
          temperature: request.temperature ?? 0,
          signal,
          onText: options.onText,
          tools: request.tools,
          toolMode: request.toolMode,
          speculative: drafting ? { model: this.model, slot, batchSize: this.settings.batchSize } : undefined,
        }),
      );
      out.stats.queuedMs = queuedMs;
      return out;
    });
  }

  async generateStructured(request: StructuredRequest, options: RequestOptions = {}): Promise<StructuredResult> {
    validateMessages(request.messages, request.maxTokens);
    return this.track('structured', options, undefined, async (signal, queuedMs) => {
      const grammar = await this.grammars.grammarFor(request.schema);
      const out = await this.onSlot(request.cacheKey ? `structured:${request.cacheKey}` : 'structured', signal, (slot) =>
        runChat(this.nlc, slot.seq, request.messages, {
          maxTokens: request.maxTokens,
          temperature: request.temperature ?? 0,
          seed: request.seed,
          grammar: grammar.sampling,
          signal,
          onText: options.onText,
        }),
      );
      out.stats.queuedMs = queuedMs;
      return { ...out, value: parseStructured(grammar, out, request.schema, request.maxTokens, this.logger) };
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
      this.logger.info(
        `adapters switched in ${Math.round(switchMs)} ms: ${adapters.map((a) => `${a.path}×${a.scale}`).join(', ') || 'none'}`,
      );
      return { adapters: this.adapters.map((a) => ({ ...a })), switchMs, modelReloaded: false };
    });
    return value;
  }

  /** Embeddings on their own model and context, outside the scheduler; they wait for the editor's completions. */
  async embed(request: EmbedRequest, options: RequestOptions = {}): Promise<EmbedResult> {
    if (this.disposed) throw new EngineError('ENGINE_UNAVAILABLE', 'The engine has been shut down.');
    this.embeddings ??= new EmbeddingModels(this.llama, this.threads, this.editorFirst, this.logger);
    return this.embeddings.embed(request, options.signal);
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
    await this.embeddings?.dispose();
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
      const { value } = await this.scheduler.run(cls, (signal) => work(signal, performance.now() - enqueued), {
        signal: options.signal,
        key,
      });
      const { stats } = value;
      this.counters.promptTokens += stats.promptTokens;
      this.counters.evaluatedTokens += stats.evaluatedTokens;
      this.counters.reusedTokens += stats.reusedTokens;
      this.counters.generatedTokens += stats.generatedTokens;
      this.counters.draftAccepted += stats.draft?.accepted ?? 0;
      this.counters.draftRejected += stats.draft?.rejected ?? 0;
      if (stats.draft?.speedUp !== undefined) this.counters.draftSpeedUp = stats.draft.speedUp;
      this.counters.lastLatencyMs = stats.totalMs;
      const genMs = stats.totalMs - stats.timeToFirstTokenMs;
      if (stats.generatedTokens > 1 && genMs > 0) this.counters.lastTokensPerSecond = ((stats.generatedTokens - 1) * 1000) / genMs;
      return value;
    } catch (err) {
      const mapped =
        err instanceof EngineError
          ? err
          : options.signal?.aborted
            ? new EngineError('CANCELLED', 'Request cancelled.')
            : new EngineError('INTERNAL', errorMessage(err));
      if (mapped.code === 'CANCELLED') this.counters.cancelled++;
      else this.counters.failed++;
      throw mapped;
    }
  }

  /** Runs `work` on a sequence of the pool (chat and review share a key each) that yields to the editor's completions between steps. */
  private async onSlot<T>(key: string, signal: AbortSignal, work: (slot: Slot) => Promise<T>): Promise<T> {
    const slot = this.slots.acquire(key);
    try {
      return await work({ ...slot, seq: yieldingSequence(slot.seq, this.editorFirst, signal) });
    } finally {
      this.slots.release(slot);
    }
  }

  private resolveMode(mode: SpeculativeMode): SpeculativeMode {
    if (mode === 'auto') return this.draftModel ? 'draft' : 'lookup';
    if (mode === 'draft' && !this.draftModel) return 'lookup';
    return mode;
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
      modelTags: modelTags(this.model),
      draftModelPath: this.settings.draftModelPath || undefined,
      speculative: this.settings.speculative,
      adapters: this.adapters.map((a) => ({ ...a })),
      loadTimeMs: this.loadTimeMs,
    };
  }
}

function validateFim(request: FimRequest): void {
  if (typeof request.prompt !== 'string' || request.prompt.length === 0)
    throw new EngineError('BAD_REQUEST', 'FIM request without a prompt.');
  // 0: evaluate the prompt only (warming a document's cache).
  if (!(request.maxTokens >= 0)) throw new EngineError('BAD_REQUEST', 'FIM request needs maxTokens ≥ 0.');
}

function validateMessages(messages: ChatMessage[], maxTokens: number): void {
  if (!Array.isArray(messages) || messages.length === 0) throw new EngineError('BAD_REQUEST', 'Chat request without messages.');
  if (!(maxTokens >= 1)) throw new EngineError('BAD_REQUEST', 'Chat request needs maxTokens ≥ 1.');
}
