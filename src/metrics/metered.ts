// A Backend that passes every call through and records chat and review generations (throughput,
// time to first token) and failed calls. The composition root hands features this one object, so
// chat, review and the API server are measured without knowing about metrics.
import {
  EngineError,
  type AdapterSpec,
  type AdapterSwitchResult,
  type Backend,
  type ChatRequest,
  type EmbedRequest,
  type EmbedResult,
  type EngineInfo,
  type EngineMetrics,
  type EngineState,
  type FimRequest,
  type GenerationResult,
  type RequestOptions,
  type StructuredRequest,
  type StructuredResult,
} from '../engine/protocol';
import type { GenerationFeature, MetricEvent } from './events';

export interface MeterSink {
  /** Whether to record now (the setting can turn metrics off at any time). */
  enabled(): boolean;
  record(event: MetricEvent): void;
  /** The model and adapter requests go to now. */
  dimensions(): { model: string; adapter: string };
}

export class MeteredBackend implements Backend {
  constructor(
    private readonly inner: Backend & { readonly currentState?: EngineState },
    private readonly sink: MeterSink,
    private readonly now: () => number = Date.now,
  ) {}

  get kind(): 'local' | 'remote' {
    return this.inner.kind;
  }
  /** The wrapped backend's state (the SwitchingBackend exposes it; feature code may read it). */
  get currentState(): EngineState | undefined {
    return this.inner.currentState;
  }

  info(engine?: 'nextEdit'): Promise<EngineInfo> {
    return this.inner.info(engine);
  }
  completeFim(request: FimRequest, options?: RequestOptions): Promise<GenerationResult> {
    return this.measure(undefined, options, () => this.inner.completeFim(request, options));
  }
  chat(request: ChatRequest, options?: RequestOptions): Promise<GenerationResult> {
    return this.measure('chat', options, () => this.inner.chat(request, options));
  }
  generateStructured(request: StructuredRequest, options?: RequestOptions): Promise<StructuredResult> {
    // A next-edit prediction is not a review (it is measured as the predictor's own request).
    const feature = request.engine === 'nextEdit' ? undefined : 'review';
    return this.measure(feature, options, () => this.inner.generateStructured(request, options));
  }
  countTokens(text: string): Promise<number> {
    return this.inner.countTokens(text);
  }
  async embed(request: EmbedRequest, options?: RequestOptions): Promise<EmbedResult> {
    if (!this.inner.embed) throw new EngineError('BAD_REQUEST', 'Embeddings need the local engine.');
    return this.inner.embed(request, options);
  }
  setAdapters(adapters: AdapterSpec[]): Promise<AdapterSwitchResult> {
    return this.inner.setAdapters(adapters);
  }
  metrics(): Promise<EngineMetrics> {
    return this.inner.metrics();
  }
  onState(listener: (state: EngineState) => void): () => void {
    return this.inner.onState(listener);
  }
  dispose(): Promise<void> {
    return this.inner.dispose();
  }

  private async measure<T extends GenerationResult>(
    feature: GenerationFeature | undefined,
    options: RequestOptions | undefined,
    call: () => Promise<T>,
  ): Promise<T> {
    let result: T;
    try {
      result = await call();
    } catch (err) {
      if (!options?.signal?.aborted && this.sink.enabled())
        this.sink.record({ kind: 'engine', t: this.now(), what: 'error', message: String(err), language: '', ...this.sink.dimensions() });
      throw err;
    }
    const stats = result.stats;
    if (feature && stats.stopReason !== 'abort' && this.sink.enabled())
      this.sink.record({
        kind: 'generation',
        t: this.now(),
        feature,
        tokens: stats.generatedTokens,
        ms: stats.totalMs,
        firstTokenMs: stats.timeToFirstTokenMs,
        language: '',
        ...this.sink.dimensions(),
      });
    return result;
  }
}
